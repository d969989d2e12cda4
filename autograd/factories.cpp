// Leaves made from shapes.
#include <tapegrad/autograd/factories.hpp>

#include <cmath>
#include <fmt/format.h>

namespace tapegrad {
namespace {

/// A tensor of `shape` filled with `value`, or an Error naming `op` if the shape's size wraps or
/// its bytes cannot be had (xtensor would otherwise multiply the dimensions unchecked).
template <class T>
Tensor<T> filled(const char* op, const Shape& shape, T value) {
    shape_size(shape, op);
    return naming_allocation_failures(op, [&] { return Tensor<T>(shape, value); });
}

template <class T>
Tensor<T> uninitialised(const char* op, const Shape& shape) {
    shape_size(shape, op);
    return naming_allocation_failures(op, [&] { return Tensor<T>::from_shape(shape); });
}

}  // namespace

template <class T>
Variable<T> zeros(const Shape& shape, bool requires_grad) {
    return Variable<T>(filled("zeros", shape, T(0)), requires_grad);
}
template <class T>
Variable<T> ones(const Shape& shape, bool requires_grad) {
    return Variable<T>(filled("ones", shape, T(1)), requires_grad);
}
template <class T>
Variable<T> full(const Shape& shape, T value, bool requires_grad) {
    return Variable<T>(filled("full", shape, value), requires_grad);
}

template <class T>
Variable<T> arange(T start, T stop, T step, bool requires_grad) {
    if (step == T(0) || !std::isfinite(step) || !std::isfinite(start) || !std::isfinite(stop))
        throw Error(
            fmt::format("arange: need finite start, stop and a non-zero step, got ({}, {}, {})", start, stop, step));
    const double count = std::ceil((double(stop) - double(start)) / double(step));
    if (count > 1e10) throw Error(fmt::format("arange: {} elements is too many", count));
    const std::size_t n = count > 0 ? std::size_t(count) : 0;
    Tensor<T> t = uninitialised<T>("arange", {n});
    for (std::size_t i = 0; i < n; ++i) t.data()[i] = T(double(start) + double(i) * double(step));
    return Variable<T>(std::move(t), requires_grad);
}

template <class T>
Variable<T> rand(const Shape& shape, Generator& gen, bool requires_grad) {
    Tensor<T> t = uninitialised<T>("rand", shape);
    for (auto& v : t) v = T(gen.uniform());
    return Variable<T>(std::move(t), requires_grad);
}

template <class T>
Variable<T> randn(const Shape& shape, Generator& gen, bool requires_grad) {
    Tensor<T> t = uninitialised<T>("randn", shape);
    for (auto& v : t) v = T(gen.normal());
    return Variable<T>(std::move(t), requires_grad);
}

#define TAPEGRAD_INSTANTIATE(T)                                \
    template Variable<T> zeros(const Shape&, bool);            \
    template Variable<T> ones(const Shape&, bool);             \
    template Variable<T> full(const Shape&, T, bool);          \
    template Variable<T> arange(T, T, T, bool);                \
    template Variable<T> rand(const Shape&, Generator&, bool); \
    template Variable<T> randn(const Shape&, Generator&, bool);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad
