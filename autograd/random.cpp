// The default generator and the distributions, written out so every platform draws the same numbers.
#include <tapegrad/autograd/random.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>

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

namespace {

std::vector<std::uint64_t> words_of(const std::mt19937_64& engine) {
    std::ostringstream os;
    os << engine;
    std::istringstream is(os.str());
    std::vector<std::uint64_t> out;
    for (std::uint64_t v; is >> v;) out.push_back(v);
    return out;
}

}  // namespace

std::vector<std::uint64_t> Generator::state() const { return words_of(engine_); }

void Generator::set_state(const std::vector<std::uint64_t>& state) {
    constexpr std::size_t n = std::mt19937_64::state_size;
    static const std::size_t expected = words_of(std::mt19937_64()).size();
    if (state.size() != expected)
        throw Error(
            fmt::format("Generator::set_state: {} numbers; expected {} (the state of std::mt19937_64 as this "
                        "build writes it)",
                        state.size(), expected));
    // libstdc++ writes the words, then the position in them: past n it would read out of bounds.
    if (expected == n + 1 && state[n] > n)
        throw Error(fmt::format("Generator::set_state: position {}; expected 0 to {}", state[n], n));
    bool all_zero = true;
    for (std::size_t i = 0; i < std::min(n, state.size()); ++i) all_zero = all_zero && state[i] == 0;
    if (all_zero) throw Error("Generator::set_state: the words are all zero; expected a state from state()");
    std::ostringstream os;
    for (std::size_t i = 0; i < state.size(); ++i) os << (i ? " " : "") << state[i];
    std::istringstream is(os.str());
    std::mt19937_64 engine;
    is >> engine;
    if (is.fail()) throw Error("Generator::set_state: the standard library refused the state");
    engine_ = engine;
}

Generator& default_generator() {
    thread_local Generator generator;
    return generator;
}

void manual_seed(std::uint64_t seed) { default_generator().seed(seed); }

}  // namespace tapegrad
