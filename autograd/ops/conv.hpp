// conv2d (im2col + GEMM) and its two adjoints, each the others' VJP, so conv2d has derivatives of every order.
//
//   conv2d             -> conv2d_input_grad (dx), conv2d_weight_grad (dW), sum (db)
//   conv2d_input_grad  -> conv2d (dg), conv2d_weight_grad (dW)
//   conv2d_weight_grad -> conv2d_input_grad (dx), conv2d (dg)
//   conv2d_relu        -> relu's mask on g, then as conv2d (one node for relu(conv2d(...)), as nn::Sequential runs it)
#pragma once

#include <tapegrad/autograd/kernels/conv.hpp>
#include <tapegrad/autograd/ops/reduce.hpp>
#include <tapegrad/autograd/ops/window_options.hpp>

namespace tapegrad {

template <class T>
struct Conv2dInputGrad;
template <class T>
struct Conv2dWeightGrad;

/// The op behind conv2d(); its formula line states y and the VJP.
template <class T>
struct Conv2d {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "conv2d";
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula =
        "y = conv2d(x, W) (+ b)   dx = conv2d_input_grad(g, W), dW = conv2d_weight_grad(x, g), db = sum(g)";
    kernels::ConvGeom geom;
    bool has_bias = false;
    Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& w) {
        return kernels::conv_forward(x, w, (const Tensor<T>*)nullptr, geom);
    }
    Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b) {
        has_bias = true;
        return kernels::conv_forward(x, w, &b, geom);
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if constexpr (!vjp::records<G>) {  // plain backward: one kernel call for every wanted gradient
            Tensor<T> dx, dw, db;
            kernels::conv_backward(a.x(0), a.x(1), a.g, geom, a.want(0) ? &dx : nullptr, a.want(1) ? &dw : nullptr,
                                   has_bias && a.want(2) ? &db : nullptr);
            if (a.want(0)) a.dx[0] = std::move(dx);
            if (a.want(1)) a.dx[1] = std::move(dw);
            if (has_bias && a.want(2)) a.dx[2] = std::move(db);
        } else {  // create_graph: the same gradients as ops, so that they can be differentiated again
            if (a.want(0)) a.dx[0] = vjp::apply(Conv2dInputGrad<T>{geom}, a.g, a.x(1));
            if (a.want(1)) a.dx[1] = vjp::apply(Conv2dWeightGrad<T>{geom}, a.x(0), a.g);
            if (has_bias && a.want(2))
                a.dx[2] = vjp::apply(Sum<T>{Reduction::make(a.g.shape(), {0, 2, 3}, false)}, a.g);
        }
    }
    std::string describe() const { return geom.describe(); }
    ///@}
};

/// The op behind conv2d_relu(): relu(conv2d(x, W) (+ b)) as one node. Its forward rectifies each image's
/// output while it is in cache; its plain backward masks g in place and makes one kernel call; under
/// create_graph it records relu's VJP and conv2d's separate ops, so second derivatives flow as through
/// relu(conv2d(...)).
template <class T>
struct Conv2dRelu {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "conv2d_relu";
    static constexpr const char* formula =
        "y = relu(conv2d(x, W) (+ b))   h = g [not y <= 0], then dx, dW, db as conv2d's with h";
    kernels::ConvGeom geom;
    bool has_bias = false;
    Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& w) {
        return kernels::conv_forward(x, w, (const Tensor<T>*)nullptr, geom, true);
    }
    Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b) {
        has_bias = true;
        return kernels::conv_forward(x, w, &b, geom, true);
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if constexpr (!vjp::records<G>) {  // plain backward: g is ours to overwrite with relu's VJP
            Tensor<T> g = std::move(a.g), dx, dw, db;
            kernels::conv_relu_backward(a.x(0), a.x(1), a.y, g, geom, a.want(0) ? &dx : nullptr,
                                        a.want(1) ? &dw : nullptr, has_bias && a.want(2) ? &db : nullptr);
            if (a.want(0)) a.dx[0] = std::move(dx);
            if (a.want(1)) a.dx[1] = std::move(dw);
            if (has_bias && a.want(2)) a.dx[2] = std::move(db);
        } else {  // create_graph: relu's VJP (as Relu records it), then conv2d's adjoints as ops
            const G h = vjp::scaled(a.g, vjp::value(a.y), [](T y) { return T(!(y <= 0)); });
            if (a.want(0)) a.dx[0] = vjp::apply(Conv2dInputGrad<T>{geom}, h, a.x(1));
            if (a.want(1)) a.dx[1] = vjp::apply(Conv2dWeightGrad<T>{geom}, a.x(0), h);
            if (has_bias && a.want(2)) a.dx[2] = vjp::apply(Sum<T>{Reduction::make(h.shape(), {0, 2, 3}, false)}, h);
        }
    }
    std::string describe() const { return geom.describe(); }
    ///@}
};

/// The op behind conv2d_input_grad(); its formula line states y and the VJP.
template <class T>
struct Conv2dInputGrad {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "conv2d_input_grad";
    static constexpr const char* formula =
        "y = conv2d_input_grad(g, W) (linear in each)   dg = conv2d(h, W), dW = conv2d_weight_grad(h, g)";
    kernels::ConvGeom geom;
    Tensor<T> forward(const Tensor<T>& g, const Tensor<T>& w) const { return kernels::conv_input_grad(g, w, geom); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(0)) a.dx[0] = vjp::apply(Conv2d<T>{geom}, a.g, a.x(1));
        if (a.want(1)) a.dx[1] = vjp::apply(Conv2dWeightGrad<T>{geom}, a.g, a.x(0));
    }
    std::string describe() const { return geom.describe(); }
    ///@}
};

/// The op behind conv2d_weight_grad(); its formula line states y and the VJP.
template <class T>
struct Conv2dWeightGrad {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "conv2d_weight_grad";
    static constexpr const char* formula =
        "y = conv2d_weight_grad(x, g) (linear in each)   dx = conv2d_input_grad(g, h), dg = conv2d(x, h)";
    kernels::ConvGeom geom;
    Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& g) const { return kernels::conv_weight_grad(x, g, geom); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(0)) a.dx[0] = vjp::apply(Conv2dInputGrad<T>{geom}, a.x(1), a.g);
        if (a.want(1)) a.dx[1] = vjp::apply(Conv2d<T>{geom}, a.x(0), a.g);
    }
    std::string describe() const { return geom.describe(); }
    ///@}
};

/// 2-D cross-correlation (what deep learning calls convolution) of x (N, C, H, W) with
/// weight (O, C/groups, KH, KW), plus bias (O,) if given: output (N, O, OH, OW) with
/// OH = (H + 2 padding - dilation (KH - 1) - 1) / stride + 1, likewise OW.
template <class T>
Variable<T> conv2d(const Variable<T>& x, const Variable<T>& weight, const Conv2dOptions& options = {}) {
    return apply(Conv2d<T>{kernels::check_conv("conv2d", x.shape(), weight.shape(), options)}, x, weight);
}
template <class T>
Variable<T> conv2d(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias,
                   const Conv2dOptions& options = {}) {
    const kernels::ConvGeom g = kernels::check_conv("conv2d", x.shape(), weight.shape(), options);
    if (bias.dim() != 1 || bias.shape()[0] != g.o)
        throw Error(detail::message("conv2d: bias of shape ", shape_string(bias.shape()), " does not match weight ",
                                    shape_string(weight.shape()), ": expected (", g.o, ",)"));
    return apply(Conv2d<T>{g}, x, weight, bias);
}

/// relu(conv2d(x, weight) (+ bias)) as one op: the same values and gradients (of every order) as the two
/// ops, with one pass less over the output in the forward and in a plain backward. nn::Sequential runs a
/// Conv2d followed by a ReLU this way.
template <class T>
Variable<T> conv2d_relu(const Variable<T>& x, const Variable<T>& weight, const Conv2dOptions& options = {}) {
    return apply(Conv2dRelu<T>{kernels::check_conv("conv2d_relu", x.shape(), weight.shape(), options)}, x, weight);
}
/// relu(conv2d(x, weight, bias)) as one op (see the overload without bias).
template <class T>
Variable<T> conv2d_relu(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias,
                        const Conv2dOptions& options = {}) {
    const kernels::ConvGeom g = kernels::check_conv("conv2d_relu", x.shape(), weight.shape(), options);
    if (bias.dim() != 1 || bias.shape()[0] != g.o)
        throw Error(detail::message("conv2d_relu: bias of shape ", shape_string(bias.shape()),
                                    " does not match weight ", shape_string(weight.shape()), ": expected (", g.o,
                                    ",)"));
    return apply(Conv2dRelu<T>{g}, x, weight, bias);
}

/// The adjoints of conv2d with respect to its input and its weight: g has conv2d's output
/// shape; input_shape and weight_shape are those of x and the weight.
template <class T>
Variable<T> conv2d_input_grad(const Variable<T>& g, const Variable<T>& weight, const Shape& input_shape,
                              const Conv2dOptions& options) {
    const kernels::ConvGeom geom = kernels::check_conv("conv2d_input_grad", input_shape, weight.shape(), options);
    kernels::check_output_grad("conv2d_input_grad", g.shape(), geom.output_shape());
    return apply(Conv2dInputGrad<T>{geom}, g, weight);
}
template <class T>
Variable<T> conv2d_weight_grad(const Variable<T>& x, const Variable<T>& g, const Shape& weight_shape,
                               const Conv2dOptions& options) {
    const kernels::ConvGeom geom = kernels::check_conv("conv2d_weight_grad", x.shape(), weight_shape, options);
    kernels::check_output_grad("conv2d_weight_grad", g.shape(), geom.output_shape());
    return apply(Conv2dWeightGrad<T>{geom}, x, g);
}

/// The conv ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::conv> {
    using type = OpList<Conv2d, Conv2dRelu, Conv2dInputGrad, Conv2dWeightGrad>;
};

}  // namespace tapegrad
