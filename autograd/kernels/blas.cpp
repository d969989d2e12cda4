// GEMM for the whole library: float on oneDNN's dnnl_sgemm (large products on OpenBLAS where oneDNN has
// only its AVX2 kernels), double on OpenBLAS with its core chosen from CPUID when OpenBLAS's model table
// does not know the CPU. The only file that includes <cblas.h> (its enums clash with xtensor-blas's) and
// oneDNN.
#include <tapegrad/autograd/kernels/detail/blas.hpp>
#include <tapegrad/autograd/threads.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <string>

#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

// OpenBLAS's DYNAMIC_ARCH entry points: exported by Debian's builds but in no header. Weak, so that an
// OpenBLAS built for one fixed core (without them) still links, and the core is then left alone.
extern "C" {
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
}

namespace tapegrad {
namespace kernels {
namespace {

// Relaxed: a count, not a synchronisation; one uncontended add next to a GEMM costs nothing.
std::atomic<std::uint64_t> sgemm_calls{0}, dgemm_calls{0}, sgemm_openblas_calls{0};
std::atomic<int> gemm_threads{1};

/// From this many multiply-adds (m n k) a float product counts as large: 256 x 512 x 256 and up.
constexpr double large_product = double(1 << 25);

struct Setup {
    // Float products below large_product: oneDNN unless TAPEGRAD_FLOAT_GEMM=openblas.
    bool small_on_dnnl = true;
    // From large_product: oneDNN's AVX2 sgemm kernels fall to about half of OpenBLAS's speed on some
    // large shapes (m x 1024 x 1024 untransposed, or transposed A; measured on an AMD Zen 3), its
    // AVX-512 ones do not (an Intel Xeon with AVX-512): OpenBLAS takes them below AVX-512.
    bool large_on_dnnl = true;
    std::string float_choice;  // how the two were set, for build_info()
    std::string openblas_core_origin = "OpenBLAS (its model table)";
};

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string openblas_core() {
    const char* name = openblas_get_corename();
    return name ? name : "unknown";
}

/// 3: AVX-512 kernels, 2: AVX2 + FMA kernels, 0: older. Names from OpenBLAS 0.3.21's driver/others/dynamic.c.
int core_level(const std::string& core) {
    const std::string c = lower(core);
    if (c == "skylakex" || c == "cooperlake" || c == "sapphirerapids") return 3;
    if (c == "haswell" || c == "zen" || c == "skylake") return 2;
    return 0;
}

/// The same scale for this CPU (CPUID, with the OS's support for the registers checked by libgcc).
int cpu_level() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd"))
        return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
    return 0;
}

/// OpenBLAS picks its kernels from a table of CPU models and takes SSE3 "Prescott" kernels for a model it
/// does not know (a Xeon of family 6, model 207, in 0.3.21: 5x slower than its AVX-512 ones). When the
/// user has not chosen (OPENBLAS_CORETYPE), re-initialise it on the core the CPU's features allow.
/// Runs before main (static initialiser below), when no other thread can be in OpenBLAS yet.
void choose_openblas_core(Setup& s) {
    if (std::getenv("OPENBLAS_CORETYPE")) {
        s.openblas_core_origin = "OPENBLAS_CORETYPE (set by the user)";
        return;
    }
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;  // not a DYNAMIC_ARCH build
    const int cpu = cpu_level();
    if (core_level(openblas_core()) >= cpu) return;
    const std::string before = openblas_core();
    // OpenBLAS reads the variable inside gotoblas_dynamic_init; it is removed again so that child
    // processes and the user see the environment they set.
    setenv("OPENBLAS_CORETYPE", cpu == 3 ? "SkylakeX" : "Haswell", 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
    s.openblas_core_origin = "tapegrad, from CPUID (OpenBLAS had chosen " + before + ")";
}

int default_threads() {
    const char* env = std::getenv("TAPEGRAD_NUM_THREADS");
    const int n = env ? std::atoi(env) : 1;
    return std::max(1, n);
}

/// TAPEGRAD_FLOAT_GEMM=dnnl or openblas sends every float product to one library; unset (or auto), the
/// size and the CPU choose. Runs after choose_openblas_core, whose core it reads.
void choose_float_gemm(Setup& s) {
    const char* env = std::getenv("TAPEGRAD_FLOAT_GEMM");
    const std::string asked = env && *env ? lower(env) : "auto";
    if (asked == "dnnl" || asked == "openblas") {
        s.small_on_dnnl = s.large_on_dnnl = asked == "dnnl";
        s.float_choice = "TAPEGRAD_FLOAT_GEMM=" + asked;
        return;
    }
    // The ISA values are masks of the features each includes (avx2_vnni's is numerically above avx512_core's).
    const unsigned isa = unsigned(dnnl_get_effective_cpu_isa()), avx512 = unsigned(dnnl_cpu_isa_avx512_core);
    const bool avx512_dnnl = (isa & avx512) == avx512;
    s.large_on_dnnl = avx512_dnnl || core_level(openblas_core()) < 2;
    if (asked != "auto")
        s.float_choice = "TAPEGRAD_FLOAT_GEMM=" + std::string(env) + " not understood (dnnl, openblas or auto): auto";
}

Setup make_setup() {
    Setup s;
    choose_openblas_core(s);
    choose_float_gemm(s);
    const int n = default_threads();
    gemm_threads.store(n, std::memory_order_relaxed);
    openblas_set_num_threads(n);
    return s;
}

const Setup& setup() {
    static const Setup s = make_setup();
    return s;
}

// Before main: OpenBLAS's own constructor has run (it is a shared library this one depends on), and no
// thread of the program can be inside OpenBLAS while its core is switched.
const bool setup_at_load = (setup(), true);

blasint as_int(std::size_t v) { return blasint(v); }

/// oneDNN with the OpenMP runtime threads by the calling thread's omp_get_max_threads(): set it to
/// tapegrad's count for the call only, so the program's own OpenMP setting is left as it was.
bool dnnl_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
               std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
    const int want = gemm_threads.load(std::memory_order_relaxed);
    const int had = omp_get_max_threads();
    if (had != want) omp_set_num_threads(want);
    const dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k),
                                        alpha, a, dnnl_dim_t(lda), b, dnnl_dim_t(ldb), beta, c, dnnl_dim_t(ldc));
    if (had != want) omp_set_num_threads(had);
    return st == dnnl_success;
}

void call_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
               std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
    sgemm_calls.fetch_add(1, std::memory_order_relaxed);
    const Setup& s = setup();
    const bool large = double(m) * double(n) * double(k) >= large_product;
    // oneDNN refuses only what it cannot index (it checks its arguments before touching C); OpenBLAS then runs it.
    if ((large ? s.large_on_dnnl : s.small_on_dnnl) && dnnl_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
        return;
    sgemm_openblas_calls.fetch_add(1, std::memory_order_relaxed);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, as_int(m), as_int(n),
                as_int(k), alpha, a, as_int(lda), b, as_int(ldb), beta, c, as_int(ldc));
}
void call_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
               std::size_t lda, const double* b, std::size_t ldb, double beta, double* c, std::size_t ldc) {
    dgemm_calls.fetch_add(1, std::memory_order_relaxed);
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, as_int(m), as_int(n),
                as_int(k), alpha, a, as_int(lda), b, as_int(ldb), beta, c, as_int(ldc));
}

std::string dnnl_isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
        case dnnl_cpu_isa_sse41:
            return "sse41";
        case dnnl_cpu_isa_avx:
            return "avx";
        case dnnl_cpu_isa_avx2:
            return "avx2";
        case dnnl_cpu_isa_avx2_vnni:
            return "avx2_vnni";
        case dnnl_cpu_isa_avx512_mic:
            return "avx512_mic";
        case dnnl_cpu_isa_avx512_mic_4ops:
            return "avx512_mic_4ops";
        case dnnl_cpu_isa_avx512_core:
            return "avx512_core";
        case dnnl_cpu_isa_avx512_core_vnni:
            return "avx512_core_vnni";
        case dnnl_cpu_isa_avx512_core_bf16:
            return "avx512_core_bf16";
        case dnnl_cpu_isa_avx512_core_amx:
            return "avx512_core_amx";
        default:
            return "isa " + std::to_string(int(isa));
    }
}

}  // namespace

GemmCounts gemm_counts() noexcept {
    return {sgemm_calls.load(std::memory_order_relaxed), dgemm_calls.load(std::memory_order_relaxed),
            sgemm_openblas_calls.load(std::memory_order_relaxed)};
}

GemmInfo gemm_info() {
    const Setup& s = setup();
    GemmInfo g;
    const dnnl_version_t* v = dnnl_version();
    const std::string dnnl = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                             std::to_string(v->patch) + " dnnl_sgemm";
    g.dnnl_isa = dnnl_isa_name(dnnl_get_effective_cpu_isa());
    g.openblas_core = openblas_core();
    g.openblas_core_origin = s.openblas_core_origin;
    const char* config = openblas_get_config();
    std::string openblas = config ? config : "OpenBLAS";
    openblas += " (core " + g.openblas_core + ")";
    const std::string on_dnnl = dnnl + " (isa " + g.dnnl_isa + "; OpenBLAS if it refuses a call)";
    if (s.small_on_dnnl && s.large_on_dnnl)
        g.float_gemm = on_dnnl;
    else if (!s.small_on_dnnl)
        g.float_gemm = openblas;
    else
        g.float_gemm = on_dnnl + " below 2^25 multiply-adds, " + openblas + " from there";
    if (!s.float_choice.empty()) g.float_gemm += " (" + s.float_choice + ")";
    g.large_float_products_on_dnnl = s.large_on_dnnl;
    g.small_float_products_on_dnnl = s.small_on_dnnl;
    g.double_gemm = openblas;
    return g;
}

template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
          const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {  // BLAS may not touch C at all here; the product of empty matrices is zero
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
        return;
    }
    call_gemm(trans_a, trans_b, m, n, k, alpha, a, std::max<std::size_t>(lda, 1), b, std::max<std::size_t>(ldb, 1),
              beta, c, std::max<std::size_t>(ldc, 1));
}

template void gemm(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*, std::size_t, const float*,
                   std::size_t, float, float*, std::size_t);
template void gemm(bool, bool, std::size_t, std::size_t, std::size_t, double, const double*, std::size_t, const double*,
                   std::size_t, double, double*, std::size_t);

}  // namespace kernels

void set_num_threads(int threads) {
    kernels::setup();
    const int n = std::max(1, threads);
    kernels::gemm_threads.store(n, std::memory_order_relaxed);
    openblas_set_num_threads(n);
}
int get_num_threads() {
    kernels::setup();
    return kernels::gemm_threads.load(std::memory_order_relaxed);
}

}  // namespace tapegrad
