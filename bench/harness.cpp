// Statistics and the alternating timing loop behind every in-process benchmark.
#include "harness.hpp"

#include <algorithm>
#include <chrono>

namespace bench {

namespace {
double quantile(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return 0;
    const double pos = q * double(sorted.size() - 1);
    const std::size_t i = std::size_t(pos);
    const double frac = pos - double(i);
    if (i + 1 >= sorted.size()) return sorted.back();
    return sorted[i] * (1 - frac) + sorted[i + 1] * frac;
}
}  // namespace

Stats summarize(std::vector<double> samples) {
    Stats s;
    if (samples.empty()) return s;
    std::sort(samples.begin(), samples.end());
    s.count = samples.size();
    s.median = quantile(samples, 0.5);
    s.p25 = quantile(samples, 0.25);
    s.p75 = quantile(samples, 0.75);
    s.min = samples.front();
    s.max = samples.back();
    return s;
}

double now_seconds() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

std::size_t calibrate(Runner& r, double target_seconds) {
    std::size_t n = 1;
    for (;;) {
        const double t0 = now_seconds();
        r.run(n);
        const double t = now_seconds() - t0;
        if (t >= target_seconds / 4 || n >= (std::size_t(1) << 30)) {
            const double per = t / double(n);
            return std::max<std::size_t>(1, std::size_t(target_seconds / std::max(per, 1e-12)));
        }
        n *= 4;
    }
}

std::vector<std::vector<double>> alternate(const std::vector<Runner*>& runners,
                                           const std::vector<std::size_t>& iterations, int rounds) {
    std::vector<std::vector<double>> samples(runners.size());
    for (int round = 0; round < rounds; ++round) {
        for (std::size_t k = 0; k < runners.size(); ++k) {
            const std::size_t i = round % 2 == 0 ? k : runners.size() - 1 - k;
            const double t0 = now_seconds();
            runners[i]->run(iterations[i]);
            samples[i].push_back((now_seconds() - t0) / double(iterations[i]));
        }
    }
    return samples;
}

Stats paired_ratio(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> r;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
        if (b[i] > 0) r.push_back(a[i] / b[i]);
    return summarize(std::move(r));
}

}  // namespace bench
