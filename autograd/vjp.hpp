// The gradient-type layer: the functions a VJP is written with, each one for both gradient types.
//
// THE RULE. A VJP is written once, as a template over its gradient type G, and runs twice:
//   G = Tensor<T>    in an ordinary backward: it computes, nothing is recorded;
//   G = Variable<T>  under create_graph: it records, so its result can be differentiated again.
// So every function a VJP calls must exist for both types. These do: the functions of this
// namespace (here, and the few that name one op: vjp::sum_to and vjp::broadcast_to beside their ops
// in ops/broadcast.hpp, vjp::reshape and vjp::permute in ops/shape.hpp, vjp::where in
// ops/where.hpp), the arithmetic operators
// + - * / (on Tensors they are xtensor expressions, on Variables ops), and, through vjp::apply, every
// op: vjp::apply(Conv2dInputGrad<T>{geom}, a.g, a.x(1)) runs the op's forward on tensors and records
// the op on Variables. Math functions go through vjp::pointwise, whose lambda sees scalars on the
// plain path (use `using std::exp;` etc.) and Variables when recording. Each function has one name;
// none is an overload set.
#pragma once

#include <type_traits>
#include <utility>

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xoperation.hpp>

#include <tapegrad/autograd/kernels/elementwise.hpp>
#include <tapegrad/autograd/op.hpp>

namespace tapegrad {

namespace vjp {

/// True for Variable<T> (the VJP records), false for Tensor<T> (it computes).
template <class G>
inline constexpr bool records = false;
template <class T>
inline constexpr bool records<Variable<T>> = true;

/// The values behind a gradient of either type.
template <class G>
const auto& value(const G& g) {
    if constexpr (records<G>)
        return g.value();
    else
        return g;
}

/// A tensor computed from values, as gradient type G: the tensor itself, or a constant Variable.
template <class G, class T>
G constant(Tensor<T> t) {
    if constexpr (records<G>)
        return Variable<T>(std::move(t));
    else
        return t;
}

/// Another op inside a VJP: its forward on tensors, the recorded op on Variables.
template <class Op, class G, class... Rest>
G apply(Op op, const G& first, const Rest&... rest) {
    if constexpr (records<G>)
        return tapegrad::apply(std::move(op), first, rest...);
    else
        return op.forward(first, rest...);
}

/// f applied elementwise (operands broadcast together). On tensors, f gets scalars and runs in
/// one fused loop; on Variables it gets the Variables and records the ops it uses.
template <class F, class G, class... Rest>
G pointwise(F f, const G& first, const Rest&... rest) {
    if constexpr (records<G>)
        return f(first, rest...);
    else
        return kernels::zip(f, first, rest...);
}

/// g * f(x) elementwise, with f(x) held constant: the piecewise-constant derivatives (relu, abs,
/// clamp, leaky_relu). x has g's shape. Where f(x) is 0 the result is 0, whatever g holds.
template <class G, class T, class F>
G scaled(const G& g, const Tensor<T>& x, F f) {
    if constexpr (records<G>) {
        return g * Variable<T>(kernels::map(x, f));
    } else {
        return kernels::zip(
            [f](T gi, T xi) {
                const T s = f(xi);
                return s == T(0) ? T(0) : gi * s;
            },
            g, x);
    }
}

}  // namespace vjp
}  // namespace tapegrad
