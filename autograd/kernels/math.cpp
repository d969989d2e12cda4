// Vectorised math functions over whole tensors, through xtensor's xsimd kernels.
#include <tapegrad/autograd/kernels/math.hpp>

#include <xtensor/xmath.hpp>

namespace tapegrad::kernels {

template <class T>
Tensor<T> exp(const Tensor<T>& x) { return xt::exp(x); }
template <class T>
Tensor<T> log(const Tensor<T>& x) { return xt::log(x); }
template <class T>
Tensor<T> sqrt(const Tensor<T>& x) { return xt::sqrt(x); }
template <class T>
Tensor<T> tanh(const Tensor<T>& x) { return xt::tanh(x); }
template <class T>
Tensor<T> erf(const Tensor<T>& x) { return xt::erf(x); }

#define TAPEGRAD_INSTANTIATE(T)                 \
    template Tensor<T> exp(const Tensor<T>&);   \
    template Tensor<T> log(const Tensor<T>&);   \
    template Tensor<T> sqrt(const Tensor<T>&);  \
    template Tensor<T> tanh(const Tensor<T>&);  \
    template Tensor<T> erf(const Tensor<T>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::kernels
