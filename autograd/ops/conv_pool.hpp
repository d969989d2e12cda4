// conv2d_relu_max_pool2d: max_pool2d(relu(conv2d(...))) as one node, what nn::Sequential runs for a Conv2d, a ReLU
// and a MaxPool2d in a row. The node keeps the pooled values and the positions of their maxima, not the
// convolution's full-size output.
//
//   conv2d_relu_max_pool2d -> relu's mask on g (from the pooled values), pool_scatter, then as conv2d
#pragma once

#include <limits>
#include <memory>

#include <tapegrad/autograd/kernels/conv_pool.hpp>
#include <tapegrad/autograd/ops/conv.hpp>
#include <tapegrad/autograd/ops/pool.hpp>

namespace tapegrad {

/// The op behind conv2d_relu_max_pool2d(). Its plain backward masks g (pooled size) in place, adds it back
/// at the maxima and makes one convolution-backward call; under create_graph it records relu's VJP,
/// pool_scatter and conv2d's adjoints as ops, so second derivatives flow as through the three ops.
template <class T>
struct Conv2dReluMaxPool2d {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "conv2d_relu_max_pool2d";
    static constexpr const char* formula =
        "y = max_pool2d(relu(conv2d(x, W) (+ b)))   h = pool_scatter(g [not y <= 0]), then dx, dW, db as conv2d's "
        "with h";
    kernels::ConvGeom conv;
    kernels::PoolGeom pool;
    bool has_bias = false;
    PoolIndexList idx;  // the positions of the maxima in the convolution's output, noted by forward
    Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& w) { return run(x, w, nullptr); }
    Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b) {
        has_bias = true;
        return run(x, w, &b);
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if constexpr (!vjp::records<G>) {  // plain backward: g is ours to overwrite with relu's VJP
            Tensor<T> g = std::move(a.g), dx, dw, db;
            kernels::conv_relu_max_pool_backward(a.x(0), a.x(1), a.y, g, *idx, conv, a.want(0) ? &dx : nullptr,
                                                 a.want(1) ? &dw : nullptr, has_bias && a.want(2) ? &db : nullptr);
            if (a.want(0)) a.dx[0] = std::move(dx);
            if (a.want(1)) a.dx[1] = std::move(dw);
            if (has_bias && a.want(2)) a.dx[2] = std::move(db);
        } else {  // create_graph: relu's VJP at the maxima, pool_scatter, then conv2d's adjoints as ops
            const G m = vjp::scaled(a.g, vjp::value(a.y), [](T y) { return T(!(y <= 0)); });
            const G h = vjp::apply(PoolScatter<T>{idx, conv.output_shape()}, m);
            if (a.want(0)) a.dx[0] = vjp::apply(Conv2dInputGrad<T>{conv}, h, a.x(1));
            if (a.want(1)) a.dx[1] = vjp::apply(Conv2dWeightGrad<T>{conv}, a.x(0), h);
            if (has_bias && a.want(2)) a.dx[2] = vjp::apply(Sum<T>{Reduction::make(h.shape(), {0, 2, 3}, false)}, h);
        }
    }
    std::string describe() const { return conv.describe() + ", pool " + pool.describe(); }
    void release() { idx.reset(); }
    ///@}

private:
    /// The forward with or without a bias, noting the positions of the maxima.
    Tensor<T> run(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b) {
        auto positions = std::make_shared<kernels::PoolIndices>();
        Tensor<T> y = kernels::conv_relu_max_pool(x, w, b, conv, pool, *positions);
        idx = std::move(positions);
        return y;
    }
};

namespace detail {
/// The geometries of conv2d_relu_max_pool2d, checked as conv2d and max_pool2d check them.
template <class T>
Conv2dReluMaxPool2d<T> conv_relu_max_pool_op(const Shape& x, const Shape& w, const Conv2dOptions& conv,
                                             const Pool2dOptions& pool) {
    constexpr const char* fn = "conv2d_relu_max_pool2d";
    const kernels::ConvGeom cg = kernels::check_conv(fn, x, w, conv);
    const kernels::PoolGeom pg = kernels::check_pool(fn, cg.output_shape(), pool, true);
    if (shape_size(cg.output_shape(), fn) > std::numeric_limits<kernels::PoolIndex>::max())
        throw Error(detail::message(fn, ": the convolution's output ", shape_string(cg.output_shape()),
                                    " has more than 2^32 elements"));
    return Conv2dReluMaxPool2d<T>{cg, pg, false, nullptr};
}
}  // namespace detail

/// max_pool2d(relu(conv2d(x, weight)), pool) as one op: the same values and gradients (of every order) as
/// the three ops, without keeping the convolution's full-size output. nn::Sequential runs a Conv2d, a ReLU
/// and a MaxPool2d in a row this way.
template <class T>
Variable<T> conv2d_relu_max_pool2d(const Variable<T>& x, const Variable<T>& weight, const Conv2dOptions& conv,
                                   const Pool2dOptions& pool) {
    return apply(detail::conv_relu_max_pool_op<T>(x.shape(), weight.shape(), conv, pool), x, weight);
}
/// max_pool2d(relu(conv2d(x, weight, bias)), pool) as one op (see the overload without bias).
template <class T>
Variable<T> conv2d_relu_max_pool2d(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias,
                                   const Conv2dOptions& conv, const Pool2dOptions& pool) {
    Conv2dReluMaxPool2d<T> op = detail::conv_relu_max_pool_op<T>(x.shape(), weight.shape(), conv, pool);
    if (bias.dim() != 1 || bias.shape()[0] != op.conv.o)
        throw Error(detail::message("conv2d_relu_max_pool2d: bias of shape ", shape_string(bias.shape()),
                                    " does not match weight ", shape_string(weight.shape()), ": expected (", op.conv.o,
                                    ",)"));
    return apply(std::move(op), x, weight, bias);
}

/// The fused conv ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::conv_pool> {
    using type = OpList<Conv2dReluMaxPool2d>;
};

}  // namespace tapegrad
