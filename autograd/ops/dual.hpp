// One name for each helper a VJP needs, for both gradient types, so that every VJP formula
// is written once: with Tensor<T> it computes (nothing recorded), with Variable<T> it records.
#pragma once

#include <type_traits>

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include <tapegrad/autograd/kernels/math.hpp>
#include <tapegrad/autograd/ops/broadcast.hpp>
#include <tapegrad/autograd/ops/elementwise.hpp>
#include <tapegrad/autograd/ops/kernels.hpp>
#include <tapegrad/autograd/ops/shape.hpp>

namespace tapegrad {

template <class G>
inline constexpr bool is_variable_v = false;
template <class T>
inline constexpr bool is_variable_v<Variable<T>> = true;

template <class T>
const Tensor<T>& value_of(const Tensor<T>& t) { return t; }
template <class T>
const Tensor<T>& value_of(const Variable<T>& v) { return v.value(); }

/// A tensor computed from values, as the gradient type G: itself, or a constant.
template <class G, class T>
auto lift(Tensor<T>&& t) {
    if constexpr (is_variable_v<G>)
        return Variable<T>(std::move(t));
    else
        return std::move(t);
}

/// An elementwise formula written once as a generic lambda: on Variables it records, and in a
/// plain backward it runs over scalars in one fused loop (the fast path every hot VJP takes).
/// Math functions inside the lambda need `using std::exp;` etc. so that scalars find them.
template <class G, class F, class... Args>
G pointwise(F f, const G& first, const Args&... rest) {
    if constexpr (is_variable_v<G>)
        return f(first, rest...);
    else
        return kernels::zip(f, first, rest...);
}

/// Evaluates an xtensor expression into a Tensor.
template <class E>
Tensor<typename E::value_type> to_tensor(const xt::xexpression<E>& e) {
    return Tensor<typename E::value_type>(e);
}

/// mask ? a : b for the gradient type G (a and b: G, expressions or scalars). A distinct
/// name, because xt::where would otherwise be found for Variables too.
template <class G, class A, class B>
auto choose(const Mask& mask, const A& a, const B& b) {
    if constexpr (is_variable_v<G>)
        return tapegrad::where(mask, a, b);
    else
        return Tensor<typename G::value_type>(xt::where(mask, a, b));
}

template <class S1, class S2>
bool shapes_equal(const S1& a, const S2& b) {
    return shape_equal(a, b);
}

/// sum_to for an unevaluated expression: evaluate, then sum down if it was broadcast.
template <class E>
Tensor<typename E::value_type> sum_to(const xt::xexpression<E>& e, const Shape& shape) {
    using T = typename E::value_type;
    if (shapes_equal(e.derived_cast().shape(), shape)) return Tensor<T>(e);
    return kernels::sum_to(Tensor<T>(e), shape);
}
/// sum_to for a Tensor that may be moved from. It hands back its own argument (summed down in
/// place if need be) so that `a.dx[i] = sum_to(expr, shape)` moves the tensor once, not twice (a
/// move costs about as much as a tiny op's arithmetic). Use it only like that: the result refers
/// to the argument, which dies at the end of the statement.
template <class T>
Tensor<T>&& sum_to(Tensor<T>&& t, const Shape& shape) {
    if (!shape_equal(t.shape(), shape)) t = kernels::sum_to(t, shape);
    return std::move(t);
}

/// broadcast_to for a Tensor.
template <class T>
Tensor<T> broadcast_to(const Tensor<T>& t, const Shape& shape) {
    return kernels::broadcast_to(t, shape);
}

/// Stable logistic function of an expression.
template <class E>
Tensor<typename E::value_type> sigmoid(const xt::xexpression<E>& e) {
    using T = typename E::value_type;
    Tensor<T> x(e);
    return kernels::map(x, [](T v) {
        const T z = std::exp(-std::abs(v));
        return v >= 0 ? T(1) / (T(1) + z) : z / (T(1) + z);
    });
}

/// Shape changes for either gradient type, called qualified (dual::reshape(...)) so that
/// xtensor's functions of the same name are never candidates.
namespace dual {

template <class T>
Tensor<T> reshape(Tensor<T>&& t, const Shape& shape) {
    t.reshape(shape);
    return std::move(t);
}
template <class T>
Tensor<T> reshape(const Tensor<T>& t, const Shape& shape) {
    Tensor<T> r(t);
    r.reshape(shape);
    return r;
}
template <class T>
Variable<T> reshape(const Variable<T>& v, const Shape& shape) {
    return tapegrad::reshape(v, shape);
}

// Math for either gradient type: on Tensors (and unevaluated expressions) through kernels/math.hpp,
// never xt::exp/xt::log/xt::pow (xsimd's, wrong at the edges); on Variables the recording ops.
template <class T>
Tensor<T> exp(const Tensor<T>& t) { return kernels::exp(t); }
template <class E>
auto exp(const xt::xexpression<E>& e) { return kernels::exp(to_tensor(e)); }
template <class T>
Variable<T> exp(const Variable<T>& v) { return tapegrad::exp(v); }

template <class T>
Tensor<T> log(const Tensor<T>& t) { return kernels::log(t); }
template <class E>
auto log(const xt::xexpression<E>& e) { return kernels::log(to_tensor(e)); }
template <class T>
Variable<T> log(const Variable<T>& v) { return tapegrad::log(v); }

template <class T>
Tensor<T> pow(const Tensor<T>& a, const Tensor<T>& b) { return kernels::pow(a, b); }
template <class T, class E>
Tensor<T> pow(const Tensor<T>& a, const xt::xexpression<E>& b) { return kernels::pow(a, to_tensor(b)); }
template <class T>
Tensor<T> pow(const Tensor<T>& a, T p) { return kernels::pow(a, p); }
template <class T>
Variable<T> pow(const Variable<T>& a, const Variable<T>& b) { return tapegrad::pow(a, b); }
template <class T>
Variable<T> pow(const Variable<T>& a, T p) { return tapegrad::pow(a, p); }

template <class T>
Tensor<T> permute(const Tensor<T>& t, const std::vector<std::size_t>& perm) {
    return kernels::permute(t, perm);
}
template <class T>
Variable<T> permute(const Variable<T>& v, const std::vector<std::size_t>& perm) {
    return tapegrad::permute(v, Axes(perm.begin(), perm.end()));
}

}  // namespace dual
}  // namespace tapegrad
