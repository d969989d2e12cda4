// Lesson 5, convolutional networks on Fashion-MNIST: Nielsen's conv-pool-FC-softmax network, then a two-conv network.
#include <algorithm>
#include <cmath>
#include <ctime>

#include "lesson.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
namespace data = tapegrad::data;
using Var = tg::Variable<float>;
using Tensor = tg::Tensor<float>;

namespace {

/// Nielsen's chapter 6 network (network3.py):
///   ConvPoolLayer(filter_shape=(20, 1, 5, 5), poolsize=(2, 2)), FullyConnectedLayer(20*12*12, 100),
///   SoftmaxLayer(100, 10); sigmoid neurons.
/// A 28x28 image, 5x5 local receptive fields with stride 1: 24x24 neurons per feature map, each
/// map sharing one 5x5 weight matrix and one bias; 2x2 max pooling: 12x12 per map.
/// With l2_pooling, each 2x2 window gives sqrt(sum of squares) instead of its maximum.
nn::Sequential<float> nielsen_network(std::size_t maps, bool l2_pooling) {
    nn::Sequential<float> net{nn::Conv2d<float>(1, maps, 5), nn::Sigmoid{}};
    if (l2_pooling)
        net.push_back(nn::LPPool2d(2));
    else
        net.push_back(nn::MaxPool2d(2));
    net.push_back(nn::Flatten{})
        .push_back(nn::Linear<float>(maps * 12 * 12, 100))
        .push_back(nn::Sigmoid{})
        .push_back(nn::Linear<float>(100, 10));
    // network3.py's initialisation: weights ~ N(0, 1/n_out) with n_out the neurons a unit feeds
    // (maps * 5 * 5 / 4 after pooling for the conv layer, 100 for the hidden layer), biases ~
    // N(0, 1), and the softmax layer starts at zero.
    auto init = [](const std::shared_ptr<nn::Module<float>>& m, double std, bool zero) {
        auto p = m->parameters();
        if (zero) {
            nn::init::zeros(p[0]);
            nn::init::zeros(p[1]);
        } else {
            nn::init::normal(p[0], 0.0, std);
            nn::init::normal(p[1], 0.0, 1.0);
        }
    };
    init(net[0], std::sqrt(1.0 / (double(maps) * 25 / 4)), false);
    init(net[4], std::sqrt(1.0 / 100), false);
    init(net[6], 0, true);
    return net;
}

/// Two convolution + pooling stages (5x5, zero padding 2, ReLU, 2x2 max pooling: 28 -> 14 -> 7),
/// a ReLU layer of `hidden` units with dropout, and the 10 outputs.
nn::Sequential<float> two_conv_network(std::size_t c1, std::size_t c2, std::size_t hidden, double dropout) {
    const auto same = tg::Conv2dOptions().padding(2);
    return nn::Sequential<float>{nn::Conv2d<float>(1, c1, 5, same),
                                 nn::ReLU{},
                                 nn::MaxPool2d(2),
                                 nn::Conv2d<float>(c1, c2, 5, same),
                                 nn::ReLU{},
                                 nn::MaxPool2d(2),
                                 nn::Flatten{},
                                 nn::Linear<float>(c2 * 7 * 7, hidden),
                                 nn::ReLU{},
                                 nn::Dropout<float>(dropout),
                                 nn::Linear<float>(hidden, 10)};
}

/// Nielsen's "expanding the training data", done on the fly: every image of the batch moved by
/// up to `max_shift` pixels in each direction, the uncovered border filled with background.
void shift_images(Tensor& images, int max_shift, float background, tg::Generator& gen) {
    const std::size_t n = images.shape()[0], H = 28, W = 28;
    Tensor shifted = Tensor::from_shape(images.shape());
    for (std::size_t i = 0; i < n; ++i) {
        const int dy = int(gen.uniform(0, 2 * max_shift + 1)) - max_shift;
        const int dx = int(gen.uniform(0, 2 * max_shift + 1)) - max_shift;
        const float* src = images.data() + i * H * W;
        float* dst = shifted.data() + i * H * W;
        for (int y = 0; y < int(H); ++y)
            for (int x = 0; x < int(W); ++x) {
                const int sy = y - dy, sx = x - dx;
                dst[y * W + x] = sy >= 0 && sy < int(H) && sx >= 0 && sx < int(W) ? src[sy * W + sx] : background;
            }
    }
    images = std::move(shifted);
}

struct Run {
    std::string name;
    std::size_t epochs, batch;
    double lr;
    int shift;  // augmentation: max shift in pixels (0: none)
};

/// Trains with the cross-entropy cost (softmax output + log-likelihood, as network3.py's
/// SoftmaxLayer), one progress line per epoch. Returns the final test accuracy.
double fit(const Run& run, nn::Sequential<float>& net, tg::optim::Optimizer<float>& optimizer,
           tg::optim::LRScheduler* schedule, const data::ImageDataset& train, const data::ImageDataset& test,
           std::uint64_t seed, lesson::Csv& csv) {
    const auto options = data::LoaderOptions()
                             .layout(data::ImageLayout::nchw)
                             .normalize(data::fashion_mnist_mean, data::fashion_mnist_std);
    const data::DataLoader<float> loader(train, data::LoaderOptions(options).batch_size(run.batch).seed(seed));
    const data::DataLoader<float> test_loader(test, data::LoaderOptions(options).batch_size(500).shuffle(false));
    const float background = float(-data::fashion_mnist_mean / data::fashion_mnist_std);
    tg::Generator shifts(seed + 17);
    double acc = 0, elapsed = 0;
    for (std::size_t e = 0; e < run.epochs; ++e) {
        net.train();
        const auto r = lesson::train_epoch(
            optimizer, loader.epoch(e),
            [&](const Tensor& images) {
                if (run.shift == 0) return net(tg::constant(images));
                Tensor moved = images;
                shift_images(moved, run.shift, background, shifts);
                return net(tg::constant(moved));
            },
            [](const Var& logits, const data::Batch<float>& b) { return nn::cross_entropy(logits, b.labels); },
            fmt::format("{:<8} epoch {:2d}/{}", run.name, e + 1, run.epochs));
        if (schedule) schedule->step();
        acc = lesson::accuracy(net, test_loader);
        elapsed += r.seconds;
        fmt::print("{:<8} epoch {:2d}/{}  loss {:.4f}  train {:5.2f}%  test {:5.2f}%  {:.1f} s\n", run.name, e + 1,
                   run.epochs, r.loss, 100 * r.train_accuracy, 100 * acc, r.seconds);
        csv.row(run.name, e + 1, r.loss, r.train_accuracy, acc, elapsed);
    }
    return acc;
}

/// CPU seconds of the whole process so far: on one thread, what the run takes on an idle machine, whatever
/// else a shared machine is running (wall time is printed too).
double cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

/// The lesson's goal: Nielsen's 91% on Fashion-MNIST's test set, within 5 minutes on one thread.
constexpr double goal_accuracy = 0.91, goal_seconds = 300;
/// The two-conv run that reaches it (measured: docs/lessons/05-cnn-fashion-mnist.md).
constexpr std::size_t default_epochs = 8;
constexpr int default_shift = 1;

}  // namespace

int main(int argc, char** argv) {
    return lesson::run([&]() -> int {
        lesson::Flags flags(argc, argv,
                            "Lesson 5 (tutorial 003, Nielsen ch. 6): local receptive fields, shared weights and\n"
                            "pooling. Nielsen's network (20 5x5 feature maps, 2x2 max pooling, 100 sigmoid units,\n"
                            "softmax) trained by SGD, then two conv+pool stages with ReLU, dropout and Adam,\n"
                            "optionally on shifted images.");
        const bool fast = flags.flag("--fast", "2000 training and 500 test images, 1 epoch each (the ctest mode)");
        const std::string part = flags.value<std::string>("--part", "both", "nielsen, twoconv or both");
        Run nielsen{"nielsen", flags.value<std::size_t>("--nielsen-epochs", 1, "epochs of Nielsen's network"), 10,
                    flags.value("--eta", 0.1, "SGD learning rate of Nielsen's network (the book's 0.1)"), 0};
        const std::size_t maps = flags.value<std::size_t>("--maps", 20, "feature maps of Nielsen's network");
        const bool l2_pooling = flags.flag("--l2-pooling", "L2 pooling instead of max pooling in Nielsen's network");
        Run twoconv{
            "twoconv",
            flags.value<std::size_t>("--epochs", fast ? 1 : default_epochs, "epochs of the two-conv network"),
            flags.value<std::size_t>("--batch", 64, "mini-batch size of the two-conv network"),
            flags.value("--lr", 1e-3, "Adam's learning rate"),
            flags.value("--shift", fast ? 0 : default_shift, "augment: shift images by up to this many pixels")};
        const std::size_t c1 = flags.value<std::size_t>("--c1", 16, "feature maps of the first conv layer");
        const std::size_t c2 = flags.value<std::size_t>("--c2", 32, "feature maps of the second conv layer");
        const std::size_t hidden = flags.value<std::size_t>("--hidden", 128, "units of the fully connected layer");
        const double dropout = flags.value("--dropout", 0.25, "dropout before the output layer");
        const std::size_t train_size = flags.value<std::size_t>("--train-size", fast ? 2000 : 60000, "training images");
        const std::size_t test_size = flags.value<std::size_t>("--test-size", fast ? 500 : 10000, "test images");
        const int threads = flags.value("--threads", 1, "intra-op threads (tapegrad::set_num_threads)");
        const std::uint64_t seed = flags.value<std::uint64_t>("--seed", 1, "seed of weights, batch order and shifts");
        const std::string out = flags.value<std::string>("--out", ".", "directory for CSV, PNG and .npz files");
        flags.done();
        lesson::Claims claims;
        lesson::Stopwatch clock;
        tg::set_num_threads(threads);

        data::ImageDataset train, test;
        if (!lesson::load_fashion(train, test)) return lesson::skipped;
        train = train.subset(std::min(train_size, train.size()));
        test = test.subset(std::min(test_size, test.size()));
        fmt::print("Fashion-MNIST: {} training and {} test images\n\n", train.size(), test.size());
        const std::string csv_path = lesson::path_in(out, "cnn_fashion.csv");
        lesson::Csv csv(csv_path, {"model", "epoch", "train_loss", "train_accuracy", "test_accuracy", "seconds"});

        const bool run_nielsen = part == "nielsen" || part == "both", run_twoconv = part == "twoconv" || part == "both";
        if (!run_nielsen && !run_twoconv) throw std::invalid_argument("--part must be nielsen, twoconv or both");
        if (run_nielsen) {
            tg::manual_seed(seed);
            nn::Sequential<float> net = nielsen_network(maps, l2_pooling);
            fmt::print("Nielsen's network ({} parameters):\n{}\n", net.num_parameters(), net.to_string());
            fmt::print("SGD, mini-batch {}, eta = {}\n", nielsen.batch, nielsen.lr);
            tg::optim::SGD<float> sgd(net.parameters(), tg::optim::SGDOptions(nielsen.lr));
            const double acc = fit(nielsen, net, sgd, nullptr, train, test, seed, csv);
            nn::save(net, lesson::path_in(out, "cnn_fashion_nielsen.npz"));
            // "Clearly" is more than five times chance: a wrong gradient anywhere stays near 10-20%.
            claims.check(acc > 0.5, "Nielsen's network beats chance (10%) clearly: {:.2f}%", 100 * acc);
            fmt::print("\n");
        }
        if (run_twoconv) {
            tg::manual_seed(seed);
            nn::Sequential<float> net = two_conv_network(c1, c2, hidden, dropout);
            fmt::print("Two-conv network ({} parameters):\n{}\n", net.num_parameters(), net.to_string());
            fmt::print("Adam (lr {} on a cosine), mini-batch {}{}\n", twoconv.lr, twoconv.batch,
                       twoconv.shift ? fmt::format(", images shifted by up to {} pixel{}", twoconv.shift,
                                                   twoconv.shift == 1 ? "" : "s")
                                     : "");
            tg::optim::Adam<float> adam(net.parameters(), tg::optim::AdamOptions(twoconv.lr));
            tg::optim::CosineAnnealingLR cosine(adam, std::max(1L, long(twoconv.epochs)));  // decays to 0 by the end
            const double acc = fit(twoconv, net, adam, &cosine, train, test, seed, csv);
            nn::save(net, lesson::path_in(out, "cnn_fashion_twoconv.npz"));
            claims.check(acc > 0.5, "the two-conv network beats chance (10%) clearly: {:.2f}%", 100 * acc);
            if (!fast) {
                // One thread: CPU time is the run's length on an idle machine; with more, only wall time counts.
                const double wall = clock.seconds(), cpu = cpu_seconds(), took = threads == 1 ? cpu : wall;
                claims.check(acc >= goal_accuracy, "the two-conv network reaches Nielsen's {:.0f}%: {:.2f}%",
                             100 * goal_accuracy, 100 * acc);
                claims.check(took <= goal_seconds,
                             "the whole run takes at most {:.0f} minutes: {:.0f} s {} ({:.0f} s wall)",
                             goal_seconds / 60, took, threads == 1 ? "of CPU" : "wall", wall);
            }
        }
        fmt::print("\nWrote {}\n", csv_path);
        std::vector<lesson::Series> curves;
        if (run_nielsen)
            curves.push_back({csv_path, "(strcol(1) eq \"nielsen\" ? $2 : 1/0):($5 * 100)",
                              "Nielsen's conv-pool network", "linespoints"});
        if (run_twoconv)
            curves.push_back(
                {csv_path, "(strcol(1) eq \"twoconv\" ? $2 : 1/0):($5 * 100)", "two conv+pool stages", "linespoints"});
        lesson::plot_png(lesson::path_in(out, "cnn_fashion.png"), curves,
                         {"Fashion-MNIST: test accuracy of the convolutional networks", "epoch", "test accuracy (%)",
                          false, "set key bottom right"});
        fmt::print("Done in {:.1f} s\n", clock.seconds());
        return claims.exit_code();
    });
}
