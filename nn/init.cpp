// nn::init: the fill functions and the gain and fan computations they rest on.
#include <tapegrad/nn/init.hpp>

#include <cmath>
#include <fmt/format.h>

namespace tapegrad::nn::init {
namespace {

template <class T, class F>
void fill(const char* fn, const Variable<T>& w, F draw) {
    if (!w.defined()) throw Error(fmt::format("init::{}: the Variable is empty", fn));
    if (!w.is_leaf())
        throw Error(
            fmt::format("init::{}: only a leaf (a parameter) can be filled, not the output of '{}'", fn, w.op_name()));
    Tensor<T>& v = Variable<T>(w).mutable_value();
    T* p = v.data();
    for (std::size_t i = 0; i < v.size(); ++i) p[i] = T(draw());
}

Fans fans_for(const char* fn, const Shape& shape) {
    if (shape.size() < 2)
        throw Error(fmt::format("init::{}: fan_in and fan_out need a weight of at least 2 dimensions, got {}", fn,
                                shape_string(shape)));
    const Fans f = calculate_fans(shape);
    if (f.fan_in == 0 || f.fan_out == 0)
        throw Error(fmt::format("init::{}: weight {} has a zero fan_in or fan_out", fn, shape_string(shape)));
    return f;
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, double param) {
    switch (nonlinearity) {
        case Nonlinearity::linear:
        case Nonlinearity::conv:
        case Nonlinearity::sigmoid:
            return 1.0;
        case Nonlinearity::tanh:
            return 5.0 / 3.0;
        case Nonlinearity::relu:
            return std::sqrt(2.0);
        case Nonlinearity::leaky_relu:
            return std::sqrt(2.0 / (1.0 + param * param));
        case Nonlinearity::selu:
            return 0.75;
    }
    throw Error("init::calculate_gain: unknown nonlinearity");
}

Fans calculate_fans(const Shape& shape) {
    if (shape.size() < 2) return {0, 0};
    std::size_t receptive = 1;
    for (std::size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
    return {shape[1] * receptive, shape[0] * receptive};
}

template <class T>
void uniform(const Variable<T>& w, double lo, double hi, Generator& gen) {
    if (!(lo <= hi) || !std::isfinite(lo) || !std::isfinite(hi))
        throw Error(fmt::format("init::uniform: need finite lo <= hi, got lo={} and hi={}", lo, hi));
    fill("uniform", w, [&] { return gen.uniform(lo, hi); });
}

template <class T>
void normal(const Variable<T>& w, double mean, double stddev, Generator& gen) {
    if (!(stddev >= 0) || !std::isfinite(stddev) || !std::isfinite(mean))
        throw Error(
            fmt::format("init::normal: need a finite mean and stddev >= 0, got mean={} and stddev={}", mean, stddev));
    fill("normal", w, [&] { return gen.normal(mean, stddev); });
}

template <class T>
void constant(const Variable<T>& w, double value) {
    fill("constant", w, [&] { return value; });
}

template <class T>
void xavier_uniform(const Variable<T>& w, double gain, Generator& gen) {
    const Fans f = fans_for("xavier_uniform", w.shape());
    const double bound = gain * std::sqrt(6.0 / double(f.fan_in + f.fan_out));
    fill("xavier_uniform", w, [&] { return gen.uniform(-bound, bound); });
}

template <class T>
void xavier_normal(const Variable<T>& w, double gain, Generator& gen) {
    const Fans f = fans_for("xavier_normal", w.shape());
    const double stddev = gain * std::sqrt(2.0 / double(f.fan_in + f.fan_out));
    fill("xavier_normal", w, [&] { return gen.normal(0.0, stddev); });
}

template <class T>
void kaiming_uniform(const Variable<T>& w, double a, FanMode mode, Nonlinearity nonlinearity, Generator& gen) {
    const Fans f = fans_for("kaiming_uniform", w.shape());
    const double fan = double(mode == FanMode::fan_in ? f.fan_in : f.fan_out);
    const double bound = calculate_gain(nonlinearity, a) * std::sqrt(3.0 / fan);
    fill("kaiming_uniform", w, [&] { return gen.uniform(-bound, bound); });
}

template <class T>
void kaiming_normal(const Variable<T>& w, double a, FanMode mode, Nonlinearity nonlinearity, Generator& gen) {
    const Fans f = fans_for("kaiming_normal", w.shape());
    const double fan = double(mode == FanMode::fan_in ? f.fan_in : f.fan_out);
    const double stddev = calculate_gain(nonlinearity, a) / std::sqrt(fan);
    fill("kaiming_normal", w, [&] { return gen.normal(0.0, stddev); });
}

#define TAPEGRAD_INSTANTIATE(T)                                                                   \
    template void uniform(const Variable<T>&, double, double, Generator&);                        \
    template void normal(const Variable<T>&, double, double, Generator&);                         \
    template void constant(const Variable<T>&, double);                                           \
    template void xavier_uniform(const Variable<T>&, double, Generator&);                         \
    template void xavier_normal(const Variable<T>&, double, Generator&);                          \
    template void kaiming_uniform(const Variable<T>&, double, FanMode, Nonlinearity, Generator&); \
    template void kaiming_normal(const Variable<T>&, double, FanMode, Nonlinearity, Generator&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::nn::init
