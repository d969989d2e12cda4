// Lesson 2, test scores from (sleep, study): forward pass, cost J, backprop, gradient checking, BFGS, regularisation.
#include <algorithm>
#include <cmath>
#include <vector>

#include "lesson.hpp"

namespace tg = tapegrad;
using Var = tg::Variable<double>;
using Tensor = tg::Tensor<double>;
using Array = xt::xarray<double>;  // for literals; converts to Tensor

namespace {

/// The tutorial's Neural_Network: 2 inputs, 3 hidden sigmoid units, 1 sigmoid output, no
/// biases. W(1) is 2x3 and W(2) is 3x1, one column per receiving neuron, so a batch X (one
/// sample per row) goes forward as z(2) = X W(1), a(2) = f(z(2)), z(3) = a(2) W(2), yHat = f(z(3)).
struct NeuralNetwork {
    Var W1, W2;
    double Lambda = 0;  // weight of the regularisation term (part 7)

    explicit NeuralNetwork(std::uint64_t seed, double Lambda = 0) : Lambda(Lambda) {
        tg::Generator gen(seed);  // np.random.randn, seeded
        W1 = tg::randn<double>({2, 3}, gen, true);
        W2 = tg::randn<double>({3, 1}, gen, true);
    }
    std::vector<Var> params() const { return {W1, W2}; }

    Var forward(const Var& X) const {
        const Var z2 = tg::matmul(X, W1);
        const Var a2 = tg::sigmoid(z2);
        const Var z3 = tg::matmul(a2, W2);
        return tg::sigmoid(z3);  // yHat
    }
    /// J = 1/2 sum (y - yHat)^2 (parts 3-6). With regularisation (part 7) the sum is divided
    /// by the number of samples, so J does not grow with the data, and Lambda/2 sum W^2 is
    /// added: J = 1/2 sum (y - yHat)^2 / N + Lambda/2 (sum W(1)^2 + sum W(2)^2).
    Var cost(const Var& X, const Var& y, bool per_sample = false) const {
        const Var e = y - forward(X);
        Var J = 0.5 * tg::sum(e * e);
        if (per_sample) J = J / double(X.shape()[0]);
        if (Lambda > 0) J = J + Lambda / 2 * tg::nn::l2_penalty(params());
        return J;
    }
};

/// X scaled by a column maximum, y / 100: inputs and outputs in [0, 1].
Var scaled(Tensor X, const Tensor& column_max) {
    for (std::size_t r = 0; r < X.shape()[0]; ++r)
        for (std::size_t c = 0; c < X.shape()[1]; ++c) X(r, c) /= column_max(c);
    return tg::constant(X);
}

/// The tutorial's computeNumericalGradient: nudge each weight by +-e, central difference of J.
std::vector<double> numerical_gradient(const NeuralNetwork& N, const Var& X, const Var& y, double e = 1e-4) {
    std::vector<double> g;
    for (const Var& W : N.params())
        for (std::size_t i = 0; i < W.size(); ++i) {
            double& w = W.mutable_value().data()[i];
            const double w0 = w;
            w = w0 + e;
            const double loss2 = N.cost(X, y).item();
            w = w0 - e;
            const double loss1 = N.cost(X, y).item();
            w = w0;
            g.push_back((loss2 - loss1) / (2 * e));
        }
    return g;
}

double norm(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x * x;
    return std::sqrt(s);
}

/// BFGS on J until it converges (scipy's method='BFGS' with maxiter 200 in the tutorial).
/// `each` is called after every iteration with the iteration number.
struct Trained {
    tg::optim::QuasiNewtonReport report;
    std::size_t below_iterations = 0, below_evaluations = 0;  // when J first fell below 1e-6 (0: never)
};
template <class Each>
Trained train_bfgs(NeuralNetwork& N, const Var& X, const Var& y, bool per_sample, Each&& each) {
    Trained result;
    tg::optim::BFGS<double> bfgs(N.params(), tg::optim::BFGSOptions().max_iter(200).max_eval(400).callback(
                                                 [&](const tg::optim::QuasiNewtonProgress& p) {
                                                     if (p.loss < 1e-6 && !result.below_iterations) {
                                                         result.below_iterations = p.iteration;
                                                         result.below_evaluations = p.evaluations;
                                                     }
                                                     each(p.iteration);
                                                     return false;
                                                 }));
    bfgs.step([&] {
        bfgs.zero_grad();
        Var J = N.cost(X, y, per_sample);
        J.backward();
        return J.item();
    });
    result.report = bfgs.report();
    return result;
}

std::string column(const Tensor& v, double scale = 1) {
    std::vector<std::string> s;
    for (std::size_t i = 0; i < v.size(); ++i) s.push_back(fmt::format("{:.1f}", v.data()[i] * scale));
    return "[" + fmt::format("{}", fmt::join(s, ", ")) + "]";
}

}  // namespace

int main(int argc, char** argv) {
    return lesson::run([&] {
        lesson::Flags flags(argc, argv,
                            "Lesson 2 (tutorial 001): predict a test score from hours of sleep and study with a 2-3-1\n"
                            "sigmoid network; check its gradient numerically, train it with BFGS, then see\n"
                            "overfitting and regularisation on 4 training and 4 test samples.");
        const bool fast = flags.flag("--fast", "fewer random starts (the ctest mode)");
        const std::uint64_t seed = flags.value<std::uint64_t>("--seed", 5, "seed of the initial weights");
        const int starts = flags.value("--starts", fast ? 20 : 100, "random starts for the BFGS statistics");
        const double Lambda = flags.value("--lambda", 1e-4, "regularisation weight of part 7");
        const std::string out = flags.value<std::string>("--out", ".", "directory for the CSV and PNG files");
        flags.done();
        lesson::Claims claims;
        lesson::Stopwatch clock;

        // Part 1: the data. Scale each input column by its maximum, scores by 100.
        const Tensor X_hours = Array{{3, 5}, {5, 1}, {10, 2}};
        const Tensor max_hours = Array{10, 5};
        const Var X = scaled(X_hours, max_hours);
        const Var y = tg::constant(lesson::column({75., 82., 93.}) / 100.0);

        // Part 2: forward propagation with random weights.
        NeuralNetwork NN(seed);
        fmt::print("Forward pass with random weights (seed {}):\n", seed);
        fmt::print("  yHat = {}   y = {}   (scores)\n", column(NN.forward(X).value(), 100), column(y.value(), 100));

        // Part 3: the cost J = 1/2 sum (y - yHat)^2 that training minimises.
        const Var J = NN.cost(X, y);
        fmt::print("  J = {:.6f}\n", J.item());
        // The same J as a page to step through: the forward pass op by op, then backpropagation one
        // VJP at a time (open explorer_test_scores.html in a browser; lesson 7 explains the page).
        lesson::write_explorer(out, "explorer_test_scores", J,
                               tg::HtmlOptions()
                                   .title("Test scores: J = 1/2 sum (y - sigmoid(sigmoid(X W1) W2))^2")
                                   .name(X, "X")
                                   .name(y, "y")
                                   .name(NN.W1, "W1")
                                   .name(NN.W2, "W2")
                                   .name(J, "J"));
        fmt::print("\n");

        // Part 4: backpropagation by hand, as the tutorial derives it, against tapegrad's sweep.
        //   delta(3) = -(y - yHat) f'(z(3));           dJ/dW(2) = a(2)^T delta(3)
        //   delta(2) = delta(3) W(2)^T (.) f'(z(2));   dJ/dW(1) = X^T delta(2)
        // (f'(z) = f(z)(1 - f(z)) for the sigmoid; the matrix products below only compute.)
        {
            const auto fprime = [](const Var& z) { return tg::sigmoid(z) * (1.0 - tg::sigmoid(z)); };
            const Var z2 = tg::matmul(X, NN.W1.detach()), a2 = tg::sigmoid(z2);
            const Var z3 = tg::matmul(a2, NN.W2.detach()), yHat = tg::sigmoid(z3);
            const Var delta3 = -(y - yHat) * fprime(z3);
            const Var dJdW2 = tg::matmul(tg::transpose(a2), delta3);
            const Var delta2 = tg::matmul(delta3, tg::transpose(NN.W2.detach())) * fprime(z2);
            const Var dJdW1 = tg::matmul(tg::transpose(X), delta2);
            J.backward();  // tapegrad: one generic reverse sweep fills W1.grad() and W2.grad()
            const double d = std::max(xt::amax(xt::abs(dJdW1.value() - NN.W1.grad()))(),
                                      xt::amax(xt::abs(dJdW2.value() - NN.W2.grad()))());
            fmt::print("Backpropagation by hand vs tapegrad's backward(): max |difference| = {:.2e}\n", d);
            claims.check(d < 1e-12, "the hand-derived dJ/dW(1), dJ/dW(2) equal tapegrad's gradients");
        }

        // Part 5: gradient checking. Numerical gradient by central differences (e = 1e-4, as
        // the tutorial), compared with tapegrad's by norm(grad - numgrad) / norm(grad + numgrad).
        {
            NN.W1.zero_grad();
            NN.W2.zero_grad();
            NN.cost(X, y).backward();
            std::vector<double> grad;
            for (const Var& W : NN.params()) grad.insert(grad.end(), W.grad().begin(), W.grad().end());
            const std::vector<double> numgrad = numerical_gradient(NN, X, y);
            std::vector<double> diff(grad.size()), sum(grad.size());
            fmt::print("\nGradient checking       tapegrad       numerical\n");
            for (std::size_t i = 0; i < grad.size(); ++i) {
                fmt::print("  {:<9}        {:>13.10f}  {:>13.10f}\n",
                           i < 6 ? fmt::format("W(1)[{},{}]", i / 3, i % 3) : fmt::format("W(2)[{}]", i - 6), grad[i],
                           numgrad[i]);
                diff[i] = grad[i] - numgrad[i];
                sum[i] = grad[i] + numgrad[i];
            }
            const double ratio = norm(diff) / norm(sum);
            fmt::print("  norm(grad - numgrad) / norm(grad + numgrad) = {:.3e}\n", ratio);
            // The library's gradcheck reports the same ratio (and checks element by element).
            const auto report =
                tg::gradcheck<double>([&] { return NN.cost(X, y); }, NN.params(), tg::GradcheckOptions().eps(1e-4));
            fmt::print("  tg::gradcheck (eps 1e-4): relative_difference {:.3e}; {}\n", report.relative_difference,
                       report.summary());
            claims.check(ratio < 1e-8 && report.relative_difference < 1e-8 && report.passed,
                         "gradient check: norm(g - n) / norm(g + n) = {:.2e} < 1e-8", ratio);
        }

        // Part 6: training with BFGS, from the same random weights.
        fmt::print("\nTraining with BFGS (max 200 iterations):\n");
        std::vector<double> curve;
        const Trained t = train_bfgs(NN, X, y, false, [&](std::size_t) { curve.push_back(NN.cost(X, y).item()); });
        fmt::print("  {}\n", t.report.summary());
        fmt::print("  J < 1e-6 after {} iterations ({} evaluations of J and its gradient)\n", t.below_iterations,
                   t.below_evaluations);
        fmt::print("  yHat = {}   y = {}\n", column(NN.forward(X).value(), 100), column(y.value(), 100));
        const Var query = scaled(Array{{8, 3}}, max_hours);
        const double predicted = NN.forward(query).item() * 100;
        fmt::print("  8 hours of sleep, 3 of study: predicted score {:.1f}\n", predicted);
        claims.check(t.below_iterations > 0 && t.below_iterations <= 100,
                     "BFGS reaches J < 1e-6 in tens of iterations ({})", t.below_iterations);
        {
            lesson::Csv csv(lesson::path_in(out, "sleep_study_bfgs.csv"), {"iteration", "J"});
            for (std::size_t i = 0; i < curve.size(); ++i) csv.row(i + 1, curve[i]);
        }

        // ... and from many random starts: BFGS gets there from most of them.
        std::vector<std::size_t> iterations;
        for (int s = 0; s < starts; ++s) {
            NeuralNetwork other(1000 + std::uint64_t(s));
            const Trained r = train_bfgs(other, X, y, false, [](std::size_t) {});
            if (r.below_iterations) iterations.push_back(r.below_iterations);
        }
        std::sort(iterations.begin(), iterations.end());
        const std::size_t reached = iterations.size();
        if (starts > 0) {
            fmt::print("  from {} random starts: {} reach J < 1e-6 (median {} iterations, at most {})\n", starts,
                       reached, reached ? iterations[reached / 2] : 0, reached ? iterations.back() : 0);
            claims.check(2 * reached > std::size_t(starts), "BFGS reaches J < 1e-6 from most starts ({} of {})",
                         reached, starts);
        }

        // Part 7: overfitting. Four training and four test samples; inputs of both scaled by the
        // training maximum. (The tutorial's notebook divides testX by the already-scaled
        // trainX's maximum, 1, by mistake; here both use the raw training maximum.)
        fmt::print("\nOverfitting and regularisation (4 training, 4 test samples, J per sample):\n");
        const Tensor train_hours = Array{{3, 5}, {5, 1}, {10, 2}, {6, 1.5}};
        const Tensor train_max = Array{10, 5};
        const Var trainX = scaled(train_hours, train_max);
        const Var trainY = tg::constant(lesson::column({75., 82., 93., 70.}) / 100.0);
        const Var testX = scaled(Array{{4, 5.5}, {4.5, 1}, {9, 2.5}, {6, 2}}, train_max);
        const Var testY = tg::constant(lesson::column({70., 89., 85., 75.}) / 100.0);
        const std::string csv7 = lesson::path_in(out, "sleep_study_regularisation.csv");
        lesson::Csv curves(csv7, {"iteration", "lambda", "train_J", "test_J"});
        double gap[2], test_cost[2], train_cost[2];
        for (int k = 0; k < 2; ++k) {
            const double lambda = k == 0 ? 0.0 : Lambda;
            NeuralNetwork R(seed, lambda);
            // The data term of J on each set, without the penalty: what the model gets wrong.
            const auto data_cost = [&](const Var& Xs, const Var& ys) {
                NeuralNetwork plain = R;
                plain.Lambda = 0;
                return plain.cost(Xs, ys, true).item();
            };
            const Trained r = train_bfgs(R, trainX, trainY, true, [&](std::size_t i) {
                curves.row(i, lambda, data_cost(trainX, trainY), data_cost(testX, testY));
            });
            train_cost[k] = data_cost(trainX, trainY);
            test_cost[k] = data_cost(testX, testY);
            gap[k] = test_cost[k] - train_cost[k];
            fmt::print("  Lambda = {:<6}: train J {:.2e}, test J {:.2e} (gap {:.2e}); {} iterations\n", lambda,
                       train_cost[k], test_cost[k], gap[k], r.report.iterations);
            fmt::print("                  test yHat = {}   y = {}\n", column(R.forward(testX).value(), 100),
                       column(testY.value(), 100));
        }
        claims.check(train_cost[0] < 1e-6,
                     "without regularisation the network fits the 4 training samples (J = {:.1e})", train_cost[0]);
        claims.check(gap[1] < gap[0] && test_cost[1] < test_cost[0],
                     "Lambda = {} narrows the train/test gap ({:.2e} -> {:.2e}) and lowers the test cost", Lambda,
                     gap[0], gap[1]);
        fmt::print("Wrote {}\n", csv7);
        lesson::plot_png(lesson::path_in(out, "sleep_study_regularisation.png"),
                         {{csv7, "1:($2 == 0 ? $3 : 1/0)", "train, Lambda = 0"},
                          {csv7, "1:($2 == 0 ? $4 : 1/0)", "test, Lambda = 0"},
                          {csv7, "1:($2 > 0 ? $3 : 1/0)", "train, Lambda > 0"},
                          {csv7, "1:($2 > 0 ? $4 : 1/0)", "test, Lambda > 0"}},
                         {"Test scores: cost during BFGS", "iteration", "J (per sample, without penalty)", true,
                          "set key bottom left"});
        fmt::print("Done in {:.2f} s\n", clock.seconds());
        return claims.exit_code();
    });
}
