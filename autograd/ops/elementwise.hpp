// Elementwise ops: arithmetic with NumPy broadcasting, math functions and activations.
#pragma once

#include <type_traits>

#include <tapegrad/autograd/variable.hpp>

namespace tapegrad {

/// Boolean masks for where().
using Mask = xt::xarray<bool>;

// Binary ops broadcast like NumPy: shapes are aligned from the right and each pair of
// dimensions must be equal or one of them 1.
template <class T> Variable<T> add(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> sub(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> mul(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> div(const Variable<T>& a, const Variable<T>& b);
/// a ** b elementwise, with std::pow's values at 0, +-inf and NaN. Gradients as PyTorch 1.13:
/// b a^(b-1) for a, but 0 where b == 0; y log(a) for b, but 0 where a == 0 and b >= 0 (NaN where
/// a < 0, as log(a) is).
template <class T> Variable<T> pow(const Variable<T>& a, const Variable<T>& b);
/// Elementwise larger value, NaN if either is; at ties each side gets half of the gradient, and
/// where either is NaN both get all of it (as PyTorch).
template <class T> Variable<T> maximum(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> minimum(const Variable<T>& a, const Variable<T>& b);

// With a scalar on one side.
template <class T> Variable<T> add(const Variable<T>& x, T s);
template <class T> Variable<T> mul(const Variable<T>& x, T s);
template <class T> Variable<T> div(const Variable<T>& x, T s);
/// s - x
template <class T> Variable<T> rsub(const Variable<T>& x, T s);
/// s / x
template <class T> Variable<T> rdiv(const Variable<T>& x, T s);
/// x ** p, with std::pow's values (p = 0.5 is the square root, but +0 at -0 and +inf at -inf);
/// the gradient p x^(p-1) is 0 for p = 0. Unlike PyTorch, whose pow(x, +-0.5) takes sqrt/rsqrt,
/// the value and gradient at -0 and -inf are pow's own (as for a tensor exponent).
template <class T> Variable<T> pow(const Variable<T>& x, T p);

template <class T> Variable<T> neg(const Variable<T>& x);
template <class T> Variable<T> exp(const Variable<T>& x);
template <class T> Variable<T> log(const Variable<T>& x);
template <class T> Variable<T> sqrt(const Variable<T>& x);
/// |x|; the gradient at 0 is 0.
template <class T> Variable<T> abs(const Variable<T>& x);
/// min(max(x, lo), hi); the gradient passes where lo <= x <= hi.
template <class T> Variable<T> clamp(const Variable<T>& x, T lo, T hi);
template <class T> Variable<T> erf(const Variable<T>& x);

template <class T> Variable<T> tanh(const Variable<T>& x);
/// 1 / (1 + exp(-x)), computed without overflow for any x.
template <class T> Variable<T> sigmoid(const Variable<T>& x);
/// max(x, 0); NaN stays NaN and its gradient passes (PyTorch's rule).
template <class T> Variable<T> relu(const Variable<T>& x);
template <class T> Variable<T> leaky_relu(const Variable<T>& x, T negative_slope = T(0.01));
/// x for x > 0, alpha * (exp(x) - 1) otherwise.
template <class T> Variable<T> elu(const Variable<T>& x, T alpha = T(1));
/// log(1 + exp(beta x)) / beta, computed without overflow for any x.
template <class T> Variable<T> softplus(const Variable<T>& x, T beta = T(1));
/// x * Phi(x) with the exact normal CDF (as PyTorch's default GELU).
template <class T> Variable<T> gelu(const Variable<T>& x);

/// mask ? a : b elementwise; mask, a and b broadcast together.
template <class T> Variable<T> where(const Mask& mask, const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> where(const Mask& mask, const Variable<T>& a, T b);
template <class T> Variable<T> where(const Mask& mask, T a, const Variable<T>& b);

// Operators; a scalar of any arithmetic type may stand on either side.
template <class S>
using if_scalar = std::enable_if_t<std::is_arithmetic_v<S>, int>;

template <class T> Variable<T> operator+(const Variable<T>& a, const Variable<T>& b) { return add(a, b); }
template <class T> Variable<T> operator-(const Variable<T>& a, const Variable<T>& b) { return sub(a, b); }
template <class T> Variable<T> operator*(const Variable<T>& a, const Variable<T>& b) { return mul(a, b); }
template <class T> Variable<T> operator/(const Variable<T>& a, const Variable<T>& b) { return div(a, b); }
template <class T> Variable<T> operator-(const Variable<T>& x) { return neg(x); }

template <class T, class S, if_scalar<S> = 0> Variable<T> operator+(const Variable<T>& x, S s) { return add(x, T(s)); }
template <class T, class S, if_scalar<S> = 0> Variable<T> operator+(S s, const Variable<T>& x) { return add(x, T(s)); }
template <class T, class S, if_scalar<S> = 0> Variable<T> operator-(const Variable<T>& x, S s) { return add(x, -T(s)); }
template <class T, class S, if_scalar<S> = 0> Variable<T> operator-(S s, const Variable<T>& x) { return rsub(x, T(s)); }
template <class T, class S, if_scalar<S> = 0> Variable<T> operator*(const Variable<T>& x, S s) { return mul(x, T(s)); }
template <class T, class S, if_scalar<S> = 0> Variable<T> operator*(S s, const Variable<T>& x) { return mul(x, T(s)); }
template <class T, class S, if_scalar<S> = 0> Variable<T> operator/(const Variable<T>& x, S s) { return div(x, T(s)); }
template <class T, class S, if_scalar<S> = 0> Variable<T> operator/(S s, const Variable<T>& x) { return rdiv(x, T(s)); }

}  // namespace tapegrad
