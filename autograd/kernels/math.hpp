// Vectorised math with std::'s results at the edges: the one place the ops take exp, log, pow... from.
//
// xsimd 8.1's generic math (what xt::exp, xt::pow... use under XTENSOR_USE_XSIMD) is fast but wrong
// at the edges, and only in full SIMD lanes, so a value's result depended on where it sat: 0^y was 0
// for every y, log of a subnormal was off by 33, erf(1e300) was NaN, float exp(88.5) was inf, and
// pow lost up to hundreds of ulps for large y log x. Here each function runs xsimd on the inputs it
// is known to get right and std:: on the others, and pads the tail into a full batch, so every
// element gets the same result wherever it sits.
//
// Accuracy against std:: on ordinary inputs (from a sweep over all magnitudes): exp, log, tanh,
// sqrt and pow within 2 ulp; erf within 2 ulp for float and 32 ulp (7e-15 relative) for double,
// whose xsimd kernel has an inexact leading coefficient. On special inputs (+-0, subnormals, +-inf,
// NaN, results that overflow or would be subnormal) the result is exactly std::'s.
#pragma once

#include <cstddef>

#include <tapegrad/autograd/tensor.hpp>

namespace tapegrad::kernels {

// On n values from x into y; y may be x (in place).
template <class T>
void exp_n(const T* x, T* y, std::size_t n);
template <class T>
void log_n(const T* x, T* y, std::size_t n);
template <class T>
void tanh_n(const T* x, T* y, std::size_t n);
template <class T>
void erf_n(const T* x, T* y, std::size_t n);
template <class T>
void sqrt_n(const T* x, T* y, std::size_t n);
/// y[i] = a[i] ** b[i]; y may be a or b.
template <class T>
void pow_n(const T* a, const T* b, T* y, std::size_t n);
/// y[i] = a[i] ** p; y may be a.
template <class T>
void pow_n(const T* a, T p, T* y, std::size_t n);

/// std::pow for one pair: the reference the vector kernels agree with.
template <class T>
T pow_one(T a, T b);

template <class T>
Tensor<T> exp(const Tensor<T>& x);
template <class T>
Tensor<T> log(const Tensor<T>& x);
template <class T>
Tensor<T> tanh(const Tensor<T>& x);
template <class T>
Tensor<T> erf(const Tensor<T>& x);
template <class T>
Tensor<T> sqrt(const Tensor<T>& x);
/// a ** b elementwise, a and b broadcast together (NumPy rules; `op` names the caller in errors).
template <class T>
Tensor<T> pow(const Tensor<T>& a, const Tensor<T>& b, const char* op = "pow");
/// x ** p elementwise.
template <class T>
Tensor<T> pow(const Tensor<T>& x, T p);

}  // namespace tapegrad::kernels
