// What both sides of every benchmark share: settings, the data as bytes, seeded initial weights.
// Nothing here names an xtensor or a libtorch type, so either side's file can include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bench {

/// The training recipe both frameworks follow (and the seeds that make it the same run).
struct Recipe {
    std::size_t batch = 64;
    float lr = 0.1f;  // plain SGD, no momentum, no weight decay
    std::uint64_t weight_seed = 1;
    std::uint64_t order_seed = 1;  // the shuffled order of the epoch
};

/// Fashion-MNIST's training-pixel statistics: both sides feed (byte / 255 - mean) / std.
constexpr double pixel_mean = 0.2860;
constexpr double pixel_std = 0.3530;

/// Images as bytes, C x H x W each, one after another, with their labels. This is all either
/// side gets; each converts batches to its own float tensors the way its users would.
struct ImageSet {
    std::vector<std::uint8_t> pixels;
    std::vector<std::int64_t> labels;
    std::size_t n = 0, channels = 1, height = 28, width = 28;
    bool real = false;  // false: synthetic stand-in (the data set is not installed)
    std::size_t image_size() const { return channels * height * width; }
};

/// The Fashion-MNIST training or test split (Debian's dataset-fashion-mnist, or the directory
/// in TAPEGRAD_FASHION_MNIST_DIR). Without the data: `fallback_n` seeded random images with
/// random labels, and real == false, so timings still run (accuracy then means nothing).
ImageSet load_images(bool train, std::size_t fallback_n);

/// byte -> normalised float, computed the way tapegrad's DataLoader does (double, rounded once).
const float* pixel_table();

/// Rows of batch i of an epoch (a shuffled order), as floats: out holds count * image_size().
void batch_floats(const ImageSet& set, const std::size_t* rows, std::size_t count, float* out);

/// The order of epoch e over n images: tapegrad's DataLoader order, so both sides see the same
/// batches in the same sequence.
std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, std::size_t epoch);

/// A tensor of initial weights: shape and row-major values.
struct ParamInit {
    std::vector<std::size_t> shape;
    std::vector<float> values;
};

/// PyTorch's default initialisation of a Linear or Conv2d layer (weight and bias uniform in
/// +-1/sqrt(fan_in)), drawn from one seeded generator in a fixed order, so both frameworks
/// start from the same numbers. Order: weight, bias of each layer in turn.
std::vector<ParamInit> mlp_init(std::uint64_t seed);  // 784-128-10
std::vector<ParamInit> cnn_init(std::uint64_t seed);  // conv 1->8 5x5, conv 8->16 5x5, linear 256->10

/// `n` floats uniform in [lo, hi) from a seeded generator (same numbers on every platform).
std::vector<float> uniform_floats(std::size_t n, float lo, float hi, std::uint64_t seed);

/// One side of an in-process workload, set up and warm: run(n) does n iterations.
class Runner {
public:
    virtual ~Runner() = default;
    virtual void run(std::size_t iterations) = 0;
    /// A number the two sides must agree on after the same iterations from the same start
    /// (a loss, a gradient sum): proof that they compute the same thing.
    virtual double probe() = 0;
};

/// Which model an epoch or a training step trains.
enum class Model { mlp, cnn };
const char* model_name(Model m);

/// What one epoch run reports back.
struct EpochResult {
    double train_seconds = 0;  // the epoch's training loop, data conversion included
    double load_seconds = 0;   // reading the training and test files (and, for libtorch, making tensors)
    double accuracy = 0;       // on the 10,000 test images, in percent
    double final_loss = 0;     // mean loss of the last 100 batches
};

}  // namespace bench
