// Vectorised exp, log, tanh, erf, sqrt and pow: xsimd where it is right, std:: where it is not.
#include <tapegrad/autograd/kernels/math.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include <xsimd/xsimd.hpp>

#include <tapegrad/autograd/kernels/detail/math_avx2.hpp>
#include <tapegrad/autograd/kernels/detail/math_avx512.hpp>
#include <tapegrad/autograd/kernels/detail/math_simd.hpp>

#include <tapegrad/autograd/kernels/broadcast.hpp>
#include <tapegrad/autograd/kernels/shape.hpp>

namespace tapegrad::kernels {
namespace {

// ---------------------------------------------------------------- pow
//
// xsimd's pow is exp(b log|a|) in working precision, so its error grows with |b log a| (107 ulp
// at 1e300 ** 1), and it is wrong at 0, inf and NaN. Here float goes through double (log and exp
// in double make the float result correctly rounded but for rare ties) and double through std::pow.

/// Float lanes whose result the double path gets right: a positive normal base and a normal result.
inline auto pow_ok(const Batch<double>& a, const Batch<double>& t) {
    return within(a, double(min_normal<float>), double(max_finite<float>)) & (t > Batch<double>(-87.3)) &
           (t < Batch<double>(88.7));
}

/// a ** b for float, b one value per element (step 1) or one for all (step 0). Chunks are widened
/// to double in bulk (the conversions vectorise), and inputs are read before y is written, so y may
/// alias a or b.
void pow_float(const float* a, const float* b, size_t b_step, float* y, size_t n) {
    using B = Batch<double>;
    constexpr size_t W = B::size, C = 256;
    if (n == 0) return;
    alignas(64) double da[C], db[C], dr[C];
    const B b_all = B(double(b[0]));
    for (size_t i = 0; i < n; i += C) {
        const size_t m = std::min(C, n - i), padded = (m + W - 1) / W * W;
        for (size_t k = 0; k < m; ++k) da[k] = double(a[i + k]);
        std::fill(da + m, da + padded, 1.0);
        if (b_step) {
            for (size_t k = 0; k < m; ++k) db[k] = double(b[i + k]);
            std::fill(db + m, db + padded, 1.0);
        }
        bool all_ok = true;
        for (size_t k = 0; k < padded; k += W) {
            const B x = B::load_aligned(da + k), e = b_step ? B::load_aligned(db + k) : b_all;
            const B t = e * xsimd::log(x);
            xsimd::exp(t).store_aligned(dr + k);
            all_ok = all_ok && xsimd::all(pow_ok(x, t));
        }
        for (size_t k = 0; k < m; ++k) y[i + k] = float(dr[k]);
        if (!all_ok)
            for (size_t k = 0; k < m; ++k) {
                const float ak = float(da[k]), bk = b_step ? float(db[k]) : b[0];
                const double t = double(bk) * std::log(double(ak));
                if (!(ak >= min_normal<float> && ak <= max_finite<float> && t > -87.3 && t < 88.7))
                    y[i + k] = std::pow(ak, bk);
            }
    }
}

}  // namespace

// Each entry runs the AVX2 + FMA build of its kernel (math_avx2.cpp) when the CPU has those features, and
// this file's baseline (SSE2) build otherwise: same algorithm, same std:: fix-ups, twice the lanes. exp,
// tanh and erf also have an AVX-512 build (math_avx512.cpp), chosen first where the CPU has it. The choice is made
// once, into a function pointer: a 1-element tanh spent a quarter of its time choosing (two calls and the
// baseline kernel's stack frame set up on the way).
template <class T>
using UnaryKernel = void (*)(const T*, T*, size_t);

template <class T>
void exp_n(const T* x, T* y, size_t n) {
    static const UnaryKernel<T> kernel = avx512::avx512_math() ? avx512::exp_n<T>
                                         : avx2::avx2_math()   ? avx2::exp_n<T>
                                                               : unary<Exp<T>, T>;
    kernel(x, y, n);
}
template <class T>
void log_n(const T* x, T* y, size_t n) {
    static const UnaryKernel<T> kernel = avx2::avx2_math() ? avx2::log_n<T> : unary<Log<T>, T>;
    kernel(x, y, n);
}
template <class T>
void tanh_n(const T* x, T* y, size_t n) {
    static const UnaryKernel<T> kernel = avx512::avx512_math() ? avx512::tanh_n<T>
                                         : avx2::avx2_math()   ? avx2::tanh_n<T>
                                                               : unary<Tanh<T>, T>;
    kernel(x, y, n);
}
template <class T>
void erf_n(const T* x, T* y, size_t n) {
    static const UnaryKernel<T> kernel = avx512::avx512_math() ? avx512::erf_n<T>
                                         : avx2::avx2_math()   ? avx2::erf_n<T>
                                                               : unary<Erf<T>, T>;
    kernel(x, y, n);
}

template <class T>
void sqrt_n(const T* x, T* y, size_t n) {
    static const UnaryKernel<T> kernel = avx2::avx2_math() ? avx2::sqrt_n<T> : unary<Sqrt<T>, T>;
    kernel(x, y, n);
}

template <class T>
T pow_one(T a, T b) {
    return std::pow(a, b);
}

template <class T>
void pow_n(const T* a, const T* b, T* y, size_t n) {
    if constexpr (sizeof(T) == 4) {
        pow_float(a, b, 1, y, n);
    } else {
        for (size_t i = 0; i < n; ++i) y[i] = std::pow(a[i], b[i]);
    }
}

template <class T>
void pow_n(const T* a, T p, T* y, size_t n) {
    if (p == T(2)) {  // the common square: exact in one multiplication
#pragma omp simd
        for (size_t i = 0; i < n; ++i) y[i] = a[i] * a[i];
    } else if (p == T(1)) {
        std::copy(a, a + n, y);
    } else if (p == T(0.5)) {  // as PyTorch: the correctly rounded square root
        avx2::avx2_math() ? avx2::pow_half_n(a, y, n) : unary<PowHalf<T>>(a, y, n);
    } else if constexpr (sizeof(T) == 4) {
        pow_float(a, &p, 0, y, n);
    } else {
        for (size_t i = 0; i < n; ++i) y[i] = std::pow(a[i], p);
    }
}

template <class T>
Tensor<T> exp(const Tensor<T>& x) {
    Tensor<T> y = empty_like(x);
    exp_n(x.data(), y.data(), x.size());
    return y;
}
template <class T>
Tensor<T> log(const Tensor<T>& x) {
    Tensor<T> y = empty_like(x);
    log_n(x.data(), y.data(), x.size());
    return y;
}
template <class T>
Tensor<T> tanh(const Tensor<T>& x) {
    Tensor<T> y = empty_like(x);
    tanh_n(x.data(), y.data(), x.size());
    return y;
}
template <class T>
Tensor<T> erf(const Tensor<T>& x) {
    Tensor<T> y = empty_like(x);
    erf_n(x.data(), y.data(), x.size());
    return y;
}
template <class T>
Tensor<T> sqrt(const Tensor<T>& x) {
    Tensor<T> y = empty_like(x);
    sqrt_n(x.data(), y.data(), x.size());
    return y;
}

template <class T>
Tensor<T> pow(const Tensor<T>& a, const Tensor<T>& b, const char* op) {
    const Shape out = broadcast_shape(op, a.shape(), b.shape());
    Tensor<T> y = Tensor<T>::from_shape(out);
    const bool a_full = shape_equal(a.shape(), out);
    if (a_full && shape_equal(b.shape(), out)) {
        pow_n(a.data(), b.data(), y.data(), y.size());
    } else if (a_full && b.size() == 1) {
        pow_n(a.data(), b.data()[0], y.data(), y.size());
    } else {
        const Tensor<T> ab = broadcast_to(a, out), bb = broadcast_to(b, out);
        pow_n(ab.data(), bb.data(), y.data(), y.size());
    }
    return y;
}

template <class T>
Tensor<T> pow(const Tensor<T>& x, T p) {
    Tensor<T> y = empty_like(x);
    pow_n(x.data(), p, y.data(), x.size());
    return y;
}

#define TAPEGRAD_INSTANTIATE(T)                                              \
    template void exp_n(const T*, T*, size_t);                               \
    template void log_n(const T*, T*, size_t);                               \
    template void tanh_n(const T*, T*, size_t);                              \
    template void erf_n(const T*, T*, size_t);                               \
    template void sqrt_n(const T*, T*, size_t);                              \
    template void pow_n(const T*, const T*, T*, size_t);                     \
    template void pow_n(const T*, T, T*, size_t);                            \
    template T pow_one(T, T);                                                \
    template Tensor<T> exp(const Tensor<T>&);                                \
    template Tensor<T> log(const Tensor<T>&);                                \
    template Tensor<T> tanh(const Tensor<T>&);                               \
    template Tensor<T> erf(const Tensor<T>&);                                \
    template Tensor<T> sqrt(const Tensor<T>&);                               \
    template Tensor<T> pow(const Tensor<T>&, const Tensor<T>&, const char*); \
    template Tensor<T> pow(const Tensor<T>&, T);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::kernels
