// Leaves made from shapes: zeros, ones, full, arange, rand, randn.
#pragma once

#include <tapegrad/autograd/random.hpp>
#include <tapegrad/autograd/variable.hpp>

namespace tapegrad {

template <class T = double>
Variable<T> zeros(const Shape& shape, bool requires_grad = false);
template <class T = double>
Variable<T> ones(const Shape& shape, bool requires_grad = false);
template <class T = double>
Variable<T> full(const Shape& shape, T value, bool requires_grad = false);
/// start, start + step, ... up to (not including) stop, as a 1-D value.
template <class T = double>
Variable<T> arange(T start, T stop, T step = T(1), bool requires_grad = false);
/// Uniform in [0, 1).
template <class T = double>
Variable<T> rand(const Shape& shape, Generator& gen = default_generator(), bool requires_grad = false);
/// Standard normal.
template <class T = double>
Variable<T> randn(const Shape& shape, Generator& gen = default_generator(), bool requires_grad = false);

template <class T>
Variable<T> zeros_like(const Variable<T>& x) {
    return zeros<T>(x.shape());
}
template <class T>
Variable<T> ones_like(const Variable<T>& x) {
    return ones<T>(x.shape());
}

}  // namespace tapegrad
