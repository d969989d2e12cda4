// broadcast_to and sum_to: each other's VJP, which is what makes broadcasting differentiable twice.
#pragma once

#include <tapegrad/autograd/kernels/broadcast.hpp>
#include <tapegrad/autograd/op.hpp>
#include <tapegrad/autograd/vjp.hpp>

namespace tapegrad {

template <class T>
struct SumTo;

/// The op behind broadcast_to(); its formula line states y and the VJP.
template <class T>
struct BroadcastTo {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "broadcast_to";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula = "y = x repeated to a larger shape   dx = sum_to(g, x.shape)";
    Shape shape;
    Tensor<T> forward(const Tensor<T>& x) const {
        if (!kernels::broadcasts_to(x.shape(), shape))
            throw Error(detail::message("broadcast_to: shape ", shape_string(x.shape()), " does not broadcast to ",
                                        shape_string(shape)));
        shape_size(shape, name);
        return kernels::broadcast_to(x, shape);
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(SumTo<T>{a.x(0).shape()}, a.g);
    }
    ///@}
};

/// The op behind sum_to(); its formula line states y and the VJP.
template <class T>
struct SumTo {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "sum_to";
    static constexpr const char* formula = "y = x summed down to a smaller shape   dx = broadcast_to(g, x.shape)";
    Shape shape;
    Tensor<T> forward(const Tensor<T>& x) const {
        if (!kernels::broadcasts_to(shape, x.shape()))
            throw Error(detail::message("sum_to: shape ", shape_string(shape),
                                        " does not broadcast to the input's shape ", shape_string(x.shape())));
        shape_size(shape, name);  // (0, 2^32, 2^32) summed to (2^32, 2^32)
        return kernels::sum_to(x, shape);
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(BroadcastTo<T>{a.x(0).shape()}, a.g);
    }
    ///@}
};

/// x repeated along its size-1 (or missing leading) dimensions to `shape`.
template <class T>
Variable<T> broadcast_to(const Variable<T>& x, const Shape& shape) {
    return shape_equal(x.shape(), shape) ? x : apply(BroadcastTo<T>{shape}, x);
}
/// The sum of x down to `shape`, where `shape` broadcasts to x's shape (the gradient of
/// broadcast_to, and of every broadcasting op).
template <class T>
Variable<T> sum_to(const Variable<T>& x, const Shape& shape) {
    return shape_equal(x.shape(), shape) ? x : apply(SumTo<T>{shape}, x);
}

namespace vjp {
/// The gradient g (a G, or an xtensor expression on the plain path) summed down to `shape`: how
/// every broadcasting op's VJP hands back a gradient of its input's shape. A tensor passed as an
/// rvalue is summed in place and handed back itself (a move costs about as much as a tiny op's
/// arithmetic), so use the result only as `a.dx[i] = vjp::sum_to(...)`.
template <class E>
decltype(auto) sum_to(E&& g, const Shape& shape) {
    using D = std::decay_t<E>;
    if constexpr (records<D>) {
        return tapegrad::sum_to(g, shape);
    } else if constexpr (std::is_same_v<D, Tensor<typename D::value_type>> && std::is_rvalue_reference_v<E&&>) {
        if (!shape_equal(g.shape(), shape)) g = kernels::sum_to(g, shape);
        return std::move(g);
    } else if constexpr (std::is_same_v<D, Tensor<typename D::value_type>>) {
        // a tensor that stays the caller's: summed straight from it, copied only when nothing is summed
        return shape_equal(g.shape(), shape) ? D(g) : kernels::sum_to(g, shape);
    } else {
        Tensor<typename D::value_type> t(g);
        if (!shape_equal(t.shape(), shape)) t = kernels::sum_to(t, shape);
        return t;
    }
}
}  // namespace vjp

/// The broadcast ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::broadcast> {
    using type = OpList<BroadcastTo, SumTo>;
};

}  // namespace tapegrad
