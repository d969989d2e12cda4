// Float convolutions on oneDNN's primitives, and the two implementations side by side for tests.
// Internal (not installed): included by the library's own .cpp files and by tests.
#pragma once

#include <cstdint>
#include <string>

#include <tapegrad/autograd/kernels/conv.hpp>
#include <tapegrad/autograd/kernels/pool.hpp>

namespace tapegrad::kernels {

/// Whether conv_forward and its adjoints send a float convolution of this shape to oneDNN first. oneDNN's
/// direct kernels beat im2col + GEMM from 4 input channels per group up; a 1-channel first layer is faster
/// through im2col + sgemm (and oneDNN's backward-data kernel for 1 channel is 9x slower than im2col's).
bool onednn_preferred(const ConvGeom& g);

/// The oneDNN primitives (created once per shape, thread count and calling thread, then cached). Each
/// returns false, having written nothing, when oneDNN refuses the shape; the caller then runs im2col.
bool onednn_conv_forward(const float* x, const float* w, const float* b, float* y, const ConvGeom& g);
/// dx (overwritten) from dL/dy and the weight.
bool onednn_conv_input_grad(const float* gy, const float* w, float* dx, const ConvGeom& g);
/// dW (overwritten) from x and dL/dy.
bool onednn_conv_weight_grad(const float* x, const float* gy, float* dw, const ConvGeom& g);
/// dx, dW and db (each skipped when null; db only with dW) in one call that reorders dL/dy once when both
/// primitives want the same layout; false, having written nothing useful, when oneDNN refuses either.
bool onednn_conv_backward(const float* x, const float* w, const float* gy, float* dx, float* dw, float* db,
                          const ConvGeom& g);

/// Which implementation runs which convolutions (for build_info()).
std::string conv_info();

/// Convolutions oneDNN has run so far in the process (a test hook: which path an op took).
std::uint64_t onednn_conv_calls() noexcept;

/// The im2col + GEMM implementations, whatever the shape or precision (the reference for the oneDNN path).
/// With `relu`, each image's output rows are rectified while they are in cache (conv2d_relu).
template <class T>
Tensor<T> im2col_conv_forward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, const ConvGeom& g,
                              bool relu = false);
template <class T>
Tensor<T> im2col_conv_weight_grad(const Tensor<T>& x, const Tensor<T>& gy, const ConvGeom& g);
/// max_pool(relu(conv(x, w) (+ b))) on im2col, each image's activation rectified and pooled while in cache (pg
/// pools the convolution's output; idx gets the positions of the maxima).
template <class T>
Tensor<T> im2col_conv_relu_max_pool(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, const ConvGeom& g,
                                    const PoolGeom& pg, PoolIndices& idx);
/// dW (and db if not null) of conv_relu_max_pool from its pooled output gradient gy (relu's mask already on it):
/// each image's dL/d(conv) is added back at the maxima idx into a buffer in cache just before its GEMM. False,
/// having written nothing, when it cannot (no dw; db of a pointwise convolution).
template <class T>
bool im2col_conv_relu_max_pool_weight_grad(const Tensor<T>& x, const Tensor<T>& gy, const PoolIndices& idx,
                                           const ConvGeom& g, Tensor<T>* dw, Tensor<T>* db);
template <class T>
Tensor<T> im2col_conv_input_grad(const Tensor<T>& gy, const Tensor<T>& w, const ConvGeom& g);

}  // namespace tapegrad::kernels
