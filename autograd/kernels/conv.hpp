// Convolution kernels: the geometry of a conv2d, its forward (im2col + GEMM per image and group),
// and the products its adjoints need (input gradient: GEMM + col2im; weight gradient; bias gradient).
#pragma once

#include <cstddef>
#include <string>

#include <tapegrad/autograd/kernels/shape.hpp>
#include <tapegrad/autograd/ops/window_options.hpp>

namespace tapegrad::kernels {

/// Everything the convolution loops need, computed once from the shapes and options.
struct ConvGeom {
    size_t n, c, h, w;      // input
    size_t o, kh, kw;       // output channels, kernel
    size_t groups, cg, og;  // channels per group, in and out
    size_t sh, sw, ph, pw, dh, dw;
    size_t oh, ow;

    size_t k() const { return cg * kh * kw; }  // rows of a column buffer
    size_t p() const { return oh * ow; }       // its columns: output positions
    bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
    Shape input_shape() const { return {n, c, h, w}; }
    Shape weight_shape() const { return {o, cg, kh, kw}; }
    Shape output_shape() const { return {n, o, oh, ow}; }
    std::string describe() const;
};

/// Checks x (N, C, H, W) against weight (O, C/groups, KH, KW) and the options, and returns the
/// geometry; errors name `fn`.
ConvGeom check_conv(const char* fn, const Shape& x, const Shape& w, const Conv2dOptions& opt);

/// Checks that a gradient of conv2d's output has the output's shape, or an error naming `fn`.
void check_output_grad(const char* fn, const Shape& got, const Shape& expected);

/// y = conv(x, w) (+ b if not null); with `relu`, y = max(y, 0) as relu() computes it, in the same pass.
template <class T>
Tensor<T> conv_forward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, const ConvGeom& g,
                       bool relu = false);
/// dW: the convolution's gradient with respect to its weight, from x and dL/dy.
template <class T>
Tensor<T> conv_weight_grad(const Tensor<T>& x, const Tensor<T>& gy, const ConvGeom& g);
/// dx: the convolution's gradient with respect to its input, from dL/dy and the weight.
template <class T>
Tensor<T> conv_input_grad(const Tensor<T>& gy, const Tensor<T>& w, const ConvGeom& g);
/// db: the convolution's gradient with respect to its bias (dL/dy summed over images and positions).
template <class T>
Tensor<T> conv_bias_grad(const Tensor<T>& gy, const ConvGeom& g);
/// The gradients a plain backward wants, in one call: dx, dW and db where the pointer is not null. On oneDNN
/// dL/dy is reordered once for both products and db comes out of the weight gradient's pass.
template <class T>
void conv_backward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& gy, const ConvGeom& g, Tensor<T>* dx,
                   Tensor<T>* dw, Tensor<T>* db);

/// conv_backward for y = relu(conv(x, w) + b), from y and dL/dy: gy is overwritten with dL/d(conv) (0 where
/// y <= 0, relu's VJP), image by image while the weight gradient's GEMM has it in cache where it can.
template <class T>
void conv_relu_backward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& y, Tensor<T>& gy, const ConvGeom& g,
                        Tensor<T>* dx, Tensor<T>* dw, Tensor<T>* db);

}  // namespace tapegrad::kernels
