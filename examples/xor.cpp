// Lesson 1, XOR: logistic regression fails, the feature x1*x2 rescues it, a 2-2-1 sigmoid network learns it.
#include <cmath>
#include <vector>

#include "lesson.hpp"

namespace tg = tapegrad;
using Var = tg::Variable<double>;
using Tensor = tg::Tensor<double>;
using Array = xt::xarray<double>;  // for literals; converts to Tensor

namespace {

// The four points of XOR and their targets t: 1 when exactly one input is 1.
const Tensor X = Array{{0, 0}, {0, 1}, {1, 0}, {1, 1}};
const Tensor t = lesson::column({0., 1., 1., 0.});

/// Rows [1, x1, x2] (and x1*x2 when asked): the bias as the weight of a constant input x0 = 1,
/// so the weights read [w0, w1, w2(, w3)] as in the tutorial.
Tensor augment(bool with_product) {
    Tensor A = Tensor::from_shape({4, with_product ? 4u : 3u});
    for (std::size_t r = 0; r < 4; ++r) {
        A(r, 0) = 1;
        A(r, 1) = X(r, 0);
        A(r, 2) = X(r, 1);
        if (with_product) A(r, 3) = X(r, 0) * X(r, 1);
    }
    return A;
}

/// How many of the four points a probability y > 0.5 (or <= 0.5) puts on the right side.
int hits(const Tensor& y) {
    int n = 0;
    for (std::size_t r = 0; r < 4; ++r) n += (y(r, 0) > 0.5) == (t(r, 0) > 0.5);
    return n;
}

/// The name of the Boolean function a unit computes, read from its rounded outputs at
/// (0,0), (0,1), (1,0), (1,1).
std::string boolean_name(double o00, double o01, double o10, double o11) {
    static const char* names[16] = {"0",      "AND",          "x1 AND NOT x2", "x1",   "x2 AND NOT x1", "x2",
                                    "XOR",    "OR",           "NOR",           "XNOR", "NOT x2",        "x1 OR NOT x2",
                                    "NOT x1", "x2 OR NOT x1", "NAND",          "1"};
    const int bits = (o00 > 0.5) << 3 | (o01 > 0.5) << 2 | (o10 > 0.5) << 1 | (o11 > 0.5);
    return names[bits];
}

std::string row_string(const Tensor& y) {
    return fmt::format("[{:.3f}, {:.3f}, {:.3f}, {:.3f}]", y(0, 0), y(1, 0), y(2, 0), y(3, 0));
}

/// Full-batch gradient descent, as the tutorial writes it:
///   for each epoch:  error = J(Y | X, W, V);  w = w - learning rate * dJ/dw
/// `model` returns the predicted probabilities y; J is the mean cross-entropy.
/// Returns the loss after every epoch.
template <class Model>
std::vector<double> gradient_descent(Model&& model, const std::vector<Var>& weights, int epochs, double eta) {
    const Var target = tg::constant(t);
    tg::optim::SGD<double> sgd(weights, tg::optim::SGDOptions(eta));
    std::vector<double> losses;
    for (int e = 0; e < epochs; ++e) {
        sgd.zero_grad();
        Var J = tg::nn::binary_cross_entropy(model(), target);
        J.backward();
        sgd.step();
        losses.push_back(J.item());
    }
    return losses;
}

/// The 2-2-1 network of the tutorial: z = sigma(x W + b), y = sigma(z V + c).
struct Network {
    Var W, b, V, c;
    explicit Network(std::uint64_t seed) {
        tg::Generator gen(seed);
        W = tg::randn<double>({2, 2}, gen, true);
        b = tg::randn<double>({2}, gen, true);
        V = tg::randn<double>({2, 1}, gen, true);
        c = tg::randn<double>({1}, gen, true);
    }
    std::vector<Var> weights() const { return {W, b, V, c}; }
    Var hidden(const Var& x) const { return tg::sigmoid(tg::matmul(x, W) + b); }
    Var operator()(const Var& x) const { return tg::sigmoid(tg::matmul(hidden(x), V) + c); }
};

}  // namespace

int main(int argc, char** argv) {
    return lesson::run([&] {
        lesson::Flags flags(argc, argv,
                            "Lesson 1 (tutorial 000): XOR is not linearly separable. Logistic regression fails, the\n"
                            "hand-made feature x1*x2 makes it separable, and a 2-2-1 sigmoid network learns a feature\n"
                            "of its own.");
        const bool fast = flags.flag("--fast", "fewer epochs and restarts (the ctest mode)");
        const int epochs = flags.value("--epochs", fast ? 2000 : 10000, "gradient-descent epochs per model");
        const double eta = flags.value("--eta", 2.0, "learning rate of gradient descent");
        const int restarts = flags.value("--restarts", fast ? 20 : 100, "random starts of the network");
        const std::uint64_t seed = flags.value<std::uint64_t>("--seed", 1, "seed of the network's first start");
        const std::string out = flags.value<std::string>("--out", ".", "directory for the CSV and PNG files");
        flags.done();
        lesson::Claims claims;
        lesson::Stopwatch clock;
        const Var target = tg::constant(t);

        // 1. Logistic regression y = sigma(w0 + w1 x1 + w2 x2). The cross-entropy is convex and
        //    XOR symmetric, so the best weights are all zero: y = 0.5 everywhere, J = ln 2.
        fmt::print("1. Logistic regression on (x1, x2)\n");
        const Var X3 = tg::constant(augment(false));
        const Var w_lr = tg::parameter(lesson::column({0.3, -0.2, 0.1}));
        const auto loss_lr = gradient_descent([&] { return tg::sigmoid(tg::matmul(X3, w_lr)); }, {w_lr}, epochs, eta);
        const Tensor y_lr = tg::sigmoid(tg::matmul(X3, w_lr)).value();
        fmt::print("   after {} epochs: J = {:.4f} (ln 2 = {:.4f}), y = {}, {} of 4 right\n", epochs, loss_lr.back(),
                   std::log(2.0), row_string(y_lr), hits(y_lr));
        claims.check(hits(y_lr) < 4 && loss_lr.back() > 0.69,
                     "logistic regression cannot separate XOR (J stays at ln 2, {} of 4 right)", hits(y_lr));

        // 2. The same unit with a fourth input x3 = x1 * x2. The tutorial's hint
        //    [w0, w1, w2, w3] = [-0.5, 1, 1, -2] gives z = -0.5, 0.5, 0.5, -0.5 on the four points.
        fmt::print("\n2. Logistic regression on (x1, x2, x1*x2)\n");
        const Var X4 = tg::constant(augment(true));
        const Var hint = tg::constant(lesson::column({-0.5, 1., 1., -2.}));
        const Tensor y_hint = tg::sigmoid(tg::matmul(X4, hint)).value();
        fmt::print("   hint weights [-0.5, 1, 1, -2]: y = {}, {} of 4 right, J = {:.4f}\n", row_string(y_hint),
                   hits(y_hint), tg::nn::binary_cross_entropy(tg::constant(y_hint), target).item());
        claims.check(hits(y_hint) == 4, "the hint weights [-0.5, 1, 1, -2] classify XOR");
        const Var w_ft = tg::parameter(lesson::column({0.3, -0.2, 0.1, 0.0}));
        const auto loss_ft = gradient_descent([&] { return tg::sigmoid(tg::matmul(X4, w_ft)); }, {w_ft}, epochs, eta);
        const Tensor y_ft = tg::sigmoid(tg::matmul(X4, w_ft)).value();
        const Tensor& w = w_ft.value();
        // Learned weights keep growing (the data are separable), but their direction settles:
        // scaled to w1 = 1 they approach the hint's proportions.
        fmt::print("   learned by gradient descent: J = {:.4f}, y = {}, {} of 4 right\n", loss_ft.back(),
                   row_string(y_ft), hits(y_ft));
        fmt::print("   learned w = [{:.2f}, {:.2f}, {:.2f}, {:.2f}], scaled to w1 = 1: [{:.2f}, 1, {:.2f}, {:.2f}]\n",
                   w(0, 0), w(1, 0), w(2, 0), w(3, 0), w(0, 0) / w(1, 0), w(2, 0) / w(1, 0), w(3, 0) / w(1, 0));
        claims.check(hits(y_ft) == 4, "with the feature x1*x2 gradient descent learns XOR (J = {:.4f})",
                     loss_ft.back());

        // 3. A 2-2-1 sigmoid network finds a feature of its own: hidden unit z1 or z2 turns into
        //    a Boolean function such as OR, AND or NAND, and the output unit combines the two.
        fmt::print("\n3. A 2-2-1 sigmoid network, cross-entropy, gradient descent (eta = {})\n", eta);
        const Var x = tg::constant(X);
        Network net(seed);
        const auto loss_nn = gradient_descent([&] { return net(x); }, net.weights(), epochs, eta);
        const Tensor y_nn = net(x).value();
        const Tensor z_nn = net.hidden(x).value();
        fmt::print("   seed {}: J = {:.5f}, y = {}, {} of 4 right\n", seed, loss_nn.back(), row_string(y_nn),
                   hits(y_nn));
        fmt::print("   hidden features (z1, z2) per point: ");
        for (std::size_t r = 0; r < 4; ++r)
            fmt::print("({:.0f},{:.0f})->({:.2f},{:.2f}) ", X(r, 0), X(r, 1), z_nn(r, 0), z_nn(r, 1));
        fmt::print("\n   z1 computes {}, z2 computes {}: features that make XOR separable for the output unit\n",
                   boolean_name(z_nn(0, 0), z_nn(1, 0), z_nn(2, 0), z_nn(3, 0)),
                   boolean_name(z_nn(0, 1), z_nn(1, 1), z_nn(2, 1), z_nn(3, 1)));
        claims.check(hits(y_nn) == 4 && loss_nn.back() < 0.05, "the 2-2-1 network learns XOR (J = {:.5f})",
                     loss_nn.back());

        // The loss surface has local minima: from some starts two hidden units are not enough.
        int solved = 0;
        for (int r = 0; r < restarts; ++r) {
            Network other(seed + 1000 + std::uint64_t(r));
            gradient_descent([&] { return other(x); }, other.weights(), epochs, eta);
            solved += hits(other(x).value()) == 4;
        }
        if (restarts > 0) {
            fmt::print("   from {} other random starts, {} learn XOR ({:.0f}%); the rest stop in a local minimum\n",
                       restarts, solved, 100.0 * solved / restarts);
            claims.check(2 * solved > restarts, "most random starts learn XOR ({} of {})", solved, restarts);
        }

        // Curves and the network's output over the square, for the pictures.
        const std::string csv = lesson::path_in(out, "xor_loss.csv");
        {
            lesson::Csv curves(csv, {"epoch", "logistic", "logistic_with_x1x2", "network_2_2_1"});
            for (int e = 0; e < epochs; ++e) curves.row(e + 1, loss_lr[e], loss_ft[e], loss_nn[e]);
        }
        const std::string grid = lesson::path_in(out, "xor_surface.csv");
        {
            lesson::Csv surface(grid, {"x1", "x2", "y"});
            const int n = 41;
            Tensor pts = Tensor::from_shape({std::size_t(n * n), 2});
            for (int i = 0; i < n * n; ++i) {
                pts(i, 0) = (i / n) / double(n - 1);
                pts(i, 1) = (i % n) / double(n - 1);
            }
            const Tensor y = net(tg::constant(pts)).value();
            for (int i = 0; i < n * n; ++i) surface.row(pts(i, 0), pts(i, 1), y(i, 0));
        }
        fmt::print("\nWrote {} and {}\n", csv, grid);
        lesson::plot_png(lesson::path_in(out, "xor_loss.png"),
                         {{csv, "1:2", "logistic regression (x1, x2)"},
                          {csv, "1:3", "logistic regression (x1, x2, x1*x2)"},
                          {csv, "1:4", "2-2-1 sigmoid network"}},
                         {"XOR: cross-entropy during gradient descent", "epoch", "J", true});
        lesson::plot_png(lesson::path_in(out, "xor_surface.png"), {{grid, "1:2:3", "network output y", "image"}},
                         {"XOR: what the 2-2-1 network computes", "x1", "x2", false,
                          "unset key\nset xrange [-0.0125:1.0125]\nset yrange [-0.0125:1.0125]\n"
                          "set palette rgb 33,13,10"});
        fmt::print("Done in {:.1f} s\n", clock.seconds());
        return claims.exit_code();
    });
}
