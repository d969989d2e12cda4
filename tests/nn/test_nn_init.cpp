// Tests of nn::init and the default initialisation: gains, fans, bounds, statistics, reproducibility, errors.
#include <cmath>

#include "helpers.hpp"

using namespace tgtest;
namespace nn = tapegrad::nn;
namespace init = tapegrad::nn::init;

namespace {

struct Stats {
    double mean, stddev, min, max;
};
template <class T>
Stats stats(const tg::Variable<T>& v) {
    double s = 0, s2 = 0, lo = INFINITY, hi = -INFINITY;
    for (T x : v.value()) {
        s += x;
        s2 += double(x) * x;
        lo = std::min(lo, double(x));
        hi = std::max(hi, double(x));
    }
    const double n = double(v.size()), m = s / n;
    return {m, std::sqrt(s2 / n - m * m), lo, hi};
}

template <class T>
bool bit_identical(const tg::Tensor<T>& a, const tg::Tensor<T>& b) {
    return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace

TEST_CASE("gains and fans") {
    CHECK(init::calculate_gain(init::Nonlinearity::linear) == 1.0);
    CHECK(init::calculate_gain(init::Nonlinearity::sigmoid) == 1.0);
    CHECK(init::calculate_gain(init::Nonlinearity::tanh) == doctest::Approx(5.0 / 3));
    CHECK(init::calculate_gain(init::Nonlinearity::relu) == doctest::Approx(std::sqrt(2.0)));
    CHECK(init::calculate_gain(init::Nonlinearity::leaky_relu, std::sqrt(5.0)) == doctest::Approx(std::sqrt(1.0 / 3)));
    CHECK(init::calculate_gain(init::Nonlinearity::selu) == 0.75);
    const auto f = init::calculate_fans({8, 3, 5, 5});
    CHECK(f.fan_in == 75);
    CHECK(f.fan_out == 200);
    CHECK(init::calculate_fans({10, 4}).fan_in == 4);
}

TEST_CASE("default Linear and Conv2d init match PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in))") {
    tg::manual_seed(1);
    nn::Linear<float> lin(400, 300);
    const double b = 1 / std::sqrt(400.0);
    auto w = stats(lin.weight());
    CHECK(w.min >= -b);
    CHECK(w.max <= b);
    CHECK(w.max > 0.99 * b);
    CHECK(w.stddev == doctest::Approx(b / std::sqrt(3.0)).epsilon(0.01));
    auto bias = stats(lin.bias());
    CHECK(bias.min >= -b);
    CHECK(bias.max <= b);
    nn::Conv2d<double> conv(6, 16, 5, tg::Conv2dOptions().groups(2));
    const double bc = 1 / std::sqrt(3.0 * 25);
    auto wc = stats(conv.weight());
    CHECK(wc.min >= -bc);
    CHECK(wc.max <= bc);
    CHECK(wc.max > 0.95 * bc);
    CHECK(stats(conv.bias()).max <= bc);
}

TEST_CASE("the same seed gives bit-identical weights") {
    auto make = [] {
        return nn::Sequential<float>{nn::Conv2d<float>(1, 4, 3), nn::ReLU{}, nn::Flatten{}, nn::Linear<float>(36, 10)};
    };
    tg::manual_seed(123);
    auto a = make();
    tg::manual_seed(123);
    auto b = make();
    tg::manual_seed(124);
    auto c = make();
    for (std::size_t i = 0; i < a.parameters().size(); ++i) {
        CHECK(bit_identical(a.parameters()[i].value(), b.parameters()[i].value()));
        CHECK(!bit_identical(a.parameters()[i].value(), c.parameters()[i].value()));
    }
    // an explicit generator leaves the default one alone
    tg::Generator gen(5);
    nn::Linear<double> l1(3, 3, true, gen);
    tg::Generator gen2(5);
    nn::Linear<double> l2(3, 3, true, gen2);
    CHECK(bit_identical(l1.weight().value(), l2.weight().value()));
}

TEST_CASE("the init schemes: bounds and statistics") {
    tg::manual_seed(7);
    auto w = tg::zeros<double>({200, 300});
    init::uniform(w, -2.0, 3.0);
    auto s = stats(w);
    CHECK(s.min >= -2.0);
    CHECK(s.max < 3.0);
    CHECK(s.mean == doctest::Approx(0.5).epsilon(0.02));
    init::normal(w, 1.0, 2.0);
    s = stats(w);
    CHECK(s.mean == doctest::Approx(1.0).epsilon(0.02));
    CHECK(s.stddev == doctest::Approx(2.0).epsilon(0.02));
    init::constant(w, 0.25);
    CHECK(stats(w).min == 0.25);
    CHECK(stats(w).max == 0.25);
    init::zeros(w);
    CHECK(stats(w).max == 0.0);
    init::ones(w);
    CHECK(stats(w).min == 1.0);

    const double fan_in = 300, fan_out = 200;
    init::xavier_uniform(w, 2.0);
    const double xb = 2.0 * std::sqrt(6.0 / (fan_in + fan_out));
    s = stats(w);
    CHECK(s.max <= xb);
    CHECK(s.max > 0.99 * xb);
    init::glorot_normal(w);
    CHECK(stats(w).stddev == doctest::Approx(std::sqrt(2.0 / (fan_in + fan_out))).epsilon(0.02));
    init::kaiming_uniform(w, 0.0, init::FanMode::fan_in, init::Nonlinearity::relu);
    const double kb = std::sqrt(2.0) * std::sqrt(3.0 / fan_in);
    s = stats(w);
    CHECK(s.max <= kb);
    CHECK(s.max > 0.99 * kb);
    init::he_normal(w, 0.0, init::FanMode::fan_out, init::Nonlinearity::relu);
    CHECK(stats(w).stddev == doctest::Approx(std::sqrt(2.0 / fan_out)).epsilon(0.02));
    init::kaiming_normal(w);  // leaky_relu with a = 0: sqrt(2 / fan_in)
    CHECK(stats(w).stddev == doctest::Approx(std::sqrt(2.0 / fan_in)).epsilon(0.02));
    init::xavier_normal(w);
    init::glorot_uniform(w);
    init::he_uniform(w);
    CHECK(stats(w).max <= std::sqrt(6.0 / fan_in));

    // a Variable is a handle: filling the layer's weight changes the layer
    nn::Linear<double> lin(2, 2);
    init::constant(lin.weight(), 3.0);
    CHECK(lin.parameters()[0].value()(1, 1) == 3.0);
}

TEST_CASE("init errors") {
    auto v = tg::zeros<double>({3});
    check_error([&] { init::xavier_uniform(v); },
                "init::xavier_uniform: fan_in and fan_out need a weight of at least 2 dimensions, got (3,)");
    check_error([&] { init::kaiming_normal(v); }, "init::kaiming_normal: fan_in and fan_out need a weight");
    check_error(
        [&] {
            init::kaiming_uniform(tg::zeros<double>({0, 3}));
        },
        "init::kaiming_uniform: weight (0,3) has a zero fan_in or fan_out");
    check_error([&] { init::uniform(v, 1.0, 0.0); }, "init::uniform: need finite lo <= hi, got lo=1 and hi=0");
    check_error([&] { init::normal(v, 0.0, -1.0); }, "init::normal: need a finite mean and stddev >= 0");
    check_error([&] { init::constant(tg::zeros<double>({2}, true) * 2.0, 1.0); },
                "init::constant: only a leaf (a parameter) can be filled, not the output of 'mul_scalar'");
    check_error([&] { init::constant(tg::Variable<double>(), 1.0); }, "init::constant: the Variable is empty");
}
