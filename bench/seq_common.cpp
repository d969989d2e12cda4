// The sequence workloads' shared parts: sizes, token batches and the initial weights by name.
#include <cmath>
#include <random>

#include "seq.hpp"

namespace bench {

const char* seq_model_name(SeqModel m) { return m == SeqModel::lstm ? "lstm" : "gpt"; }

SeqRecipe seq_recipe(SeqModel m) {
    SeqRecipe r;
    r.batch = m == SeqModel::lstm ? 32 : 16;
    r.length = 64;
    return r;
}

std::vector<std::vector<std::int64_t>> seq_batches(const SeqRecipe& r, std::size_t batches) {
    std::mt19937_64 rng(r.seed);
    std::vector<std::vector<std::int64_t>> out(batches);
    for (auto& b : out) {
        b.resize(r.batch * (r.length + 1));
        for (auto& t : b) t = std::int64_t(rng() % r.vocab);
    }
    return out;
}

std::vector<float> seq_init(const std::string& name, const std::vector<std::size_t>& shape, std::uint64_t seed) {
    std::size_t n = 1;
    for (std::size_t s : shape) n *= s;
    const bool norm = name.find("norm") != std::string::npos || name.find("ln_") != std::string::npos;
    const bool bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    if (norm) return std::vector<float>(n, bias ? 0.0f : 1.0f);
    std::uint64_t h = seed * 1000003u;
    for (char c : name) h = h * 131u + std::uint64_t(static_cast<unsigned char>(c));  // the name picks the stream
    const bool emb = name.find("emb") != std::string::npos;
    const float bound = emb ? 0.1f : float(1.0 / std::sqrt(double(shape.back())));
    return uniform_floats(n, -bound, bound, h);
}

}  // namespace bench
