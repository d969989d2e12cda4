// Hot loops compiled for several x86-64 levels, the best the CPU supports chosen at load time.
// Internal (not installed). The library itself is built for baseline x86-64 (no -march).
#pragma once

#include <string>
#include <vector>

// GCC's target_clones: one copy per level and an ifunc resolver that picks by CPUID when the program
// loads. Only on loops with no xsimd types inside (xsimd's batch width is fixed by the compile flags).
// Not under ThreadSanitizer: the resolver runs while the dynamic loader relocates the program, before
// TSan's runtime exists, and its instrumented entry crashes the program at load.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define TAPEGRAD_CLONED_LOOPS 1
#define TAPEGRAD_HOT_LOOP __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
// The same, with no contraction of a * b + c into one FMA in the copies: for loops whose results must be the
// same bits on every CPU (an optimizer's step, which tests compare with PyTorch's to the last bit).
#define TAPEGRAD_HOT_LOOP_EXACT \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), optimize("fp-contract=off")))
#else
#define TAPEGRAD_HOT_LOOP
#define TAPEGRAD_HOT_LOOP_EXACT
#endif

namespace tapegrad::kernels {

/// The levels TAPEGRAD_HOT_LOOP clones for, best first (just "default" where clones are off).
inline std::vector<std::string> dispatch_targets() {
#ifdef TAPEGRAD_CLONED_LOOPS
    return {"x86-64-v4", "x86-64-v3", "x86-64 (default)"};
#else
    return {"default"};
#endif
}

/// The clone this CPU runs (the resolver's choice: the first level whose features it has).
inline std::string dispatch_chosen() {
#ifdef TAPEGRAD_CLONED_LOOPS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4";
    if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3";
    return "x86-64 (default)";
#else
    return "default";
#endif
}

}  // namespace tapegrad::kernels
