// tapegrad_bench_adolc: the bench's 1-element chain taped and reverse-swept by ADOL-C, the reference
// for the tape's per-op cost (built only when ADOL-C is installed: Debian's libadolc-dev).
//   tapegrad_bench_adolc retape|reuse N REPEATS
// retape: every repeat tapes the chain afresh (trace_on keeping the values) and sweeps it back, what
// a define-by-run library does each step. reuse: the chain is taped once; every repeat runs ADOL-C's
// gradient() driver on the tape (a forward sweep keeping the values, then the reverse sweep). Under
// callgrind only the repeats are instrumented (bench/tape_cost.sh turns the totals into per-op counts).
#include <adolc/adolc.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

namespace {

constexpr short tag = 1;

// The chain of bench/tg_side.cpp: y*w, y+w, tanh(y), ... from x; dy/dx and dy/dw into g.
void tape_chain(std::size_t n, const double* in, double& out) {
    trace_on(tag, 1);  // keep the values: reverse can run straight after
    adouble x, w;
    x <<= in[0];
    w <<= in[1];
    adouble y = x;
    for (std::size_t k = 0; k < n; ++k) {
        switch (k % 3) {
            case 0:
                y = y * w;
                break;
            case 1:
                y = y + w;
                break;
            default:
                y = tanh(y);
                break;
        }
    }
    y >>= out;
    trace_off();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4 || (std::string(argv[1]) != "retape" && std::string(argv[1]) != "reuse")) {
        std::fprintf(stderr, "usage: %s retape|reuse N REPEATS\n", argv[0]);
        return 2;
    }
    const bool retape = std::string(argv[1]) == "retape";
    const std::size_t n = std::size_t(std::atol(argv[2]));
    const std::size_t repeats = std::size_t(std::atol(argv[3]));
    const double in[2] = {0.5, 0.9};
    double out = 0, g[2] = {0, 0}, u = 1;
    double sum = 0;
    auto step = [&] {
        if (retape) {
            tape_chain(n, in, out);
            fos_reverse(tag, 1, 2, &u, g);
        } else {
            gradient(tag, 2, in, g);
        }
        sum += g[1];
    };
    tape_chain(n, in, out);
    for (int i = 0; i < 3; ++i) step();  // warm: buffers allocated, the tape in memory
    sum = 0;
    const auto t0 = std::chrono::steady_clock::now();
    CALLGRIND_START_INSTRUMENTATION;
    for (std::size_t i = 0; i < repeats; ++i) step();
    CALLGRIND_STOP_INSTRUMENTATION;
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("adolc %s: n=%zu repeats=%zu %.4f us/op (probe %.6g)\n", retape ? "retape" : "reuse", n, repeats,
                n ? t / double(repeats * n) * 1e6 : 0.0, repeats ? sum / double(repeats) : 0.0);
    return 0;
}
