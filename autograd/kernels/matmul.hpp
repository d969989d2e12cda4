// Matrix products on tensors: batched matmul with transpose flags, and the dense layer's three products.
#pragma once

#include <tapegrad/autograd/kernels/shape.hpp>

namespace tapegrad::kernels {

/// op(a) @ op(b) over the last two axes, where op transposes them when asked (no copy is made);
/// leading (batch) axes broadcast. Both operands have at least two dimensions.
template <class T>
Tensor<T> batched_matmul(const Tensor<T>& a, bool ta, const Tensor<T>& b, bool tb);

/// x W^T (+ b if not null) for x (..., in), W (out, in), b (out): y (..., out).
template <class T>
Tensor<T> linear(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b);
/// g W for g (..., out), W (out, in): (..., in).
template <class T>
Tensor<T> linear_input_grad(const Tensor<T>& g, const Tensor<T>& w);
/// g^T x over every leading row, for g (..., out), x (..., in): (out, in).
template <class T>
Tensor<T> linear_weight_grad(const Tensor<T>& g, const Tensor<T>& x);

}  // namespace tapegrad::kernels
