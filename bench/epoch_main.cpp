// One training epoch in a process of its own (tapegrad's or libtorch's, chosen at build time), so
// that its peak memory and whole-process time are its own. tapegrad_bench starts it.
//   <program> --model mlp|cnn [--threads N] [--limit IMAGES]
// Prints one line: train_seconds=... load_seconds=... accuracy=... final_loss=... peak_rss_kib=...
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <stdexcept>
#include <string>

#include "sides.hpp"

#if defined(TAPEGRAD_BENCH_EPOCH_LIBTORCH)
namespace side = bench::lt;
#else
namespace side = bench::tg;
#endif

// This process's peak resident memory, from /proc/self/status. Not getrusage(): a child started
// with vfork/posix_spawn inherits its parent's high-water mark in ru_maxrss at exec, while VmHWM
// belongs to the program's own address space.
long peak_rss_kib() {
    std::ifstream f("/proc/self/status");
    for (std::string line; std::getline(f, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
}

int main(int argc, char** argv) {
    try {
        bench::Model model = bench::Model::mlp;
        int threads = 1;
        std::size_t limit = 0;
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            const bool has_value = i + 1 < argc;
            if (a == "--model" && has_value) {
                const std::string m = argv[++i];
                if (m != "mlp" && m != "cnn") throw std::invalid_argument("--model: mlp or cnn, got " + m);
                model = m == "mlp" ? bench::Model::mlp : bench::Model::cnn;
            } else if (a == "--threads" && has_value) {
                threads = std::atoi(argv[++i]);
            } else if (a == "--limit" && has_value) {
                limit = std::size_t(std::atol(argv[++i]));
            } else {
                throw std::invalid_argument("unknown argument " + a +
                                            "; usage: --model mlp|cnn [--threads N] [--limit IMAGES]");
            }
        }
        side::set_threads(threads);
        const bench::EpochResult r = side::run_epoch(model, bench::Recipe{}, limit);
        std::printf("train_seconds=%.6f load_seconds=%.6f accuracy=%.4f final_loss=%.6f peak_rss_kib=%ld\n",
                    r.train_seconds, r.load_seconds, r.accuracy, r.final_loss, peak_rss_kib());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
        return 1;
    }
}
