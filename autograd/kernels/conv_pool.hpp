// conv2d -> relu -> max pooling as one kernel pair: the forward keeps only the pooled values and the positions
// of their maxima, the backward rebuilds the convolution's output gradient from them.
#pragma once

#include <tapegrad/autograd/kernels/conv.hpp>
#include <tapegrad/autograd/kernels/pool.hpp>

namespace tapegrad::kernels {

/// y = max_pool(relu(conv(x, w) (+ b if not null))), with the positions of the maxima (flat, in the
/// convolution's output) in idx: the values and positions max_pool(relu(conv(...))) gives, bit for bit.
template <class T>
Tensor<T> conv_relu_max_pool(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, const ConvGeom& cg,
                             const PoolGeom& pg, PoolIndices& idx);

/// The gradients a plain backward wants (dx, dW, db where the pointer is not null) of
/// y = conv_relu_max_pool(x, w, b), from y, idx and dL/dy: gy is overwritten with relu's VJP on the pooled
/// values (0 where y <= 0), which is then added back at the maxima as the convolution's output gradient.
template <class T>
void conv_relu_max_pool_backward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& y, Tensor<T>& gy,
                                 const PoolIndices& idx, const ConvGeom& cg, Tensor<T>* dx, Tensor<T>* dw,
                                 Tensor<T>* db);

}  // namespace tapegrad::kernels
