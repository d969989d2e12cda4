// Vectorised math functions over whole tensors (exp, log, sqrt, tanh, erf).
#pragma once

#include <tapegrad/autograd/tensor.hpp>

namespace tapegrad::kernels {

template <class T>
Tensor<T> exp(const Tensor<T>& x);
template <class T>
Tensor<T> log(const Tensor<T>& x);
template <class T>
Tensor<T> sqrt(const Tensor<T>& x);
template <class T>
Tensor<T> tanh(const Tensor<T>& x);
template <class T>
Tensor<T> erf(const Tensor<T>& x);

}  // namespace tapegrad::kernels
