// The default generator and the distributions, written out so every platform draws the same numbers.
#include <tapegrad/autograd/random.hpp>

#include <cmath>

namespace tapegrad {

// std::uniform_real_distribution and std::normal_distribution differ between standard
// libraries; these formulas do not, so a seed means the same weights everywhere.
double Generator::uniform(double lo, double hi) {
    const double u = double(engine_() >> 11) * 0x1.0p-53;  // 53 random bits in [0, 1)
    return lo + (hi - lo) * u;
}

double Generator::normal(double mean, double stddev) {
    // Box-Muller; u1 is kept away from 0 so the logarithm stays finite.
    const double u1 = (double(engine_() >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = double(engine_() >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    return mean + stddev * r * std::cos(6.283185307179586476925286766559 * u2);
}

Generator& default_generator() {
    thread_local Generator generator;
    return generator;
}

void manual_seed(std::uint64_t seed) { default_generator().seed(seed); }

}  // namespace tapegrad
