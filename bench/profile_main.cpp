// tapegrad_bench_profile: one workload's tapegrad side alone, no libtorch linked and no table, for
// perf and callgrind. Under callgrind only the timed iterations are instrumented:
//   valgrind --tool=callgrind --instr-atstart=no ./tapegrad_bench_profile chain_tiny 200
// An optional third argument sets tapegrad's thread count; the line printed then also gives the CPU time
// the process used per iteration, whose ratio to the wall time shows how much of a step ran on 2 threads.
#include <sys/resource.h>

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
#include "seq.hpp"
#include "sides.hpp"

namespace {

/// User + system CPU time of the whole process (all its threads, the GEMM libraries' included).
double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    const auto sec = [](const timeval& v) { return double(v.tv_sec) + double(v.tv_usec) * 1e-6; };
    return sec(u.ru_utime) + sec(u.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
    using namespace bench;
    if (argc < 3) {
        std::fprintf(
            stderr,
            "usage: %s mlp_step|cnn_step|chain_tiny|chain_tiny_nograd|chain_100|linear_1024|lstm_step|gpt_step "
            "ITERATIONS [THREADS]\n",
            argv[0]);
        return 2;
    }
    const std::string w = argv[1];
    const std::size_t iterations = std::size_t(std::atol(argv[2]));
    const int threads = argc > 3 ? std::atoi(argv[3]) : 1;
    if (threads < 1) {
        std::fprintf(stderr, "THREADS must be at least 1, got %s\n", argv[3]);
        return 2;
    }
    tg::set_threads(threads);
    std::unique_ptr<Runner> r;
    ImageSet train;
    if (w == "mlp_step" || w == "cnn_step") {
        train = load_images(true, 6000);
        r = tg::make_step(w == "mlp_step" ? Model::mlp : Model::cnn, train, Recipe{}, 16);
    } else if (w == "chain_tiny" || w == "chain_tiny_nograd") {
        r = tg::make_chain(1, 1, w == "chain_tiny", 1000);
    } else if (w == "chain_100") {
        r = tg::make_chain(100, 100, true, 1000);
    } else if (w == "linear_1024") {
        r = tg::make_linear(256, 1024, 1024);
    } else if (w == "lstm_step" || w == "gpt_step") {
        r = tg::make_seq_step(w == "lstm_step" ? SeqModel::lstm : SeqModel::gpt, 4);
    } else {
        std::fprintf(stderr, "unknown workload %s\n", w.c_str());
        return 2;
    }
    r->run(3);  // warm: the allocator's cache is filled
    const double c0 = cpu_seconds(), t0 = now_seconds();
    CALLGRIND_START_INSTRUMENTATION;
    r->run(iterations);
    CALLGRIND_STOP_INSTRUMENTATION;
    const double t = now_seconds() - t0, c = cpu_seconds() - c0;
    std::printf("%s: %.3f us per iteration (probe %.6g), %d thread(s), CPU time %.3f us per iteration (%.2f CPUs)\n",
                w.c_str(), t / double(iterations) * 1e6, r->probe(), threads, c / double(iterations) * 1e6, c / t);
    return 0;
}
