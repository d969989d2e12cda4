// Seeded random numbers: the global generator behind randn/rand and weight initialisation.
#pragma once

#include <cstdint>
#include <random>

namespace tapegrad {

/// A seeded random engine; the same seed gives the same numbers on every run of the same build.
class Generator {
public:
    explicit Generator(std::uint64_t seed = 5489u) : engine_(seed) {}
    void seed(std::uint64_t seed) { engine_.seed(seed); }
    std::mt19937_64& engine() { return engine_; }
    /// Uniform in [lo, hi).
    double uniform(double lo = 0.0, double hi = 1.0);
    /// Normal with the given mean and standard deviation.
    double normal(double mean = 0.0, double stddev = 1.0);

private:
    std::mt19937_64 engine_;
};

/// The generator used when none is passed (one per thread, so threads do not race).
Generator& default_generator();
/// Seeds the default generator of the calling thread: runs become reproducible.
void manual_seed(std::uint64_t seed);

}  // namespace tapegrad
