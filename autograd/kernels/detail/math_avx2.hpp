// The unary math kernels built for AVX2 + FMA (math_avx2.cpp), and whether this CPU may run them.
// Internal (not installed). math.cpp calls them only when avx2_math() says the CPU has the features.
#pragma once

#include <cstddef>

namespace tapegrad::kernels::avx2 {

/// True when the CPU (and OS) support AVX2 and FMA and the library was built with the AVX2 file.
bool avx2_math() noexcept;

template <class T>
void exp_n(const T* x, T* y, std::size_t n);
template <class T>
void log_n(const T* x, T* y, std::size_t n);
template <class T>
void tanh_n(const T* x, T* y, std::size_t n);
template <class T>
void erf_n(const T* x, T* y, std::size_t n);
template <class T>
void sqrt_n(const T* x, T* y, std::size_t n);
template <class T>
void pow_half_n(const T* x, T* y, std::size_t n);

}  // namespace tapegrad::kernels::avx2
