// What the library runs on: the GEMM libraries and kernels chosen, CPU features, threads, build flags.
#pragma once

#include <string>
#include <vector>

namespace tapegrad {

/// A description of the running library, for logs and benchmark headers. Every field is plain text.
struct BuildInfo {
    std::string version;                        ///< tapegrad's version, e.g. "0.1.0"
    std::string compiler;                       ///< compiler that built the library, e.g. "GCC 12.2.0"
    std::string compile_flags;                  ///< the library's compile flags (no -march: runs on any x86-64)
    std::vector<std::string> dispatch_targets;  ///< ISAs tapegrad's own hot loops are cloned for, best first
    std::string dispatch_chosen;                ///< the clone this CPU runs, e.g. "avx2"
    std::vector<std::string> cpu_features;      ///< SIMD features CPUID reports, e.g. {"sse4.2", "avx2", "fma"}
    std::string float_gemm;                     ///< float GEMM library, version and kernel set in use
    std::string double_gemm;                    ///< double GEMM library, version and core in use
    std::string openblas_core;                  ///< OpenBLAS's core name, e.g. "SkylakeX"
    std::string openblas_core_origin;           ///< who chose it: "OpenBLAS", "OPENBLAS_CORETYPE" or "tapegrad (CPUID)"
    std::string dnnl_isa;                       ///< oneDNN's effective ISA, e.g. "avx512_core_amx"
    int threads = 1;                            ///< threads the GEMMs use (set_num_threads)

    /// Multi-line "key: value" text, one field a line.
    std::string to_string() const;
};

/// What this process runs on. Forces the GEMM libraries' one-time set-up if it has not happened yet.
BuildInfo build_info();

}  // namespace tapegrad
