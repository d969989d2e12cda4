// Matrix products on row-major buffers through the BLAS library the build links.
// Internal (not installed): included by the library's own .cpp files only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tapegrad::kernels {

/// C = alpha * op(A) op(B) + beta * C on row-major buffers; op transposes when asked.
/// op(A) is m x k, op(B) is k x n, C is m x n; ld* are the row strides as stored.
template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
          std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

/// GEMM calls handed to OpenBLAS so far by the whole process, by precision: a test hook, so that
/// tests can check which routine an op used (a float op must run sgemm, not dgemm).
struct GemmCounts {
    std::uint64_t sgemm = 0, dgemm = 0;
};
GemmCounts gemm_counts() noexcept;

}  // namespace tapegrad::kernels
