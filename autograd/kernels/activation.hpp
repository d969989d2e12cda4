// Loops for the activations whose math needs vectorised erf, exp or tanh (GELU and its derivative), and the
// ReLU loops that fused ops (conv2d_relu) run in place on their own buffers.
#pragma once

#include <cstddef>

#include <tapegrad/autograd/tensor.hpp>

namespace tapegrad::kernels {

/// GELU of x: x Phi(x) with the exact normal CDF, or (if `tanh_approx`) PyTorch's tanh approximation
/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
template <class T>
Tensor<T> gelu(const Tensor<T>& x, bool tanh_approx);

/// g times the derivative of gelu at x, written over g (g has x's shape): the VJP in one pass
/// over vectorised erf/exp (or tanh), with no temporary the size of x.
template <class T>
void gelu_backward_inplace(const Tensor<T>& x, Tensor<T>& g, bool tanh_approx);

/// y = max(y, 0) in place over n values, as relu() computes it (-0 and NaN pass through).
template <class T>
void relu_inplace(T* y, std::size_t n);

/// g = 0 where y <= 0, in place over n values: relu's VJP from its output y, as relu()'s plain backward
/// computes it (vjp::scaled: 0 where the mask is 0, whatever g holds; NaN y passes g).
template <class T>
void relu_mask_inplace(T* g, const T* y, std::size_t n);

}  // namespace tapegrad::kernels
