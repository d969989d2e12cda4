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

/// pointwise(f, g, rest...) for a VJP that gives g up (pass it as std::move(a.g)): the result is left in g
/// and g itself is handed back, so that `a.dx[i] = vjp::pointwise_in_place(...)` moves it into the slot once.
/// On tensors, when every operand of `rest` has g's shape, it is written over g's own storage (no new
/// tensor, one stream fewer through memory); otherwise, and on Variables, it is pointwise()'s result,
/// assigned to g. The values are pointwise()'s to the bit: f is the same expression on the same scalars.
template <class F, class G, class... Rest>
std::decay_t<G>&& pointwise_in_place(F f, G&& g, const Rest&... rest) {
    static_assert(!std::is_lvalue_reference_v<G>, "vjp::pointwise_in_place overwrites g: pass std::move(a.g)");
    if constexpr (records<G>) {
        g = f(g, rest...);
    } else {
        if ((shape_equal(rest.shape(), g.shape()) && ...))
            kernels::zip_into(f, g, rest...);
        else
            g = kernels::zip(f, g, rest...);
    }
    return std::move(g);
}

/// The gradients of both inputs of a two-input pointwise op in one pass over g and `rest` (two
/// tensors): dx[0] = f0(g, rest...) written over g, dx[1] = f1(g, rest...) in a new tensor. Taken, and
/// true, only in a plain backward where both inputs want a gradient and the inputs, g and `rest` all have
/// one shape (so that nothing is summed back over broadcast dimensions); otherwise nothing is done and
/// the VJP goes its general way. f0 and f1 take scalars; their values are those of the separate
/// pointwise() calls to the bit.
template <class G, class F0, class F1, class R1, class R2>
bool both_in_one_pass(VjpArgs<G>& a, F0 f0, F1 f1, const R1& r1, const R2& r2) {
    if constexpr (records<G>) {
        return false;
    } else {
        const auto& s = a.g.shape();
        // An input of the op was compared just before: what `rest` usually is needs no second look.
        auto has_g_shape = [&](const auto& r) {
            const void* p = &r;
            return p == &a.x(0) || p == &a.x(1) || shape_equal(r.shape(), s);
        };
        if (!a.want(0) || !a.want(1) || !shape_equal(a.x(0).shape(), s) || !shape_equal(a.x(1).shape(), s) ||
            !has_g_shape(r1) || !has_g_shape(r2))
            return false;
        G* sum = a.dx.sum(1);
        if (sum && shape_equal(sum->shape(), s) && kernels::zip_pair_into_sum(f0, f1, a.g, r1, r2, *sum)) {
            a.dx.added[1] = true;  // dx[1] went into the gradient already summed for input 1
        } else {
            G second = kernels::zip_pair_into(f0, f1, a.g, r1, r2);
            a.dx[1] = std::move(second);
        }
        a.dx[0] = std::move(a.g);
        return true;
    }
}

/// In a plain backward where input i already has a gradient of g's shape summed for it: adds g into
/// that sum (the engine's own sum += g, to the bit, without the new tensor `dx[i] = g` would make) and
/// returns true. Otherwise (nothing summed yet, another shape, recording) does nothing and returns false.
template <class G>
bool add_to_sum(VjpArgs<G>& a, std::size_t i, const G& g) {
    if constexpr (records<G>) {
        return false;
    } else {
        G* sum = a.dx.sum(i);
        if (!sum || !shape_equal(sum->shape(), g.shape())) return false;
        kernels::add_into(*sum, g);
        a.dx.added[i] = true;
        return true;
    }
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
