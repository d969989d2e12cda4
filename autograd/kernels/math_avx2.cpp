// exp, log, tanh, erf, sqrt on AVX2 + FMA batches: this file alone is compiled with -mavx2 -mfma (CMakeLists),
// and math.cpp calls it only on CPUs that have both, so the library still runs on any x86-64.
#include <tapegrad/autograd/kernels/detail/math_avx2.hpp>

#include <tapegrad/autograd/kernels/detail/math_simd.hpp>

namespace tapegrad::kernels::avx2 {

#if defined(__AVX2__) && defined(__FMA__)
static_assert(xsimd::batch<float>::size == 8, "math_avx2.cpp must be compiled with -mavx2 -mfma");

bool avx2_math() noexcept {
    static const bool ok = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }();
    return ok;
}

template <class T>
void exp_n(const T* x, T* y, std::size_t n) {
    unary<Exp<T>>(x, y, n);
}
template <class T>
void log_n(const T* x, T* y, std::size_t n) {
    unary<Log<T>>(x, y, n);
}
template <class T>
void tanh_n(const T* x, T* y, std::size_t n) {
    unary<Tanh<T>>(x, y, n);
}
template <class T>
void erf_n(const T* x, T* y, std::size_t n) {
    unary<Erf<T>>(x, y, n);
}
template <class T>
void sqrt_n(const T* x, T* y, std::size_t n) {
    unary<Sqrt<T>>(x, y, n);
}
template <class T>
void pow_half_n(const T* x, T* y, std::size_t n) {
    unary<PowHalf<T>>(x, y, n);
}
#else
// Compiled without the flags (another compiler or architecture): never chosen.
bool avx2_math() noexcept { return false; }
template <class T>
void exp_n(const T*, T*, std::size_t) {}
template <class T>
void log_n(const T*, T*, std::size_t) {}
template <class T>
void tanh_n(const T*, T*, std::size_t) {}
template <class T>
void erf_n(const T*, T*, std::size_t) {}
template <class T>
void sqrt_n(const T*, T*, std::size_t) {}
template <class T>
void pow_half_n(const T*, T*, std::size_t) {}
#endif

template void exp_n(const float*, float*, std::size_t);
template void exp_n(const double*, double*, std::size_t);
template void log_n(const float*, float*, std::size_t);
template void log_n(const double*, double*, std::size_t);
template void tanh_n(const float*, float*, std::size_t);
template void tanh_n(const double*, double*, std::size_t);
template void erf_n(const float*, float*, std::size_t);
template void erf_n(const double*, double*, std::size_t);
template void sqrt_n(const float*, float*, std::size_t);
template void sqrt_n(const double*, double*, std::size_t);
template void pow_half_n(const float*, float*, std::size_t);
template void pow_half_n(const double*, double*, std::size_t);

}  // namespace tapegrad::kernels::avx2
