// tapegrad_bench_memory: resident memory of a long chain of tiny ops after forward and at backward's peak.
//   tapegrad_bench_memory [--ops N] [--kind chain_tiny|y_plus_y]
// Prints bytes per recorded op: after forward (VmRSS growth) and the peak during backward (VmHWM,
// reset after forward through /proc/self/clear_refs so that it measures backward alone).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <tapegrad/tapegrad.hpp>

namespace {

namespace tg = tapegrad;

/// A field of /proc/self/status in bytes ("VmRSS", "VmHWM"), or -1.
long status_bytes(const char* key) {
    std::ifstream f("/proc/self/status");
    const std::string prefix = std::string(key) + ":";
    for (std::string line; std::getline(f, line);)
        if (line.rfind(prefix, 0) == 0) return std::atol(line.c_str() + prefix.size()) * 1024;
    return -1;
}

/// Makes VmHWM start again from the current VmRSS (Linux >= 4.0); false when not allowed.
bool reset_peak() {
    std::ofstream f("/proc/self/clear_refs");
    f << "5";
    f.flush();
    return bool(f);
}

/// The bench's tiny chain: y = y * w, y + w, tanh(y), repeated, on one-element float tensors.
tg::Variable<float> chain_tiny(const tg::Variable<float>& x, const tg::Variable<float>& w, std::size_t n) {
    tg::Variable<float> y = x;
    for (std::size_t k = 0; k < n; ++k) {
        switch (k % 3) {
            case 0:
                y = y * w;
                break;
            case 1:
                y = y + w;
                break;
            default:
                y = tg::tanh(y);
                break;
        }
    }
    return y;
}

/// The deep test's chain: y = y + y * 1e-6 (two ops per step), one-element float tensors.
tg::Variable<float> chain_skip(const tg::Variable<float>& x, std::size_t n) {
    tg::Variable<float> y = x;
    for (std::size_t k = 0; k + 1 < n; k += 2) y = y + y * 1e-6f;
    return y;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 1000000;
    std::string kind = "chain_tiny";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--ops" && i + 1 < argc) {
            n = std::size_t(std::atof(argv[++i]));
        } else if (a == "--kind" && i + 1 < argc) {
            kind = argv[++i];
        } else {
            std::fprintf(stderr, "usage: %s [--ops N] [--kind chain_tiny|y_plus_y]\n", argv[0]);
            return 2;
        }
    }
    const auto x = tg::parameter(tg::Tensor<float>({1}, 0.5f));
    const auto w = tg::parameter(tg::Tensor<float>({1}, 0.9f));
    const long base = status_bytes("VmRSS");
    tg::Variable<float> y = kind == "y_plus_y" ? chain_skip(x, n) : chain_tiny(x, w, n);
    const long forward_rss = status_bytes("VmRSS");
    const long forward_peak = status_bytes("VmHWM");
    const bool peak_reset = reset_peak();
    tg::sum(y).backward();
    const long backward_peak = status_bytes("VmHWM");
    y.reset();
    const long after = status_bytes("VmRSS");
    const double ops = double(n);
    std::printf("kind=%s ops=%zu live_nodes=%ld\n", kind.c_str(), n, tg::live_node_count());
    std::printf("forward: rss_growth=%.1f B/op (%.1f MiB) peak=%.1f MiB\n", double(forward_rss - base) / ops,
                double(forward_rss - base) / 1048576.0, double(forward_peak) / 1048576.0);
    if (peak_reset)
        std::printf("backward: peak=%.1f MiB, above forward's rss by %.1f B/op (%+.1f%% of the graph)\n",
                    double(backward_peak) / 1048576.0, double(backward_peak - forward_rss) / ops,
                    100.0 * double(backward_peak - forward_rss) / double(forward_rss - base));
    else
        std::printf("backward: peak not measurable (/proc/self/clear_refs not writable)\n");
    std::printf("after: rss=%.1f MiB, grad(w)=%.6g\n", double(after) / 1048576.0,
                double(kind == "y_plus_y" ? x.grad()(0) : w.grad()(0)));
    return 0;
}
