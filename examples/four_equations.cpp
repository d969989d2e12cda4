// Lesson 3, the four backpropagation equations by hand for Nielsen's [784, 30, 10] network, against tapegrad.
#include <cmath>
#include <vector>

#include "lesson.hpp"

namespace tg = tapegrad;
namespace nn = tapegrad::nn;
using Var = tg::Variable<double>;
using Tensor = tg::Tensor<double>;

namespace {

// ---- Nielsen's backprop(x, y), one training input at a time, in plain loops ----
// Notation of the book: w^l is the (n_l x n_{l-1}) matrix of weights into layer l, b^l its
// biases, z^l = w^l a^{l-1} + b^l the weighted input and a^l = sigma(z^l) the activation.
// Vectors are columns; layer 1 is the input.

using Vec = std::vector<double>;

double sigma(double z) { return 1 / (1 + std::exp(-z)); }
double sigma_prime(double z) { return sigma(z) * (1 - sigma(z)); }

/// w a + b for w stored row-major (rows x cols).
Vec affine(const Tensor& w, const Vec& a, const Tensor& b) {
    const std::size_t rows = w.shape()[0], cols = w.shape()[1];
    Vec z(rows);
    for (std::size_t j = 0; j < rows; ++j) {
        z[j] = b(j);
        for (std::size_t k = 0; k < cols; ++k) z[j] += w(j, k) * a[k];
    }
    return z;
}

/// w^T d.
Vec transpose_times(const Tensor& w, const Vec& d) {
    const std::size_t rows = w.shape()[0], cols = w.shape()[1];
    Vec r(cols, 0.0);
    for (std::size_t j = 0; j < rows; ++j)
        for (std::size_t k = 0; k < cols; ++k) r[k] += w(j, k) * d[j];
    return r;
}

/// What the four equations give for one training input x with target y.
struct ByHand {
    std::vector<Vec> delta;     // delta^l for l = 2..L (index 0 is layer 2)
    std::vector<Tensor> dC_db;  // dC_x/db^l
    std::vector<Tensor> dC_dw;  // dC_x/dw^l
};

ByHand backprop(const std::vector<Tensor>& w, const std::vector<Tensor>& b, const Vec& x, const Vec& y) {
    // Feedforward, keeping every z^l and a^l.
    std::vector<Vec> zs, activations{x};
    for (std::size_t l = 0; l < w.size(); ++l) {
        Vec z = affine(w[l], activations.back(), b[l]);
        Vec a(z.size());
        for (std::size_t j = 0; j < z.size(); ++j) a[j] = sigma(z[j]);
        zs.push_back(std::move(z));
        activations.push_back(std::move(a));
    }
    const std::size_t L = w.size();  // number of weight layers
    std::vector<Vec> delta(L);
    // (BP1)  delta^L = grad_a C (.) sigma'(z^L), and for the quadratic cost C_x = 1/2 ||y - a^L||^2
    //        grad_a C = a^L - y.
    const Vec& aL = activations[L];
    delta[L - 1].resize(aL.size());
    for (std::size_t j = 0; j < aL.size(); ++j) delta[L - 1][j] = (aL[j] - y[j]) * sigma_prime(zs[L - 1][j]);
    // (BP2)  delta^l = ((w^{l+1})^T delta^{l+1}) (.) sigma'(z^l), from the last layer back.
    for (std::size_t l = L - 1; l-- > 0;) {
        delta[l] = transpose_times(w[l + 1], delta[l + 1]);
        for (std::size_t j = 0; j < delta[l].size(); ++j) delta[l][j] *= sigma_prime(zs[l][j]);
    }
    ByHand out;
    for (std::size_t l = 0; l < L; ++l) {
        const Vec& a_prev = activations[l];
        // (BP3)  dC/db^l_j = delta^l_j
        Tensor db = Tensor::from_shape({delta[l].size()});
        // (BP4)  dC/dw^l_jk = a^{l-1}_k delta^l_j
        Tensor dw = Tensor::from_shape({delta[l].size(), a_prev.size()});
        for (std::size_t j = 0; j < delta[l].size(); ++j) {
            db(j) = delta[l][j];
            for (std::size_t k = 0; k < a_prev.size(); ++k) dw(j, k) = a_prev[k] * delta[l][j];
        }
        out.dC_db.push_back(std::move(db));
        out.dC_dw.push_back(std::move(dw));
    }
    out.delta = std::move(delta);
    return out;
}

double max_abs(const Tensor& t) { return t.size() ? double(xt::amax(xt::abs(t))()) : 0.0; }
double max_abs_diff(const Tensor& a, const Tensor& b) { return max_abs(Tensor(a - b)); }

/// A mini-batch: the first m Fashion-MNIST training images scaled to [0, 1], or (without the
/// data set, or in --fast mode) m images of uniform random pixels with random labels.
void mini_batch(std::size_t m, bool synthetic, Tensor& x, tg::Indices& labels) {
    tg::data::ImageDataset train, test;
    if (!synthetic && lesson::load_fashion(train, test)) {
        const auto batch = tg::data::DataLoader<double>(train, tg::data::LoaderOptions().batch_size(m).shuffle(false))
                               .epoch(0)
                               .batch(0);
        x = batch.images;
        labels = batch.labels;
        fmt::print("Mini-batch: the first {} Fashion-MNIST training images\n", m);
        return;
    }
    tg::Generator gen(7);
    x = tg::rand<double>({m, 784}, gen).value();
    labels.resize(m);
    for (auto& l : labels) l = std::size_t(gen.uniform(0, 10));
    fmt::print("Mini-batch: {} images of random pixels with random labels\n", m);
}

}  // namespace

int main(int argc, char** argv) {
    return lesson::run([&] {
        lesson::Flags flags(argc, argv,
                            "Lesson 3 (tutorial 003, Nielsen ch. 2): the four fundamental equations of\n"
                            "backpropagation written out by hand for a [784, 30, 10] sigmoid network with the\n"
                            "quadratic cost, compared with the gradients tapegrad derives by one generic\n"
                            "reverse sweep.");
        const bool fast = flags.flag("--fast", "random pixels instead of Fashion-MNIST (the ctest mode)");
        const std::size_t m = flags.value<std::size_t>("--batch", 10, "mini-batch size m");
        const std::uint64_t seed = flags.value<std::uint64_t>("--seed", 1, "seed of the weights");
        const std::string out = flags.value<std::string>("--out", ".", "directory for the CSV file");
        flags.done();
        lesson::Claims claims;
        lesson::Stopwatch clock;

        // The network as an nn model: Linear(784 -> 30), sigmoid, Linear(30 -> 10), sigmoid.
        // Linear's weight is (out, in): exactly Nielsen's w^l. Weights and biases ~ N(0, 1), as
        // in the book's network.py.
        tg::manual_seed(seed);
        nn::Sequential<double> net{nn::Linear<double>(784, 30), nn::Sigmoid{}, nn::Linear<double>(30, 10),
                                   nn::Sigmoid{}};
        for (const Var& p : net.parameters()) nn::init::normal(p, 0.0, 1.0);
        auto& layer2 = dynamic_cast<nn::Linear<double>&>(*net[0]);
        auto& layer3 = dynamic_cast<nn::Linear<double>&>(*net[2]);

        Tensor images;
        tg::Indices labels;
        mini_batch(m, fast, images, labels);
        const Var x = tg::constant(images);
        const Var y = tg::constant(lesson::one_hot<double>(labels, 10));

        // ---- tapegrad: the forward pass layer by layer (to name z^2 and z^3), the quadratic
        // cost C = 1/(2m) sum_x ||y(x) - a^3(x)||^2, and gradients from the generic sweep. ----
        const Var z2 = (*net[0])(x);
        const Var a2 = (*net[1])(z2);
        const Var z3 = (*net[2])(a2);
        const Var a3 = (*net[3])(z3);
        const Var C = nn::quadratic_cost(a3, y);
        // dC/dz^l for the batch: C is the mean of the C_x, so row x holds delta^{x,l} / m.
        const auto dC_dz = tg::grad(C, {z3, z2}, tg::GradOptions().retain_graph(true));
        C.backward();  // fills w.grad() and b.grad() of both layers
        fmt::print("C = {:.6f} on {} samples\n\n", C.item(), m);

        // ---- by hand: Nielsen's backprop(x, y) for each x, averaged over the mini-batch as
        // update_mini_batch does: dC/dw = (1/m) sum_x dC_x/dw. ----
        const std::vector<Tensor> w{layer2.weight().value(), layer3.weight().value()};
        const std::vector<Tensor> b{layer2.bias().value(), layer3.bias().value()};
        Tensor delta3 = Tensor::from_shape({m, 10}), delta2 = Tensor::from_shape({m, 30});
        Tensor dC_db2 = xt::zeros<double>({30}), dC_db3 = xt::zeros<double>({10});
        Tensor dC_dw2 = xt::zeros<double>({30, 784}), dC_dw3 = xt::zeros<double>({10, 30});
        for (std::size_t i = 0; i < m; ++i) {
            Vec xi(images.data() + i * 784, images.data() + (i + 1) * 784);
            Vec yi(10, 0.0);
            yi[labels[i]] = 1;
            const ByHand h = backprop(w, b, xi, yi);
            for (std::size_t j = 0; j < 10; ++j) delta3(i, j) = h.delta[1][j];
            for (std::size_t j = 0; j < 30; ++j) delta2(i, j) = h.delta[0][j];
            dC_db2 += h.dC_db[0] / double(m);
            dC_db3 += h.dC_db[1] / double(m);
            dC_dw2 += h.dC_dw[0] / double(m);
            dC_dw3 += h.dC_dw[1] / double(m);
        }

        // ---- the comparison ----
        struct Row {
            const char* equation;
            const char* quantity;
            Tensor by_hand, tapegrad;
        };
        const std::vector<Row> rows{
            {"BP1", "delta^3 = (a^3 - y) (.) sigma'(z^3)", delta3, dC_dz[0].value() * double(m)},
            {"BP2", "delta^2 = (w^3)^T delta^3 (.) sigma'(z^2)", delta2, dC_dz[1].value() * double(m)},
            {"BP3", "dC/db^3 = delta^3", dC_db3, layer3.bias().grad()},
            {"BP3", "dC/db^2 = delta^2", dC_db2, layer2.bias().grad()},
            {"BP4", "dC/dw^3_jk = a^2_k delta^3_j", dC_dw3, layer3.weight().grad()},
            {"BP4", "dC/dw^2_jk = a^1_k delta^2_j", dC_dw2, layer2.weight().grad()},
        };
        fmt::print("{:<4} {:<42} {:>10} {:>14} {:>14}\n", "", "by hand vs tapegrad", "shape", "max |value|",
                   "max |diff|");
        const std::string csv_path = lesson::path_in(out, "four_equations.csv");
        lesson::Csv csv(csv_path, {"equation", "quantity", "max_abs_value", "max_abs_difference"});
        double worst = 0;
        for (const Row& r : rows) {
            const double d = max_abs_diff(r.by_hand, r.tapegrad);
            worst = std::max(worst, d);
            csv.row(r.equation, fmt::format("\"{}\"", r.quantity), max_abs(r.by_hand), d);
            fmt::print("{:<4} {:<42} {:>10} {:>14.6e} {:>14.3e}\n", r.equation, r.quantity,
                       tg::shape_string(r.by_hand.shape()), max_abs(r.by_hand), d);
        }
        fmt::print("(tapegrad's delta^l is m * dC/dz^l from tg::grad: C averages the m per-sample costs C_x.)\n\n");
        claims.check(worst < 1e-10, "the four equations by hand equal tapegrad's gradients: max |difference| {:.2e}",
                     worst);

        // ---- why deep sigmoid networks learn slowly (Nielsen ch. 5): by BP2, each layer further
        // back multiplies delta by another (w^{l+1})^T and sigma'(z^l) <= 1/4, so the speed of
        // learning ||dC/db^l|| of early layers is small. tapegrad shows it for [784, 30, 30, 30, 10]. ----
        nn::Sequential<double> deep{
            nn::Linear<double>(784, 30), nn::Sigmoid{}, nn::Linear<double>(30, 30), nn::Sigmoid{},
            nn::Linear<double>(30, 30),  nn::Sigmoid{}, nn::Linear<double>(30, 10), nn::Sigmoid{}};
        for (const Var& p : deep.parameters()) nn::init::normal(p, 0.0, 1.0);
        nn::quadratic_cost(deep(x), y).backward();
        fmt::print("Speed of learning ||dC/db^l|| in a [784, 30, 30, 30, 10] sigmoid network:\n ");
        std::vector<double> speed;
        for (std::size_t i = 0; i < 4; ++i) {
            const auto& layer = dynamic_cast<nn::Linear<double>&>(*deep[2 * i]);
            speed.push_back(std::sqrt(double(xt::sum(layer.bias().grad() * layer.bias().grad())())));
            fmt::print(" layer {}: {:.4f}", i + 2, speed.back());
        }
        fmt::print("\n  (the first hidden layer learns {:.0f}x slower than the last hidden layer)\n",
                   speed[2] / speed[0]);
        for (std::size_t i = 0; i < speed.size(); ++i)
            csv.row("speed", fmt::format("\"||dC/db^{}|| in [784, 30, 30, 30, 10]\"", i + 2), speed[i], 0.0);
        fmt::print("\nWrote {}\nDone in {:.2f} s\n", csv_path, clock.seconds());
        return claims.exit_code();
    });
}
