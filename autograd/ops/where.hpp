// where(mask, a, b): elementwise choice between two values, and vjp::where, the same choice inside a VJP.
#pragma once

#include <memory>

#include <xtensor/xarray.hpp>
#include <xtensor/xbroadcast.hpp>
#include <xtensor/xoperation.hpp>

#include <tapegrad/autograd/ops/broadcast.hpp>

namespace tapegrad {

/// Boolean masks for where() and masked ops.
using Mask = xt::xarray<bool>;

/// The op behind where(); its formula line states y and the VJP.
template <class T>
struct Where {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "where";
    static constexpr const char* formula = "y = mask ? a : b   da = g [mask], db = g [!mask]";
    std::shared_ptr<const Mask> mask;
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const {
        const Shape ab = kernels::broadcast_shape("where", a.shape(), b.shape());
        const Shape out = kernels::broadcast_shape("where", Shape(mask->shape().begin(), mask->shape().end()), ab);
        return xt::where(xt::broadcast(*mask, out), xt::broadcast(a, out), xt::broadcast(b, out));
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(0)) a.dx[0] = vjp::sum_to(vjp::apply(Where<T>{mask}, a.g, vjp::constant<G>(zero())), a.x(0).shape());
        if (a.want(1)) a.dx[1] = vjp::sum_to(vjp::apply(Where<T>{mask}, vjp::constant<G>(zero()), a.g), a.x(1).shape());
    }
    void release() { mask.reset(); }
    static Tensor<T> zero() { return Tensor<T>(Shape{}, T(0)); }
    ///@}
};

/// mask ? a : b elementwise; mask, a and b broadcast together.
template <class T>
Variable<T> where(const Mask& mask, const Variable<T>& a, const Variable<T>& b) {
    return apply(Where<T>{std::make_shared<const Mask>(mask)}, a, b);
}
template <class T>
Variable<T> where(const Mask& mask, const Variable<T>& a, T b) {
    return tapegrad::where(mask, a, Variable<T>(Tensor<T>(Shape{}, b)));
}
template <class T>
Variable<T> where(const Mask& mask, T a, const Variable<T>& b) {
    return tapegrad::where(mask, Variable<T>(Tensor<T>(Shape{}, a)), b);
}

namespace vjp {
/// mask ? a : b inside a VJP; a and b are gradients of type G or scalars of its element type.
template <class G, class A, class B>
G where(const Mask& mask, const A& a, const B& b) {
    using T = typename G::value_type;
    auto as_g = [](const auto& v) -> G {
        if constexpr (std::is_arithmetic_v<std::decay_t<decltype(v)>>)
            return vjp::constant<G>(Tensor<T>(Shape{}, T(v)));
        else
            return v;
    };
    return vjp::apply(Where<T>{std::make_shared<const Mask>(mask)}, as_g(a), as_g(b));
}
}  // namespace vjp

/// The where ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::where> {
    using type = OpList<Where>;
};

}  // namespace tapegrad
