// The unary math kernels built for AVX-512 (math_avx512.cpp), and whether this CPU may run them.
// Internal (not installed). math.cpp calls them only when avx512_math() says the CPU has the features.
#pragma once

#include <cstddef>

namespace tapegrad::kernels::avx512 {

/// True when the CPU (and OS) support x86-64-v4 (AVX-512 F, BW, CD, DQ, VL) and the library was built
/// with the AVX-512 file.
bool avx512_math() noexcept;

/// exp on n values, 16 floats or 8 doubles a batch; y may be x.
template <class T>
void exp_n(const T* x, T* y, std::size_t n);
/// tanh on n values, 16 floats or 8 doubles a batch; y may be x.
template <class T>
void tanh_n(const T* x, T* y, std::size_t n);
/// erf on n values, 16 floats or 8 doubles a batch; y may be x.
template <class T>
void erf_n(const T* x, T* y, std::size_t n);

}  // namespace tapegrad::kernels::avx512
