// Matrix products on row-major buffers: float through oneDNN, double through OpenBLAS (core chosen from CPUID).
// Internal (not installed): included by the library's own .cpp files only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tapegrad::kernels {

/// C = alpha * op(A) op(B) + beta * C on row-major buffers; op transposes when asked.
/// op(A) is m x k, op(B) is k x n, C is m x n; ld* are the row strides as stored.
template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
          const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

/// GEMM calls made so far by the whole process, by precision (whichever library ran them), and the
/// float ones OpenBLAS ran: a test hook, so that tests can check which routine an op used (a float op
/// must run sgemm, not dgemm) and which library took a product.
struct GemmCounts {
    std::uint64_t sgemm = 0, dgemm = 0, sgemm_on_openblas = 0;
};
GemmCounts gemm_counts() noexcept;

/// Which libraries and kernels the GEMMs run on (for build_info()).
struct GemmInfo {
    std::string float_gemm, double_gemm;  // library, version, kernels
    std::string openblas_core, openblas_core_origin;
    std::string dnnl_isa;
    // Which library takes float products below 2^25 multiply-adds, and from there: oneDNN (true) or OpenBLAS.
    bool small_float_products_on_dnnl = true, large_float_products_on_dnnl = true;
};
GemmInfo gemm_info();

}  // namespace tapegrad::kernels
