// Lesson 4, Nielsen's [784, 30, 10] network on Fashion-MNIST (quadratic cost, SGD), then a ReLU/Adam MLP.
#include <cmath>

#include "lesson.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
namespace data = tapegrad::data;
using Var = tg::Variable<float>;

namespace {

struct Settings {
    std::size_t epochs, batch;
    double eta;
};

/// The CSV files fit() adds rows to.
struct Logs {
    lesson::Csv& epochs;   // one row per epoch: loss, accuracies, time
    lesson::Csv& batches;  // about 50 points per epoch of the training loss
    lesson::Csv& checks;   // test accuracy on the held-out images, about 20 times per run
};

/// Trains `net` for the given epochs, printing a line per epoch (in the book's style too:
/// "Epoch 0: 8123 / 10000") and adding rows to the CSVs: so that even one epoch draws curves, the
/// training loss about 50 times per epoch, and the accuracy on `held_out` (a fixed part of the test
/// set) before training and about 20 times over the run, at least once per epoch. Returns the
/// final test accuracy. With a schedule, the learning rate is set from it after every epoch.
template <class Cost>
double fit(const std::string& name, nn::Sequential<float>& net, tg::optim::Optimizer<float>& optimizer,
           tg::optim::LRScheduler* schedule, const data::ImageDataset& train, const data::ImageDataset& test,
           const data::ImageDataset& held_out, const Settings& s, std::uint64_t seed, Cost&& cost, Logs logs) {
    const data::DataLoader<float> loader(train, data::LoaderOptions().batch_size(s.batch).seed(seed));
    const data::DataLoader<float> test_loader(test, data::LoaderOptions().batch_size(1000).shuffle(false));
    const data::DataLoader<float> check_loader(held_out, data::LoaderOptions().batch_size(1000).shuffle(false));
    double test_accuracy = 0, elapsed = 0;
    logs.checks.row(name, 0.0, lesson::accuracy(net, check_loader));  // untrained: about chance
    for (std::size_t e = 0; e < s.epochs; ++e) {
        lesson::EpochDisplay display{
            true, 50, std::max<std::size_t>(20 / std::max<std::size_t>(s.epochs, 1), 1),
            [&](double fraction) { logs.checks.row(name, double(e) + fraction, lesson::accuracy(net, check_loader)); }};
        const auto r = lesson::train_epoch(
            optimizer, loader.epoch(e), [&](const tg::Tensor<float>& images) { return net(tg::constant(images)); },
            cost, fmt::format("{:<7} epoch {:2d}/{}", name, e + 1, s.epochs), display);
        for (const auto& [fraction, loss] : r.loss_curve) logs.batches.row(name, double(e) + fraction, loss);
        if (schedule) schedule->step();
        test_accuracy = lesson::accuracy(net, test_loader);
        elapsed += r.seconds;
        fmt::print("{:<7} epoch {:2d}/{}  loss {:.4f}  train {:5.2f}%  test {:5.2f}% (Epoch {}: {} / {})  {:.1f} s\n",
                   name, e + 1, s.epochs, r.loss, 100 * r.train_accuracy, 100 * test_accuracy, e,
                   std::lround(test_accuracy * double(test.size())), test.size(), r.seconds);
        logs.epochs.row(name, e + 1, r.loss, r.train_accuracy, test_accuracy, elapsed);
    }
    return test_accuracy;
}

}  // namespace

int main(int argc, char** argv) {
    return lesson::run([&]() -> int {
        lesson::Flags flags(argc, argv,
                            "Lesson 4 (tutorial 003, Nielsen ch. 1): mini-batch SGD on Fashion-MNIST. First the\n"
                            "book's [784, 30, 10] sigmoid network with the quadratic cost (mini-batch 10,\n"
                            "eta = 3.0), then a modern MLP (784-256-128-10, ReLU, cross-entropy, Adam). Saves\n"
                            "both as .npz.");
        const bool fast = flags.flag("--fast", "5000 training and 1000 test images, a few epochs (the ctest mode)");
        const std::string part = flags.value<std::string>("--part", "both", "nielsen, modern or both");
        Settings nielsen{flags.value<std::size_t>("--nielsen-epochs", fast ? 4 : 30, "epochs of Nielsen's network"),
                         flags.value<std::size_t>("--nielsen-batch", 10, "mini-batch size of Nielsen's network"),
                         flags.value("--eta", 3.0, "learning rate of Nielsen's network")};
        Settings modern{flags.value<std::size_t>("--epochs", fast ? 2 : 15, "epochs of the modern MLP"),
                        flags.value<std::size_t>("--batch", 64, "mini-batch size of the modern MLP"),
                        flags.value("--lr", 1e-3, "Adam's learning rate")};
        const std::size_t train_size = flags.value<std::size_t>("--train-size", fast ? 5000 : 60000, "training images");
        const std::size_t test_size = flags.value<std::size_t>("--test-size", fast ? 1000 : 10000, "test images");
        const int threads = flags.value("--threads", 1, "OpenBLAS threads (1 is fastest for these sizes here)");
        const std::uint64_t seed = flags.value<std::uint64_t>("--seed", 1, "seed of weights and batch order");
        const std::string out = flags.value<std::string>("--out", ".", "directory for CSV, PNG and .npz files");
        flags.done();
        lesson::Claims claims;
        lesson::Stopwatch clock;
        tg::set_num_threads(threads);

        data::ImageDataset train, test;
        if (!lesson::load_fashion(train, test)) return lesson::skipped;
        train = train.subset(std::min(train_size, train.size()));
        test = test.subset(std::min(test_size, test.size()));
        fmt::print("Fashion-MNIST: {} training and {} test images; chance is 10%\n\n", train.size(), test.size());
        const std::string csv_path = lesson::path_in(out, "mlp_fashion.csv");
        lesson::Csv csv(csv_path, {"model", "epoch", "train_loss", "train_accuracy", "test_accuracy", "seconds"});
        const std::string batches_path = lesson::path_in(out, "mlp_fashion_batches.csv");
        lesson::Csv batches_csv(batches_path, {"model", "epoch", "train_loss"});
        const std::string checks_path = lesson::path_in(out, "mlp_fashion_checks.csv");
        lesson::Csv checks_csv(checks_path, {"model", "epoch", "held_out_accuracy"});
        // The accuracy within the epochs is measured on the first 2000 test images (fewer than the
        // whole test set, so that 20 measurements cost little; never trained on).
        const data::ImageDataset held_out = test.subset(std::min<std::size_t>(2000, test.size()));
        const Logs logs{csv, batches_csv, checks_csv};

        const bool run_nielsen = part == "nielsen" || part == "both", run_modern = part == "modern" || part == "both";
        if (!run_nielsen && !run_modern) throw std::invalid_argument("--part must be nielsen, modern or both");
        if (run_nielsen) {
            // The book's network.py: sigmoid neurons, weights and biases ~ N(0, 1), the quadratic
            // cost C = 1/(2n) sum_x ||y(x) - a||^2 with y(x) the one-hot vector of the label, and
            // the update w -> w - (eta/m) sum_x dC_x/dw over each mini-batch of m: SGD with lr eta
            // on the mini-batch mean.
            tg::manual_seed(seed);
            nn::Sequential<float> net{nn::Linear<float>(784, 30), nn::Sigmoid{}, nn::Linear<float>(30, 10),
                                      nn::Sigmoid{}};
            for (const Var& p : net.parameters()) nn::init::normal(p, 0.0, 1.0);
            tg::optim::SGD<float> sgd(net.parameters(), tg::optim::SGDOptions(nielsen.eta));
            fmt::print("Nielsen's network [784, 30, 10], sigmoid, quadratic cost, mini-batch {}, eta = {}\n",
                       nielsen.batch, nielsen.eta);
            const auto quadratic = [](const Var& a, const data::Batch<float>& b) {
                return nn::quadratic_cost(a, tg::constant(lesson::one_hot<float>(b.labels, 10)));
            };
            const double acc = fit("nielsen", net, sgd, nullptr, train, test, held_out, nielsen, seed, quadratic, logs);
            nn::save(net, lesson::path_in(out, "mlp_fashion_nielsen.npz"));
            // "Clearly" is more than five times chance: a wrong gradient anywhere stays near 10-20%.
            claims.check(acc > 0.5, "Nielsen's network beats chance (10%) clearly: {:.2f}% test accuracy", 100 * acc);
            fmt::print("\n");
        }
        if (run_modern) {
            // What changed since the book: ReLU units (no saturation), a softmax output with the
            // cross-entropy cost (no learning slowdown), Adam with a step size that decays along a
            // cosine to 0 over the run, PyTorch's default initialisation, and more hidden units.
            // The Fashion-MNIST benchmark lists an MLP 256-128-100 at 88.3%.
            tg::manual_seed(seed);
            nn::Sequential<float> net{nn::Linear<float>(784, 256), nn::ReLU{}, nn::Linear<float>(256, 128), nn::ReLU{},
                                      nn::Linear<float>(128, 10)};
            tg::optim::Adam<float> adam(net.parameters(), tg::optim::AdamOptions(modern.eta));
            tg::optim::CosineAnnealingLR cosine(adam, std::max(1L, long(modern.epochs)));
            fmt::print("Modern MLP 784-256-128-10, ReLU, cross-entropy, Adam (lr {} on a cosine), mini-batch {}\n",
                       modern.eta, modern.batch);
            const auto cross_entropy = [](const Var& logits, const data::Batch<float>& b) {
                return nn::cross_entropy(logits, b.labels);
            };
            const double acc =
                fit("modern", net, adam, &cosine, train, test, held_out, modern, seed, cross_entropy, logs);
            nn::save(net, lesson::path_in(out, "mlp_fashion_modern.npz"));
            claims.check(acc > 0.5, "the modern MLP beats chance (10%) clearly: {:.2f}% test accuracy", 100 * acc);
            if (!fast)
                fmt::print("(goal 88%: {})\n", acc >= 0.88 ? "reached" : "not yet; more epochs get there: --epochs 30");
        }
        fmt::print("\nWrote {}, {}, {} and the trained models as .npz (nn::load reads them back, numpy.load too)\n",
                   csv_path, batches_path, checks_path);
        // Test accuracy: a line through the measurements on the held-out images (also within the
        // epochs, so one epoch is a curve), and a dot for the whole test set at the end of each epoch.
        std::vector<lesson::Series> curves;
        const auto accuracy_series = [&](const std::string& model, const std::string& title, int colour) {
            curves.push_back({checks_path, fmt::format("(strcol(1) eq \"{}\" ? $2 : 1/0):($3 * 100)", model),
                              title + fmt::format(" ({} held-out images)", held_out.size()),
                              fmt::format("lines lc {}", colour)});
            curves.push_back({csv_path, fmt::format("(strcol(1) eq \"{}\" ? $2 : 1/0):($5 * 100)", model),
                              fmt::format("whole test set ({} images), end of epoch", test.size()),
                              fmt::format("points pt 7 ps 1.2 lc {}", colour)});
        };
        if (run_nielsen) accuracy_series("nielsen", "Nielsen [784,30,10], quadratic cost, SGD", 1);
        if (run_modern) accuracy_series("modern", "784-256-128-10, ReLU, cross-entropy, Adam", 2);
        lesson::plot_png(lesson::path_in(out, "mlp_fashion.png"), curves,
                         {"Fashion-MNIST: test accuracy of the MLPs as they train", "epoch", "test accuracy (%)", false,
                          "set key bottom right\nset yrange [0:100]\nset offsets 0, graph 0.02, 0, 0"});
        // The training loss within the epochs: a curve even after a single epoch.
        std::vector<lesson::Series> losses;
        if (run_nielsen)
            losses.push_back(
                {batches_path, "(strcol(1) eq \"nielsen\" ? $2 : 1/0):3", "Nielsen [784,30,10], quadratic cost, SGD"});
        if (run_modern)
            losses.push_back(
                {batches_path, "(strcol(1) eq \"modern\" ? $2 : 1/0):3", "784-256-128-10, ReLU, cross-entropy, Adam"});
        lesson::plot_png(lesson::path_in(out, "mlp_fashion_loss.png"), losses,
                         {"Fashion-MNIST: training loss of the MLPs (each point: mean over 1/50 of an epoch)", "epoch",
                          "training loss", true});
        fmt::print("Done in {:.1f} s\n", clock.seconds());
        return claims.exit_code();
    });
}
