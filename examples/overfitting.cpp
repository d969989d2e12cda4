// Lesson 6, overfitting and regularisation: random labels memorised, then L2 and dropout on 1000 Fashion-MNIST images.
#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <tuple>
#include <memory>
#include <numeric>
#include <random>

#include "lesson.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
namespace data = tapegrad::data;

namespace {

// ---- Part A: random points, random labels (tutorial 002, 15.4.1) ----

/// n points uniform in the unit square, each labelled 0 or 1 by a coin.
void random_points(std::size_t n, tg::Generator& gen, tg::Tensor<double>& X, tg::Indices& labels) {
    X = tg::Tensor<double>::from_shape({n, 2});
    labels.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        X(i, 0) = gen.uniform();
        X(i, 1) = gen.uniform();
        labels[i] = gen.uniform() < 0.5 ? 0 : 1;
    }
}

struct PointsResult {
    double train_accuracy, test_accuracy, loss;
};

/// A 3-layer network (2 inputs, `hidden` tanh units, 2 outputs) trained with Adam until it
/// separates points that have no pattern at all; then asked about fresh random points.
PointsResult memorise_points(std::size_t n, std::size_t hidden, int iterations, double scale, std::uint64_t seed,
                             const std::string& out) {
    tg::Generator gen(seed);
    tg::Tensor<double> X, X_test;
    tg::Indices labels, labels_test;
    random_points(n, gen, X, labels);
    random_points(1000, gen, X_test, labels_test);
    tg::manual_seed(seed);
    nn::Sequential<double> net{nn::Linear<double>(2, hidden), nn::Tanh{}, nn::Linear<double>(hidden, 2)};
    // Large first-layer weights: each hidden unit is a sharp step across the square along a
    // random line, and enough random steps can carve out any labelling of the points.
    const auto first = net.parameters();
    nn::init::normal(first[0], 0.0, scale);
    nn::init::uniform(first[1], -scale, scale);
    tg::optim::Adam<double> adam(net.parameters(), tg::optim::AdamOptions(0.01));
    const auto x = tg::constant(X);
    double loss = 0;
    for (int it = 0; it < iterations; ++it) {
        adam.zero_grad();
        auto C = nn::cross_entropy(net(x), labels);
        C.backward();
        adam.step();
        loss = C.item();
    }
    tg::NoGradGuard no_grad;
    PointsResult r{double(lesson::correct(net(x).value(), labels)) / double(n),
                   double(lesson::correct(net(tg::constant(X_test)).value(), labels_test)) / 1000.0, loss};

    // The picture: the network's probability of class 1 over the square, and the points.
    const std::string grid = lesson::path_in(out, "overfitting_points_surface.csv");
    const std::string pts = lesson::path_in(out, "overfitting_points.csv");
    {
        lesson::Csv surface(grid, {"x1", "x2", "p1"});
        const std::size_t k = 101;
        tg::Tensor<double> G = tg::Tensor<double>::from_shape({k * k, 2});
        for (std::size_t i = 0; i < k * k; ++i) {
            G(i, 0) = double(i / k) / double(k - 1);
            G(i, 1) = double(i % k) / double(k - 1);
        }
        const auto p = tg::softmax(net(tg::constant(G)), 1).value();
        for (std::size_t i = 0; i < k * k; ++i) surface.row(G(i, 0), G(i, 1), p(i, 1));
        lesson::Csv points(pts, {"x1", "x2", "label"});
        for (std::size_t i = 0; i < n; ++i) points.row(X(i, 0), X(i, 1), labels[i]);
    }
    lesson::plot_png(lesson::path_in(out, "overfitting_points.png"),
                     {{grid, "1:2:3", "P(label 1)", "image"},
                      {pts, "1:($3 == 0 ? $2 : 1/0)", "label 0", "points pt 7 ps 1.4 lc rgb 'white'"},
                      {pts, "1:($3 == 1 ? $2 : 1/0)", "label 1", "points pt 7 ps 1.4 lc rgb 'black'"}},
                     {"Random points with random labels, separated by a 3-layer network", "x1", "x2", false,
                      "set key below\nset xrange [0:1]\nset yrange [0:1]\nset palette rgb 33,13,10"});
    return r;
}

// ---- Parts B and C: Fashion-MNIST ----

/// Costs and accuracies on the training and the test set.
struct Figures {
    double train_cost = 0, test_cost = 0, train_accuracy = 0, test_accuracy = 0;
    double accuracy_gap() const { return 100 * (train_accuracy - test_accuracy); }
    double cost_gap() const { return test_cost - train_cost; }
};

/// The cost of a batch summed over its samples (the mini-batch mean divides by m).
using DataCost = std::function<tg::Variable<float>(const tg::Variable<float>&, const tg::Indices&)>;

/// Mean cost per sample (without any penalty) and accuracy, in evaluation mode.
std::pair<double, double> evaluate(nn::Sequential<float>& net, const data::DataLoader<float>& loader,
                                   const DataCost& cost) {
    tg::NoGradGuard no_grad;
    net.eval();
    double total = 0;
    std::size_t hits = 0, n = 0;
    for (const auto& batch : loader.epoch(0)) {
        const auto z = net(tg::constant(batch.images));
        total += double(cost(z, batch.labels).item());
        hits += lesson::correct(z.value(), batch.labels);
        n += batch.size();
    }
    net.train();
    return {total / double(n), double(hits) / double(n)};
}

/// How one network is trained: its cost, an optional penalty added to it, a learning-rate
/// schedule (or none), and how long.
struct Training {
    std::string name;
    DataCost cost;
    std::function<tg::Variable<float>()> penalty;  // empty: none
    tg::optim::LRScheduler* schedule = nullptr;
    std::size_t epochs, batch, eval_every;
};

/// Trains, evaluating both sets every eval_every epochs (a CSV row each time, a printed line
/// five times per run). Returns the last evaluation.
Figures train_and_watch(nn::Sequential<float>& net, tg::optim::Optimizer<float>& optimizer, const Training& t,
                        const data::ImageDataset& train, const data::ImageDataset& test, std::uint64_t seed,
                        lesson::Csv& csv) {
    const data::DataLoader<float> loader(train, data::LoaderOptions().batch_size(t.batch).seed(seed));
    const data::DataLoader<float> train_eval(train, data::LoaderOptions().batch_size(1000).shuffle(false));
    const data::DataLoader<float> test_eval(test, data::LoaderOptions().batch_size(1000).shuffle(false));
    const auto minibatch_cost = [&](const tg::Variable<float>& z, const data::Batch<float>& b) {
        auto C = t.cost(z, b.labels) / float(b.size());
        return t.penalty ? C + t.penalty() : C;
    };
    Figures f;
    lesson::Stopwatch clock;
    for (std::size_t e = 1; e <= t.epochs; ++e) {
        lesson::train_epoch(
            optimizer, loader.epoch(e - 1), [&](const tg::Tensor<float>& images) { return net(tg::constant(images)); },
            minibatch_cost, fmt::format("{:<8} epoch {:3d}/{}", t.name, e, t.epochs));
        if (t.schedule) t.schedule->step();
        if (e % t.eval_every && e != t.epochs) continue;
        std::tie(f.train_cost, f.train_accuracy) = evaluate(net, train_eval, t.cost);
        std::tie(f.test_cost, f.test_accuracy) = evaluate(net, test_eval, t.cost);
        csv.row(t.name, e, f.train_cost, f.test_cost, f.train_accuracy, f.test_accuracy);
        if (e == t.epochs || e % std::max<std::size_t>(t.epochs / 5, 1) == 0)
            fmt::print(
                "{:<8} epoch {:3d}/{}  cost train {:.3f} test {:.3f}  accuracy train {:6.2f}% test {:6.2f}%"
                "  {:.1f} s\n",
                t.name, e, t.epochs, f.train_cost, f.test_cost, 100 * f.train_accuracy, 100 * f.test_accuracy,
                clock.seconds());
    }
    return f;
}

/// network2.py's cross-entropy cost: -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)] over the 10
/// sigmoid outputs a = sigmoid(z), summed over the samples.
tg::Variable<float> sigmoid_cross_entropy(const tg::Variable<float>& z, const tg::Indices& labels) {
    return nn::binary_cross_entropy_with_logits(z, tg::constant(lesson::one_hot<float>(labels, 10)),
                                                nn::Reduction::sum);
}

/// Nielsen's chapter 3 network: [784, hidden, 10] sigmoid units, weights ~ N(0, 1/n_in), biases
/// ~ N(0, 1); dropout (when asked) on the input and on the hidden units.
nn::Sequential<float> nielsen_network(std::size_t hidden, double drop_input, double drop_hidden) {
    nn::Sequential<float> net;
    if (drop_input > 0) net.push_back(nn::Dropout<float>(drop_input));
    net.push_back(nn::Linear<float>(784, hidden));
    net.push_back(nn::Sigmoid{});
    if (drop_hidden > 0) net.push_back(nn::Dropout<float>(drop_hidden));
    net.push_back(nn::Linear<float>(hidden, 10));
    for (const auto& [name, p] : net.named_parameters()) {
        const bool weight = name.find("weight") != std::string::npos;
        nn::init::normal(p, 0.0, weight ? 1.0 / std::sqrt(double(p.shape()[1])) : 1.0);
    }
    return net;
}

/// The weights (not the biases) of a network: what L2 regularisation shrinks.
std::vector<tg::Variable<float>> weights_of(const nn::Module<float>& net) {
    std::vector<tg::Variable<float>> w;
    for (const auto& [name, p] : net.named_parameters())
        if (name.find("weight") != std::string::npos) w.push_back(p);
    return w;
}

}  // namespace

int main(int argc, char** argv) {
    return lesson::run([&]() -> int {
        lesson::Flags flags(argc, argv,
                            "Lesson 6 (tutorials 002 and 003, Nielsen ch. 3): a network with enough units learns\n"
                            "anything, even random labels, so the training error says little; L2 regularisation and\n"
                            "dropout narrow the gap between training and test on 1000 Fashion-MNIST images.");
        const bool fast = flags.flag("--fast", "fewer images and epochs (the ctest mode)");
        const std::string part = flags.value<std::string>("--part", "all", "points, random, regularise or all");
        const double scale = flags.value("--init-scale", 10.0, "A: std of the first-layer weights");
        const std::size_t n_random = flags.value<std::size_t>("--random-size", fast ? 300 : 1000, "B: images");
        const std::size_t random_epochs = flags.value<std::size_t>("--random-epochs", fast ? 60 : 150, "B: epochs");
        const std::size_t n_train = flags.value<std::size_t>("--train-size", fast ? 500 : 1000, "C: training images");
        const std::size_t n_test = flags.value<std::size_t>("--test-size", fast ? 2000 : 10000, "B, C: test images");
        const std::size_t epochs = flags.value<std::size_t>("--epochs", fast ? 60 : 400, "C: epochs per run");
        const std::size_t hidden = flags.value<std::size_t>("--hidden", 100, "C: hidden units");
        const double eta = flags.value("--eta", 0.1, "C: SGD learning rate at the start of the cosine schedule");
        const double lambda = flags.value("--lambda", 5.0, "C: L2 weight lambda in lambda/(2n) sum w^2");
        const double drop_input = flags.value("--drop-input", 0.2, "C: dropout probability of the inputs");
        const double drop_hidden = flags.value("--drop-hidden", 0.5, "C: dropout probability of the hidden units");
        const std::uint64_t seed = flags.value<std::uint64_t>("--seed", 1, "seed of data, weights and batch order");
        const std::string out = flags.value<std::string>("--out", ".", "directory for the CSV and PNG files");
        flags.done();
        const bool all = part == "all";
        if (!all && part != "points" && part != "random" && part != "regularise")
            throw std::invalid_argument("--part must be points, random, regularise or all");
        lesson::Claims claims;
        lesson::Stopwatch clock;
        tg::set_num_threads(1);

        if (all || part == "points") {
            fmt::print("A. 100 random points in the unit square with random labels, 2-200-2 tanh network, Adam\n");
            const auto a = memorise_points(100, 200, fast ? 1500 : 3000, scale, seed, out);
            fmt::print("   training accuracy {:.0f}% (cost {:.4f}); on 1000 new random points {:.1f}% (chance 50%)\n\n",
                       100 * a.train_accuracy, a.loss, 100 * a.test_accuracy);
            claims.check(a.train_accuracy == 1.0, "the network separates random points by their random labels");
            claims.check(std::abs(a.test_accuracy - 0.5) < 0.08, "on new random points it is at chance ({:.1f}%)",
                         100 * a.test_accuracy);
            if (part == "points") return claims.exit_code();
        }

        data::ImageDataset full_train, full_test;
        if (!lesson::load_fashion(full_train, full_test)) {
            const int code = claims.exit_code();
            return code ? code : lesson::skipped;
        }
        const data::ImageDataset test = full_test.subset(std::min(n_test, full_test.size()));
        const std::string csv_path = lesson::path_in(out, "overfitting.csv");
        lesson::Csv csv(csv_path, {"run", "epoch", "train_cost", "test_cost", "train_accuracy", "test_accuracy"});

        if (all || part == "random") {
            // B. Images with their labels shuffled: there is nothing to learn, yet a wide enough
            //    network drives the training cost to zero. On the test set (true labels) it is at
            //    chance: the training figures alone cannot tell learning from memorising.
            const data::ImageDataset some = full_train.subset(n_random);
            tg::Indices shuffled = some.labels();
            std::mt19937_64 rng(seed);
            std::shuffle(shuffled.begin(), shuffled.end(), rng);
            const data::ImageDataset random_labels(some.pixels(), shuffled, 1, 28, 28, 10);
            fmt::print("B. {} Fashion-MNIST images with shuffled labels, [784, 512, 10] ReLU, softmax, Adam\n",
                       n_random);
            tg::manual_seed(seed);
            nn::Sequential<float> net{nn::Linear<float>(784, 512), nn::ReLU{}, nn::Linear<float>(512, 10)};
            tg::optim::Adam<float> adam(net.parameters(), tg::optim::AdamOptions(1e-3));
            const DataCost softmax_cost = [](const tg::Variable<float>& z, const tg::Indices& labels) {
                return nn::cross_entropy(z, labels, nn::Reduction::sum);
            };
            const Figures f = train_and_watch(net, adam, {"random", softmax_cost, {}, nullptr, random_epochs, 50, 10},
                                              random_labels, test, seed, csv);
            // Chance-level cost is ln 10 = 2.30; "memorised" is every label right at a small fraction of it.
            claims.check(f.train_accuracy > 0.99 && f.train_cost < 0.25,
                         "the network memorises random labels: training accuracy {:.1f}%, cost {:.3f}",
                         100 * f.train_accuracy, f.train_cost);
            claims.check(f.test_accuracy < 0.16, "on the test set it is at chance: {:.1f}% (chance 10%)",
                         100 * f.test_accuracy);
            fmt::print("\n");
        }

        if (all || part == "regularise") {
            // C. True labels, Nielsen's chapter 3 set-up on 1000 training images: sigmoid units,
            //    the cross-entropy cost, SGD with mini-batches of 10. The learning rate follows a
            //    cosine from eta down to 0, so the final figures are not SGD noise.
            const data::ImageDataset train = full_train.subset(n_train);
            fmt::print(
                "C. {} Fashion-MNIST images, [784, {}, 10] sigmoid, cross-entropy, SGD (eta {} with a cosine "
                "schedule), mini-batch 10, {} epochs\n",
                n_train, hidden, eta, epochs);
            const auto run = [&](const std::string& name, double l2, double p_in, double p_hidden) {
                tg::manual_seed(seed);
                nn::Sequential<float> net = nielsen_network(hidden, p_in, p_hidden);
                tg::optim::SGD<float> sgd(net.parameters(), tg::optim::SGDOptions(eta));
                tg::optim::CosineAnnealingLR cosine(sgd, std::max(1L, long(epochs)));
                const auto w = weights_of(net);
                // L2: C = C0 + lambda/(2n) sum_w w^2, n the size of the whole training set.
                const float decay = float(l2 / (2.0 * double(train.size())));
                std::function<tg::Variable<float>()> penalty;
                if (l2 > 0) penalty = [w, decay] { return decay * nn::l2_penalty(w); };
                return train_and_watch(net, sgd, {name, sigmoid_cross_entropy, penalty, &cosine, epochs, 10, 10}, train,
                                       test, seed, csv);
            };
            const Figures plain = run("plain", 0, 0, 0);
            const Figures l2 = run("L2", lambda, 0, 0);
            const Figures drop = run("dropout", 0, drop_input, drop_hidden);
            fmt::print("\n   {:<40} {:^24}   {:^22}\n", "", "accuracy (%)", "cost per image");
            fmt::print("   {:<40} {:>8} {:>8} {:>6}   {:>7} {:>7} {:>6}\n", "", "train", "test", "gap", "train", "test",
                       "gap");
            const auto line = [](const std::string& what, const Figures& f) {
                fmt::print("   {:<40} {:>8.2f} {:>8.2f} {:>6.2f}   {:>7.3f} {:>7.3f} {:>6.3f}\n", what,
                           100 * f.train_accuracy, 100 * f.test_accuracy, f.accuracy_gap(), f.train_cost, f.test_cost,
                           f.cost_gap());
            };
            line("no regularisation", plain);
            line(fmt::format("L2, lambda = {}", lambda), l2);
            line(fmt::format("dropout, p = {} (input), {} (hidden)", drop_input, drop_hidden), drop);
            claims.check(plain.accuracy_gap() > 10,
                         "without regularisation the network overfits: {:.1f}% on its training images, {:.1f}% on "
                         "the test set",
                         100 * plain.train_accuracy, 100 * plain.test_accuracy);
            claims.check(l2.accuracy_gap() < plain.accuracy_gap() && l2.cost_gap() < plain.cost_gap(),
                         "L2 narrows the train/test gap: accuracy {:.1f} -> {:.1f} points, cost {:.2f} -> {:.2f}",
                         plain.accuracy_gap(), l2.accuracy_gap(), plain.cost_gap(), l2.cost_gap());
            claims.check(drop.accuracy_gap() < plain.accuracy_gap() && drop.cost_gap() < plain.cost_gap(),
                         "dropout narrows the train/test gap: accuracy {:.1f} -> {:.1f} points, cost {:.2f} -> {:.2f}",
                         plain.accuracy_gap(), drop.accuracy_gap(), plain.cost_gap(), drop.cost_gap());

            std::vector<lesson::Series> accuracy, cost;
            for (const char* r : {"plain", "L2", "dropout"}) {
                const std::string only = fmt::format("(strcol(1) eq \"{}\" ? $2 : 1/0)", r);
                accuracy.push_back({csv_path, only + ":($5 * 100)", fmt::format("{} train", r)});
                accuracy.push_back({csv_path, only + ":($6 * 100)", fmt::format("{} test", r)});
                cost.push_back({csv_path, only + ":3", fmt::format("{} train", r)});
                cost.push_back({csv_path, only + ":4", fmt::format("{} test", r)});
            }
            lesson::plot_png(lesson::path_in(out, "overfitting_accuracy.png"), accuracy,
                             {fmt::format("{} training images: accuracy", n_train), "epoch", "accuracy (%)", false,
                              "set key bottom right"});
            lesson::plot_png(lesson::path_in(out, "overfitting_cost.png"), cost,
                             {fmt::format("{} training images: cost per image", n_train), "epoch",
                              "cross-entropy (without penalty)", true});
        }
        fmt::print("Wrote {}\nDone in {:.1f} s\n", csv_path, clock.seconds());
        return claims.exit_code();
    });
}
