// Data as bytes, the shared epoch order and seeded initial weights for both sides of the benchmarks.
#include "common.hpp"

#include <array>
#include <cmath>
#include <random>

#include <tapegrad/data/fashion_mnist.hpp>
#include <tapegrad/data/loader.hpp>

namespace bench {

ImageSet load_images(bool train, std::size_t fallback_n) {
    namespace td = tapegrad::data;
    ImageSet s;
    if (td::fashion_mnist_available()) {
        const td::ImageDataset d = td::load_fashion_mnist(train ? td::Split::train : td::Split::test);
        s.pixels = d.pixels();
        s.labels.assign(d.labels().begin(), d.labels().end());
        s.n = d.size();
        s.channels = d.channels();
        s.height = d.height();
        s.width = d.width();
        s.real = true;
        return s;
    }
    // Stand-in data so that timings still run where the data set is not installed.
    std::mt19937_64 rng(train ? 11 : 12);
    s.n = fallback_n;
    s.pixels.resize(s.n * s.image_size());
    for (auto& p : s.pixels) p = std::uint8_t(rng() >> 56);
    s.labels.resize(s.n);
    for (auto& l : s.labels) l = std::int64_t(rng() % 10);
    return s;
}

const float* pixel_table() {
    static const std::array<float, 256> table = [] {
        std::array<float, 256> t{};
        for (int v = 0; v < 256; ++v) t[std::size_t(v)] = float((v / 255.0 - pixel_mean) / pixel_std);
        return t;
    }();
    return table.data();
}

void batch_floats(const ImageSet& set, const std::size_t* rows, std::size_t count, float* out) {
    const float* lut = pixel_table();
    const std::size_t bytes = set.image_size();
    for (std::size_t k = 0; k < count; ++k) {
        const std::uint8_t* src = set.pixels.data() + rows[k] * bytes;
        for (std::size_t j = 0; j < bytes; ++j) out[j] = lut[src[j]];
        out += bytes;
    }
}

std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, std::size_t epoch) {
    const auto order = tapegrad::data::epoch_order(n, tapegrad::data::LoaderOptions().seed(seed), epoch);
    return std::vector<std::size_t>(order.begin(), order.end());
}

std::vector<float> uniform_floats(std::size_t n, float lo, float hi, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<float> v(n);
    // 53 random bits to a double in [0, 1): the same on every standard library.
    for (auto& x : v) x = float(lo + (hi - lo) * (double(rng() >> 11) * 0x1.0p-53));
    return v;
}

namespace {

// Weight then bias of a layer with the given fan-in, as PyTorch initialises Linear and Conv2d
// (kaiming_uniform with a = sqrt(5) is uniform in +-1/sqrt(fan_in); the bias likewise).
void add_layer(std::vector<ParamInit>& out, std::vector<std::size_t> weight_shape, std::size_t fan_in,
               std::uint64_t& seed) {
    const float bound = float(1.0 / std::sqrt(double(fan_in)));
    std::size_t n = 1;
    for (auto d : weight_shape) n *= d;
    const std::size_t outputs = weight_shape[0];
    out.push_back({std::move(weight_shape), uniform_floats(n, -bound, bound, seed++)});
    out.push_back({{outputs}, uniform_floats(outputs, -bound, bound, seed++)});
}

}  // namespace

std::vector<ParamInit> mlp_init(std::uint64_t seed) {
    std::vector<ParamInit> p;
    seed *= 1000;
    add_layer(p, {128, 784}, 784, seed);
    add_layer(p, {10, 128}, 128, seed);
    return p;
}

std::vector<ParamInit> cnn_init(std::uint64_t seed) {
    std::vector<ParamInit> p;
    seed = seed * 1000 + 500;
    add_layer(p, {8, 1, 5, 5}, 25, seed);
    add_layer(p, {16, 8, 5, 5}, 200, seed);
    add_layer(p, {10, 256}, 256, seed);
    return p;
}

const char* model_name(Model m) { return m == Model::mlp ? "mlp" : "cnn"; }

}  // namespace bench
