// build_info(): the GEMM libraries and kernels in use, CPU features, threads and build flags, as text.
#include <tapegrad/autograd/build_info.hpp>

#include <tapegrad/autograd/kernels/detail/blas.hpp>
#include <tapegrad/autograd/kernels/detail/conv_onednn.hpp>
#include <tapegrad/autograd/kernels/detail/dispatch.hpp>
#include <tapegrad/autograd/kernels/detail/math_avx2.hpp>
#include <tapegrad/autograd/kernels/detail/math_avx512.hpp>
#include <tapegrad/autograd/threads.hpp>

#ifndef TAPEGRAD_CXX_FLAGS
#define TAPEGRAD_CXX_FLAGS ""
#endif
#ifndef TAPEGRAD_VERSION
#define TAPEGRAD_VERSION "unknown"
#endif

namespace tapegrad {
namespace {

std::string compiler_name() {
#if defined(__clang__)
    return "Clang " __clang_version__;
#elif defined(__GNUC__)
    return "GCC " __VERSION__;
#else
    return "unknown compiler";
#endif
}

std::vector<std::string> simd_features() {
    std::vector<std::string> found;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    // Only the features that decide which kernels run (GEMM cores, clones, xsimd's paths).
#define TAPEGRAD_FEATURE(name) \
    if (__builtin_cpu_supports(name)) found.emplace_back(name);
    TAPEGRAD_FEATURE("sse2")
    TAPEGRAD_FEATURE("sse4.2")
    TAPEGRAD_FEATURE("avx")
    TAPEGRAD_FEATURE("avx2")
    TAPEGRAD_FEATURE("fma")
    TAPEGRAD_FEATURE("avx512f")
    TAPEGRAD_FEATURE("avx512dq")
    TAPEGRAD_FEATURE("avx512bw")
    TAPEGRAD_FEATURE("avx512vl")
    TAPEGRAD_FEATURE("avx512vnni")
    TAPEGRAD_FEATURE("avx512bf16")
#undef TAPEGRAD_FEATURE
#endif
    return found;
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
    return s;
}

}  // namespace

BuildInfo build_info() {
    BuildInfo b;
    b.version = TAPEGRAD_VERSION;
    b.compiler = compiler_name();
    b.compile_flags = TAPEGRAD_CXX_FLAGS;
    b.dispatch_targets = kernels::dispatch_targets();
    b.dispatch_chosen = kernels::dispatch_chosen();
    b.cpu_features = simd_features();
    const kernels::GemmInfo g = kernels::gemm_info();
    b.float_gemm = g.float_gemm;
    b.double_gemm = g.double_gemm;
    b.openblas_core = g.openblas_core;
    b.openblas_core_origin = g.openblas_core_origin;
    b.dnnl_isa = g.dnnl_isa;
    b.threads = get_num_threads();
    return b;
}

std::string BuildInfo::to_string() const {
    std::string s;
    s += "tapegrad: " + version + ", " + compiler + ", flags: " + (compile_flags.empty() ? "(none)" : compile_flags) +
         " (no -march)\n";
    s += "own kernels: loops cloned for " + join(dispatch_targets) + ", this CPU runs " + dispatch_chosen +
         "; exp/log/tanh/erf/sqrt: " + (kernels::avx2::avx2_math() ? "AVX2+FMA build" : "baseline (SSE2) build") +
         (kernels::avx512::avx512_math() ? " (exp, tanh, erf: AVX-512 build)" : "") + "\n";
    s += "cpu features: " + join(cpu_features) + "\n";
    s += "float gemm: " + float_gemm + "\n";
    s += "double gemm: " + double_gemm + "\n";
    s += "convolutions: " + kernels::conv_info() + "\n";
    s += "openblas core: " + openblas_core + ", chosen by " + openblas_core_origin + "\n";
    s += "threads: " + std::to_string(threads) + "\n";
    return s;
}

}  // namespace tapegrad
