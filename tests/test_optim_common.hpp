// Problems shared by the optim tests: Rosenbrock, the test-score network, a least-squares fit.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "helpers.hpp"

namespace tgtest {

namespace opt = tapegrad::optim;

/// f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, minimum 0 at (1, 1), from (-1.5, 2), with x and y
/// two separate 0-d parameters (so the quasi-Newton methods flatten more than one).
struct Rosenbrock {
    V x = tg::scalar<double>(-1.5, true);
    V y = tg::scalar<double>(2.0, true);
    int evaluations = 0;

    std::vector<V> params() const { return {x, y}; }
    V loss() const {
        auto a = 1.0 - x, b = y - x * x;
        return a * a + 100.0 * b * b;
    }
    /// The closure BFGS and LBFGS call: zero the gradients, recompute, backward, return the loss.
    template <class Opt>
    auto closure(Opt& optimizer) {
        return [this, &optimizer] {
            optimizer.zero_grad();
            V f = loss();
            f.backward();
            ++evaluations;
            return f.item();
        };
    }
};

/// The sleep/study test-score network: X = [[3,5],[5,1],[10,2]] / column max,
/// y = [75,82,93] / 100, a 2-3-1 sigmoid network without biases, J = 1/2 sum (y - yhat)^2,
/// weights from a seeded standard normal.
struct TestScoreNetwork {
    V X, Y, W1, W2;

    explicit TestScoreNetwork(std::uint64_t seed) {
        xt::xarray<double> x = {{3, 5}, {5, 1}, {10, 2}};
        xt::xarray<double> y = {75., 82., 93.};
        y.reshape({3, 1});
        X = tg::constant(xt::xarray<double>(x / xt::amax(x, {0})));
        Y = tg::constant(xt::xarray<double>(y / 100.0));
        tg::Generator gen(seed);
        W1 = tg::randn<double>({2, 3}, gen, true);
        W2 = tg::randn<double>({3, 1}, gen, true);
    }
    std::vector<V> params() const { return {W1, W2}; }
    V cost() const {
        V e = Y - tg::sigmoid(tg::matmul(tg::sigmoid(tg::matmul(X, W1)), W2));
        return 0.5 * tg::sum(e * e);
    }
    template <class Opt>
    auto closure(Opt& optimizer) {
        return [this, &optimizer] {
            optimizer.zero_grad();
            V J = cost();
            J.backward();
            return J.item();
        };
    }
};

/// Least squares: minimise 1/(2m) |A w - b|^2 for a fixed, well-conditioned 8x3 A.
struct LeastSquares {
    static constexpr std::size_t m = 8, n = 3;
    tg::Tensor<double> A = tg::Tensor<double>::from_shape({m, n});
    tg::Tensor<double> b = tg::Tensor<double>::from_shape({m, 1});

    LeastSquares() {
        tg::Generator gen(7);
        for (auto& v : A) v = gen.uniform(-1, 1);
        for (auto& v : b) v = gen.uniform(-1, 1);
    }
    V loss(const V& w) const {
        V r = tg::matmul(tg::constant(A), w) - tg::constant(b);
        return tg::sum(r * r) / double(2 * m);
    }
    /// The closed-form solution of the normal equations A^T A w = A^T b (Gaussian elimination).
    std::vector<double> solution() const {
        double M[n][n + 1] = {};
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t j = 0; j < n; ++j)
                for (std::size_t k = 0; k < m; ++k) M[i][j] += A(k, i) * A(k, j);
            for (std::size_t k = 0; k < m; ++k) M[i][n] += A(k, i) * b(k, 0);
        }
        for (std::size_t c = 0; c < n; ++c) {
            std::size_t pivot = c;
            for (std::size_t r = c + 1; r < n; ++r)
                if (std::abs(M[r][c]) > std::abs(M[pivot][c])) pivot = r;
            for (std::size_t j = 0; j <= n; ++j) std::swap(M[c][j], M[pivot][j]);
            for (std::size_t r = 0; r < n; ++r) {
                if (r == c) continue;
                const double f = M[r][c] / M[c][c];
                for (std::size_t j = c; j <= n; ++j) M[r][j] -= f * M[c][j];
            }
        }
        std::vector<double> w(n);
        for (std::size_t i = 0; i < n; ++i) w[i] = M[i][n] / M[i][i];
        return w;
    }
};

/// A parameter of the given values (1-D).
inline V param(std::initializer_list<double> values) {
    tg::Tensor<double> t = tg::Tensor<double>::from_shape({values.size()});
    std::copy(values.begin(), values.end(), t.begin());
    return V(std::move(t), true);
}

/// The message of the tapegrad::Error that f throws ("" if it throws none).
template <class F>
std::string error_of(F f) {
    try {
        f();
    } catch (const tg::Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace tgtest
