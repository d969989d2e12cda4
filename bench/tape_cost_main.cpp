// tapegrad_bench_tape_cost: the per-op cost of the tape on a chain of 1-element ops, for callgrind.
//   tapegrad_bench_tape_cost [--nograd] N REPEATS
// Runs the bench's chain (y*w, y+w, tanh(y), ... from x; x and w 1-element parameters) of N ops,
// forward and backward, REPEATS times after a warm-up, and prints the wall time per op. Under
// callgrind only the repeats are instrumented; bench/tape_cost.sh subtracts a run with N = 3 (the
// fixed cost of a backward call and of zero_grad) to get instructions per op:
//   valgrind --tool=callgrind --instr-atstart=no ./tapegrad_bench_tape_cost 1000 20
#include <cstdio>
#include <cstdlib>
#include <string>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

#include "harness.hpp"
#include "sides.hpp"

int main(int argc, char** argv) {
    using namespace bench;
    int a = 1;
    bool grad = true;
    if (argc > a && std::string(argv[a]) == "--nograd") {
        grad = false;
        ++a;
    }
    if (argc - a != 2) {
        std::fprintf(stderr, "usage: %s [--nograd] N REPEATS\n", argv[0]);
        return 2;
    }
    const std::size_t n = std::size_t(std::atol(argv[a]));
    const std::size_t repeats = std::size_t(std::atol(argv[a + 1]));
    tg::set_threads(1);
    std::unique_ptr<Runner> r = tg::make_chain(1, 1, grad, n);
    r->run(3);  // warm: the allocator's cache is filled
    const double t0 = now_seconds();
    CALLGRIND_START_INSTRUMENTATION;
    r->run(repeats);
    CALLGRIND_STOP_INSTRUMENTATION;
    const double t = now_seconds() - t0;
    std::printf("tapegrad%s: n=%zu repeats=%zu %.4f us/op (probe %.6g)\n", grad ? "" : " (no grad)", n, repeats,
                n ? t / double(repeats * n) * 1e6 : 0.0, r->probe());
    return 0;
}
