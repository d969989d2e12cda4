// exp, tanh and erf on AVX-512 batches: this file alone is compiled with -march=x86-64-v4 (CMakeLists), and
// math.cpp calls it only on CPUs of that level, so the library still runs on any x86-64. Only the
// kernels where models spend their time are here (tanh; exp under sigmoid and softmax; erf under GELU, a
// tenth of a GPT step on an AMD Zen 5 while it ran on AVX2); the others stay on their AVX2 build.
#include <tapegrad/autograd/kernels/detail/math_avx512.hpp>

// GCC 12's AVX-512 intrinsics start some masked operations from _mm512_undefined_*(), which it then
// reports as "may be used uninitialized" (or, at -O1 as in the sanitizer builds, "is used
// uninitialized") in every inlined caller: a known false positive of the header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <tapegrad/autograd/kernels/detail/math_simd.hpp>

namespace tapegrad::kernels::avx512 {

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__)
static_assert(xsimd::batch<float>::size == 16, "math_avx512.cpp must be compiled with -march=x86-64-v4");

bool avx512_math() noexcept {
    static const bool ok = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("x86-64-v4");
    }();
    return ok;
}

template <class T>
void exp_n(const T* x, T* y, std::size_t n) {
    unary<Exp<T>>(x, y, n);
}
template <class T>
void tanh_n(const T* x, T* y, std::size_t n) {
    unary<Tanh<T>>(x, y, n);
}
template <class T>
void erf_n(const T* x, T* y, std::size_t n) {
    unary<Erf<T>>(x, y, n);
}
#else
// Compiled without the flags (another compiler or architecture): never chosen.
bool avx512_math() noexcept { return false; }
template <class T>
void exp_n(const T*, T*, std::size_t) {}
template <class T>
void tanh_n(const T*, T*, std::size_t) {}
template <class T>
void erf_n(const T*, T*, std::size_t) {}
#endif

template void exp_n(const float*, float*, std::size_t);
template void exp_n(const double*, double*, std::size_t);
template void tanh_n(const float*, float*, std::size_t);
template void tanh_n(const double*, double*, std::size_t);
template void erf_n(const float*, float*, std::size_t);
template void erf_n(const double*, double*, std::size_t);

}  // namespace tapegrad::kernels::avx512
