// GELU and its derivative in chunks small enough to stay in L1: the vectorised erf/exp/tanh of math.hpp
// on each chunk, then a plain loop that the compiler vectorises. And ReLU in place, for fused ops.
#include <tapegrad/autograd/kernels/activation.hpp>

#include <algorithm>

#include <tapegrad/autograd/kernels/detail/dispatch.hpp>
#include <tapegrad/autograd/kernels/math.hpp>

namespace tapegrad::kernels {
namespace {

constexpr std::size_t chunk = 512;

template <class T>
struct GeluConstants {
    static constexpr T inv_sqrt_2 = T(0.707106781186547524400844362105);
    static constexpr T inv_sqrt_2pi = T(0.398942280401432677939946059934);
    static constexpr T sqrt_2_over_pi = T(0.797884560802865355879892119869);
    static constexpr T cubic = T(0.044715);
};

}  // namespace

template <class T>
Tensor<T> gelu(const Tensor<T>& x, bool tanh_approx) {
    using C = GeluConstants<T>;
    Tensor<T> y = empty_like(x);
    const T* px = x.data();
    T* py = y.data();
    const std::size_t n = x.size();
    for (std::size_t b = 0; b < n; b += chunk) {
        const std::size_t m = std::min(chunk, n - b);
        const T* xs = px + b;
        T* ys = py + b;
        if (tanh_approx) {
#pragma omp simd
            for (std::size_t i = 0; i < m; ++i) ys[i] = C::sqrt_2_over_pi * (xs[i] + C::cubic * xs[i] * xs[i] * xs[i]);
            tanh_n(ys, ys, m);
        } else {
#pragma omp simd
            for (std::size_t i = 0; i < m; ++i) ys[i] = xs[i] * C::inv_sqrt_2;
            erf_n(ys, ys, m);
        }
        // The same expression as the scalar formula, so -inf gives NaN and +inf gives inf as before.
#pragma omp simd
        for (std::size_t i = 0; i < m; ++i) ys[i] = xs[i] * T(0.5) * (T(1) + ys[i]);
    }
    return y;
}

template <class T>
void gelu_backward_inplace(const Tensor<T>& x, Tensor<T>& g, bool tanh_approx) {
    using C = GeluConstants<T>;
    alignas(64) T a[chunk], e[chunk];
    const T* px = x.data();
    T* pg = g.data();
    const std::size_t n = x.size();
    for (std::size_t b = 0; b < n; b += chunk) {
        const std::size_t m = std::min(chunk, n - b);
        const T* xs = px + b;
        T* gs = pg + b;
        if (tanh_approx) {
            // t = tanh(u), u = k (x + c x^3): d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2)
#pragma omp simd
            for (std::size_t i = 0; i < m; ++i) a[i] = C::sqrt_2_over_pi * (xs[i] + C::cubic * xs[i] * xs[i] * xs[i]);
            tanh_n(a, a, m);
#pragma omp simd
            for (std::size_t i = 0; i < m; ++i) {
                const T v = xs[i], t = a[i];
                const T d = (T(1) + t) * T(0.5) +
                            v * (T(1) - t * t) * (C::sqrt_2_over_pi * T(0.5)) * (T(1) + T(3) * C::cubic * v * v);
                gs[i] *= d;
            }
        } else {
            // d/dx = Phi(x) + x phi(x) = 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi)
#pragma omp simd
            for (std::size_t i = 0; i < m; ++i) {
                a[i] = xs[i] * C::inv_sqrt_2;
                e[i] = xs[i] * xs[i] * T(-0.5);
            }
            erf_n(a, a, m);
            exp_n(e, e, m);
#pragma omp simd
            for (std::size_t i = 0; i < m; ++i) gs[i] *= (a[i] + T(1)) * T(0.5) + xs[i] * e[i] * C::inv_sqrt_2pi;
        }
    }
}

namespace {

template <class T>
TAPEGRAD_HOT_LOOP void relu_loop(T* __restrict y, std::size_t n) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) y[i] = y[i] < 0 ? T(0) : y[i];  // v < 0: -0 and NaN pass, as relu()
}

template <class T>
TAPEGRAD_HOT_LOOP void relu_mask_loop(T* __restrict g, const T* __restrict y, std::size_t n) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) g[i] = y[i] <= 0 ? T(0) : g[i];
}

}  // namespace

template <class T>
void relu_inplace(T* y, std::size_t n) {
    relu_loop(y, n);
}

template <class T>
void relu_mask_inplace(T* g, const T* y, std::size_t n) {
    relu_mask_loop(g, y, n);
}

template void relu_inplace(float*, std::size_t);
template void relu_inplace(double*, std::size_t);
template void relu_mask_inplace(float*, const float*, std::size_t);
template void relu_mask_inplace(double*, const double*, std::size_t);
template Tensor<float> gelu(const Tensor<float>&, bool);
template Tensor<double> gelu(const Tensor<double>&, bool);
template void gelu_backward_inplace(const Tensor<float>&, Tensor<float>&, bool);
template void gelu_backward_inplace(const Tensor<double>&, Tensor<double>&, bool);

}  // namespace tapegrad::kernels
