// The only file that includes <cblas.h> (its enums clash with xtensor-blas's).
#include <tapegrad/autograd/kernels/detail/blas.hpp>
#include <tapegrad/autograd/threads.hpp>

#include <algorithm>
#include <atomic>
#include <cblas.h>

namespace tapegrad {

void set_num_threads(int threads) { openblas_set_num_threads(std::max(1, threads)); }
int get_num_threads() { return openblas_get_num_threads(); }

namespace kernels {

namespace {
blasint as_int(std::size_t v) { return blasint(v); }

// Relaxed: a count, not a synchronisation; one uncontended add next to a GEMM costs nothing.
std::atomic<std::uint64_t> sgemm_calls{0}, dgemm_calls{0};

void call_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, blasint m, blasint n, blasint k, float alpha, const float* a,
               blasint lda, const float* b, blasint ldb, float beta, float* c, blasint ldc) {
    sgemm_calls.fetch_add(1, std::memory_order_relaxed);
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void call_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, blasint m, blasint n, blasint k, double alpha, const double* a,
               blasint lda, const double* b, blasint ldb, double beta, double* c, blasint ldc) {
    dgemm_calls.fetch_add(1, std::memory_order_relaxed);
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
}  // namespace

GemmCounts gemm_counts() noexcept {
    return {sgemm_calls.load(std::memory_order_relaxed), dgemm_calls.load(std::memory_order_relaxed)};
}

template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
          std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {  // BLAS may not touch C at all here; the product of empty matrices is zero
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
        return;
    }
    call_gemm(trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, as_int(m), as_int(n),
              as_int(k), alpha, a, as_int(std::max<std::size_t>(lda, 1)), b, as_int(std::max<std::size_t>(ldb, 1)),
              beta, c, as_int(std::max<std::size_t>(ldc, 1)));
}

template void gemm(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*, std::size_t, const float*,
                   std::size_t, float, float*, std::size_t);
template void gemm(bool, bool, std::size_t, std::size_t, std::size_t, double, const double*, std::size_t,
                   const double*, std::size_t, double, double*, std::size_t);

}  // namespace kernels
}  // namespace tapegrad
