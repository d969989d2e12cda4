// Seeded random numbers: the global generator behind randn/rand and weight initialisation.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace tapegrad {

/// A seeded random engine; the same seed gives the same numbers on every run of the same build.
class Generator {
public:
    /// Seeded with `seed` (std::mt19937_64's default seed by default).
    explicit Generator(std::uint64_t seed = 5489u) : engine_(seed) {}
    /// Restarts the sequence from `seed`.
    void seed(std::uint64_t seed) { engine_.seed(seed); }
    /// The underlying engine, for std:: distributions of your own.
    std::mt19937_64& engine() { return engine_; }
    /// Uniform in [lo, hi).
    double uniform(double lo = 0.0, double hi = 1.0);
    /// Normal with the given mean and standard deviation.
    double normal(double mean = 0.0, double stddev = 1.0);

    /// The engine's whole state (std::mt19937_64 written out as the standard library writes it:
    /// with GCC's libstdc++ its 312 words, then the position in them). A generator given it by
    /// set_state draws the same numbers from then on: what a checkpoint needs to resume a run
    /// with dropout bit for bit.
    std::vector<std::uint64_t> state() const;
    /// Restores a state() of this build. Throws Error (and changes nothing) for a vector of the
    /// wrong length, a position out of range, or words that are all zero.
    void set_state(const std::vector<std::uint64_t>& state);

private:
    std::mt19937_64 engine_;
};

/// The generator used when none is passed (one per thread, so threads do not race).
Generator& default_generator();
/// Seeds the default generator of the calling thread: runs become reproducible.
void manual_seed(std::uint64_t seed);

}  // namespace tapegrad
