// Self-attention heads on packed q|k|v rows: each head's products are GEMMs whose row stride is 3E, so
// neither q, k, v nor the context are ever permuted into (N, heads, L, d) copies.
#include <tapegrad/autograd/kernels/attention.hpp>

#include <vector>

#include <tapegrad/autograd/kernels/detail/blas.hpp>
#include <tapegrad/autograd/kernels/sequence.hpp>

namespace tapegrad::kernels {

template <class T>
Tensor<T> attention_forward(const Tensor<T>& x, std::size_t heads, T scale, bool causal, const xt::xarray<bool>* masked,
                            Tensor<T>& probs) {
    const std::size_t N = x.shape()[0], L = x.shape()[1], E3 = x.shape()[2], E = E3 / 3, d = E / heads;
    Tensor<T> scores = Tensor<T>::from_shape({N, heads, L, L});
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t h = 0; h < heads; ++h) {
            const T* q = x.data() + n * L * E3 + h * d;
            gemm(false, true, L, L, d, T(1), q, E3, q + E, E3, T(0), scores.data() + (n * heads + h) * L * L, L);
        }
    probs = masked_softmax(scores, masked, 3, false, causal, scale);
    Tensor<T> y = Tensor<T>::from_shape({N, L, E});
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t h = 0; h < heads; ++h) {
            const T* v = x.data() + n * L * E3 + 2 * E + h * d;
            gemm(false, false, L, d, L, T(1), probs.data() + (n * heads + h) * L * L, L, v, E3, T(0),
                 y.data() + n * L * E + h * d, E);
        }
    return y;
}

template <class T>
Tensor<T> attention_backward(const Tensor<T>& x, const Tensor<T>& probs, const Tensor<T>& g, std::size_t heads,
                             T scale) {
    const std::size_t N = x.shape()[0], L = x.shape()[1], E3 = x.shape()[2], E = E3 / 3, d = E / heads;
    Tensor<T> dx = Tensor<T>::from_shape(x.shape());
    std::vector<T> ds(L * L);
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t h = 0; h < heads; ++h) {
            const T* q = x.data() + n * L * E3 + h * d;
            const T* k = q + E;
            const T* v = q + 2 * E;
            T* dq = dx.data() + n * L * E3 + h * d;
            T* dk = dq + E;
            T* dv = dq + 2 * E;
            const T* p = probs.data() + (n * heads + h) * L * L;
            const T* gy = g.data() + n * L * E + h * d;
            gemm(false, true, L, L, d, T(1), gy, E, v, E3, T(0), ds.data(), L);  // dp = g v^T
            gemm(true, false, L, d, L, T(1), p, L, gy, E, T(0), dv, E3);         // dv = p^T g
            for (std::size_t i = 0; i < L; ++i) {  // ds = scale p (dp - sum(dp p)): 0 wherever p is
                T* r = ds.data() + i * L;
                const T* pr = p + i * L;
                T t = 0;
#pragma omp simd reduction(+ : t)
                for (std::size_t j = 0; j < L; ++j) t += r[j] * pr[j];
#pragma omp simd
                for (std::size_t j = 0; j < L; ++j) r[j] = scale * pr[j] * (r[j] - t);
            }
            gemm(false, false, L, d, L, T(1), ds.data(), L, k, E3, T(0), dq, E3);  // dq = ds k
            gemm(true, false, L, d, L, T(1), ds.data(), L, q, E3, T(0), dk, E3);   // dk = ds^T q
        }
    return dx;
}

template Tensor<float> attention_forward(const Tensor<float>&, std::size_t, float, bool, const xt::xarray<bool>*,
                                         Tensor<float>&);
template Tensor<double> attention_forward(const Tensor<double>&, std::size_t, double, bool, const xt::xarray<bool>*,
                                          Tensor<double>&);
template Tensor<float> attention_backward(const Tensor<float>&, const Tensor<float>&, const Tensor<float>&, std::size_t,
                                          float);
template Tensor<double> attention_backward(const Tensor<double>&, const Tensor<double>&, const Tensor<double>&,
                                           std::size_t, double);

}  // namespace tapegrad::kernels
