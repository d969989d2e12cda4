// layer_norm's loops: the mean and variance of a row in two passes (no cancellation), then one pass out.
#include <tapegrad/autograd/kernels/layer_norm.hpp>

#include <cmath>

namespace tapegrad::kernels {

template <class T>
void layer_norm_forward(const T* x, const T* w, const T* b, T* y, T* stats, std::size_t rows, std::size_t d, T eps) {
    const T inv_d = T(1) / T(d);
    for (std::size_t r = 0; r < rows; ++r) {
        const T* xr = x + r * d;
        T* yr = y + r * d;
        T s = 0;
#pragma omp simd reduction(+ : s)
        for (std::size_t k = 0; k < d; ++k) s += xr[k];
        const T mean = s * inv_d;
        T v = 0;
#pragma omp simd reduction(+ : v)
        for (std::size_t k = 0; k < d; ++k) v += (xr[k] - mean) * (xr[k] - mean);
        const T rstd = T(1) / std::sqrt(v * inv_d + eps);
        stats[2 * r] = mean;
        stats[2 * r + 1] = rstd;
        if (w && b) {
#pragma omp simd
            for (std::size_t k = 0; k < d; ++k) yr[k] = (xr[k] - mean) * rstd * w[k] + b[k];
        } else if (w) {
#pragma omp simd
            for (std::size_t k = 0; k < d; ++k) yr[k] = (xr[k] - mean) * rstd * w[k];
        } else if (b) {
#pragma omp simd
            for (std::size_t k = 0; k < d; ++k) yr[k] = (xr[k] - mean) * rstd + b[k];
        } else {
#pragma omp simd
            for (std::size_t k = 0; k < d; ++k) yr[k] = (xr[k] - mean) * rstd;
        }
    }
}

template <class T>
void layer_norm_backward(const T* x, const T* w, const T* stats, const T* g, T* dx, T* dw, T* db, std::size_t rows,
                         std::size_t d) {
    const T inv_d = T(1) / T(d);
    for (std::size_t r = 0; r < rows; ++r) {
        const T* xr = x + r * d;
        const T* gr = g + r * d;
        const T mean = stats[2 * r], rstd = stats[2 * r + 1];
        // Everything read from g happens before dx (which may be g) is written.
        T sg = 0, sgx = 0;
        if (w) {
#pragma omp simd reduction(+ : sg, sgx)
            for (std::size_t k = 0; k < d; ++k) {
                const T gw = gr[k] * w[k];
                sg += gw;
                sgx += gw * (xr[k] - mean) * rstd;
            }
        } else {
#pragma omp simd reduction(+ : sg, sgx)
            for (std::size_t k = 0; k < d; ++k) {
                sg += gr[k];
                sgx += gr[k] * (xr[k] - mean) * rstd;
            }
        }
        if (dw) {
#pragma omp simd
            for (std::size_t k = 0; k < d; ++k) dw[k] += gr[k] * (xr[k] - mean) * rstd;
        }
        if (db) {
#pragma omp simd
            for (std::size_t k = 0; k < d; ++k) db[k] += gr[k];
        }
        if (!dx) continue;
        const T a = sg * inv_d, c = sgx * inv_d;
        T* dr = dx + r * d;
        if (w) {
#pragma omp simd
            for (std::size_t k = 0; k < d; ++k) dr[k] = rstd * (gr[k] * w[k] - a - (xr[k] - mean) * rstd * c);
        } else {
#pragma omp simd
            for (std::size_t k = 0; k < d; ++k) dr[k] = rstd * (gr[k] - a - (xr[k] - mean) * rstd * c);
        }
    }
}

template void layer_norm_forward(const float*, const float*, const float*, float*, float*, std::size_t, std::size_t,
                                 float);
template void layer_norm_forward(const double*, const double*, const double*, double*, double*, std::size_t,
                                 std::size_t, double);
template void layer_norm_backward(const float*, const float*, const float*, const float*, float*, float*, float*,
                                  std::size_t, std::size_t);
template void layer_norm_backward(const double*, const double*, const double*, const double*, double*, double*, double*,
                                  std::size_t, std::size_t);

}  // namespace tapegrad::kernels
