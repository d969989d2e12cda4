// Loops for the activations whose math needs vectorised erf, exp or tanh: GELU and its derivative.
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

}  // namespace tapegrad::kernels
