// Matrix products on row-major buffers through the BLAS library the build links.
// Internal (not installed): included by the library's own .cpp files only.
#pragma once

#include <cstddef>

namespace tapegrad::kernels {

/// C = alpha * op(A) op(B) + beta * C on row-major buffers; op transposes when asked.
/// op(A) is m x k, op(B) is k x n, C is m x n; ld* are the row strides as stored.
template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
          std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

}  // namespace tapegrad::kernels
