// The fused LSTM cell: values and gradients equal to the composition of chunk, sigmoid, tanh, * and +
// (plain and edge inputs, float and double), gradcheck + gradgradcheck in double, block(), errors.
#include <cmath>
#include <limits>
#include <vector>

#include <xtensor/xview.hpp>

#include <tapegrad/autograd/ops/rnn_cell.hpp>

#include "helpers.hpp"

using namespace tgtest;

namespace {

const double inf = std::numeric_limits<double>::infinity();
const double qnan = std::numeric_limits<double>::quiet_NaN();

/// The unfused step, as nn::LSTMCell computed it before the fused op.
template <class T>
std::pair<tg::Variable<T>, tg::Variable<T>> composed(const tg::Variable<T>& gates, const tg::Variable<T>& c_prev) {
    const auto q = tg::chunk(gates, 4, 1);
    tg::Variable<T> c = tg::sigmoid(q[1]) * c_prev + tg::sigmoid(q[0]) * tg::tanh(q[2]);
    tg::Variable<T> h = tg::sigmoid(q[3]) * tg::tanh(c);
    return {h, c};
}

/// Equal within tol relative, NaN where the other is NaN.
template <class T>
bool agree(const tg::Tensor<T>& a, const tg::Tensor<T>& b, double tol) {
    if (a.shape() != b.shape()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double x = double(a.data()[i]), y = double(b.data()[i]);
        if (std::isnan(x) || std::isnan(y)) {
            if (std::isnan(x) != std::isnan(y)) return false;
        } else if (!(x == y || std::abs(x - y) <= tol * (1 + std::abs(y)))) {
            return false;
        }
    }
    return true;
}

/// Fused and composed cell on the same leaves: values and the gradients of a loss using h and c.
template <class T>
void check_against_composition(const tg::Tensor<T>& gv, const tg::Tensor<T>& cv, double tol) {
    const tg::Variable<T> g1(gv, true), c1(cv, true), g2(gv, true), c2(cv, true);
    const auto [h, c] = tg::lstm_cell(g1, c1);
    const auto [hr, cr] = composed(g2, c2);
    CHECK(agree(h.value(), hr.value(), tol));
    CHECK(agree(c.value(), cr.value(), tol));
    // weights that are neither symmetric nor constant, so a swapped gate or row shows
    tg::Tensor<T> wv = tg::Tensor<T>::from_shape(cv.shape());
    for (std::size_t i = 0; i < wv.size(); ++i) wv.data()[i] = T(0.25) + T(i % 7) * T(0.5);
    const tg::Variable<T> w(wv);
    const auto d = tg::grad({tg::sum(h * w + c * c)}, {g1, c1});
    const auto dr = tg::grad({tg::sum(hr * w + cr * cr)}, {g2, c2});
    CHECK(agree(d[0].value(), dr[0].value(), tol));
    CHECK(agree(d[1].value(), dr[1].value(), tol));
    // as two terms (a third of the gates, and the rest) added inside the op
    const tg::Variable<T> a(tg::Tensor<T>(gv * T(0.375)), true), b(tg::Tensor<T>(gv * T(0.625)), true);
    const tg::Variable<T> c3(cv, true);
    const auto [h3, c3n] = tg::lstm_cell(a, b, c3);
    const auto [h4, c4n] = composed(a + b, c3);
    CHECK(agree(h3.value(), h4.value(), tol));
    CHECK(agree(c3n.value(), c4n.value(), tol));
    const auto d3 = tg::grad({tg::sum(h3 * w + c3n * c3n)}, {a, b, c3});
    const auto d4 = tg::grad({tg::sum(h4 * w + c4n * c4n)}, {a, b, c3});
    for (std::size_t k = 0; k < 3; ++k) CHECK(agree(d3[k].value(), d4[k].value(), tol));
}

tg::Tensor<double> uniform(const tg::Shape& shape, std::uint64_t seed, double lo, double hi) {
    return input(shape, seed, lo, hi).value();
}

}  // namespace

TEST_CASE("lstm_cell: the same h, c and gradients as the composition, PyTorch's gate order i, f, g, o") {
    // one row by hand: gates i=0, f=ln 3 (sigmoid 3/4), g=0.5, o=-ln 3 (sigmoid 1/4), c_prev=2
    const V gates = tg::parameter(shaped({0.0, std::log(3.0), 0.5, -std::log(3.0)}, {1, 4}));
    const V cp = tg::parameter(shaped({2.0}, {1, 1}));
    const auto [h, c] = tg::lstm_cell(gates, cp);
    const double c_want = 0.75 * 2.0 + 0.5 * std::tanh(0.5);
    CHECK(close(c.value(), shaped({c_want}, {1, 1})));
    CHECK(close(h.value(), shaped({0.25 * std::tanh(c_want)}, {1, 1})));
    // many rows, wide gates, double and float
    check_against_composition<double>(uniform({5, 12}, 1, -4.0, 4.0), uniform({5, 3}, 2, -2.0, 2.0), 1e-14);
    const tg::Tensor<float> gf = tg::Tensor<float>(xt::cast<float>(uniform({7, 64}, 3, -6.0, 6.0)));
    const tg::Tensor<float> cf = tg::Tensor<float>(xt::cast<float>(uniform({7, 16}, 4, -3.0, 3.0)));
    check_against_composition<float>(gf, cf, 1e-5);
}

TEST_CASE("lstm_cell edge values: saturated gates, +-inf, NaN, -0 and subnormals as the composition gives them") {
    const double sub = std::numeric_limits<double>::denorm_min();
    // each column of a quarter is one case, the same in every gate so every gate sees each value
    const std::vector<double> cases{0.0, -0.0, sub, -sub, 40.0, -40.0, 800.0, -800.0, inf, -inf, qnan, 1.0};
    const std::size_t hsz = cases.size();
    tg::Tensor<double> gv = tg::Tensor<double>::from_shape({2, 4 * hsz});
    tg::Tensor<double> cv = tg::Tensor<double>::from_shape({2, hsz});
    for (std::size_t j = 0; j < hsz; ++j) {
        for (std::size_t q = 0; q < 4; ++q) {
            gv(0, q * hsz + j) = cases[j];
            gv(1, q * hsz + j) = q == 2 ? 0.5 : cases[(j + q) % hsz];  // mixed: each gate another case
        }
        cv(0, j) = 1.5;
        cv(1, j) = cases[(j + 5) % hsz];
    }
    check_against_composition<double>(gv, cv, 1e-15);
    // saturated gates pass exact limits: i = f = o = 1 at +inf, 0 at -inf; g = tanh = +-1
    const V g = tg::parameter(shaped({inf, -inf, -inf, inf}, {1, 4}));
    const auto [h, c] = tg::lstm_cell(g, tg::constant(shaped({7.0}, {1, 1})));
    CHECK(c.value()(0, 0) == -1.0);
    CHECK(h.value()(0, 0) == std::tanh(-1.0));
}

TEST_CASE("lstm_cell: gradcheck and gradgradcheck in double, through h alone, c alone and both") {
    const V gates = input({3, 8}, 11, -2.0, 2.0), cp = input({3, 2}, 12, -1.5, 1.5);
    const V w = tg::constant(uniform({3, 2}, 13, -1.0, 1.0));
    check_gradients(
        [&] {
            const auto [h, c] = tg::lstm_cell(gates, cp);
            return tg::sum(h * w + tg::tanh(c) * c);
        },
        {gates, cp});
    check_gradients([&] { return tg::sum(tg::lstm_cell(gates, cp).first * w); }, {gates, cp});
    // the gates as two terms added inside: both get the gradient of the sum
    const V other = input({3, 8}, 14, -2.0, 2.0);
    check_gradients(
        [&] {
            const auto [h, c] = tg::lstm_cell(gates, other * other, cp);
            return tg::sum(h * w + tg::tanh(c) * c);
        },
        {gates, other, cp});
    check_gradients([&] { return tg::sum(tg::lstm_cell(gates, other, cp).second * w); }, {other, cp});
    check_gradients([&] { return tg::sum(tg::lstm_cell(gates, cp).second * w); }, {gates, cp});
    // two steps chained: c feeds the next cell, h its gates, as in a recurrence
    check_gradients(
        [&] {
            const auto [h1, c1] = tg::lstm_cell(gates, cp);
            const auto [h2, c2] = tg::lstm_cell(gates * 0.5 + tg::concat({h1, h1, h1, h1}, 1), c1);
            return tg::sum(h2 * h2 + c2);
        },
        {gates, cp});
}

TEST_CASE("lstm_cell: a retained graph runs backward twice (the saved activations are not needed)") {
    const V gates = input({2, 8}, 21), cp = input({2, 2}, 22);
    const auto [h, c] = tg::lstm_cell(gates, cp);
    const V loss = tg::sum(h * c);
    loss.backward(tg::BackwardOptions().retain_graph(true));
    const tg::Tensor<double> once = gates.grad();
    loss.backward();
    CHECK(close(gates.grad(), xt::xarray<double>(once * 2.0)));
}

namespace {
/// The unfused GRU step, as nn::GRUCell computed it before the fused op.
template <class T>
tg::Variable<T> gru_composed(const tg::Variable<T>& xg, const tg::Variable<T>& hg, const tg::Variable<T>& h) {
    const auto a = tg::chunk(xg, 3, 1), b = tg::chunk(hg, 3, 1);
    const tg::Variable<T> r = tg::sigmoid(a[0] + b[0]), z = tg::sigmoid(a[1] + b[1]);
    const tg::Variable<T> n = tg::tanh(a[2] + r * b[2]);
    return n + z * (h - n);
}

template <class T>
void check_gru_against_composition(const tg::Tensor<T>& xv, const tg::Tensor<T>& hgv, const tg::Tensor<T>& hv,
                                   double tol) {
    const tg::Variable<T> x1(xv, true), g1(hgv, true), h1(hv, true), x2(xv, true), g2(hgv, true), h2(hv, true);
    const tg::Variable<T> y = tg::gru_cell(x1, g1, h1), yr = gru_composed(x2, g2, h2);
    CHECK(agree(y.value(), yr.value(), tol));
    tg::Tensor<T> wv = tg::Tensor<T>::from_shape(hv.shape());
    for (std::size_t i = 0; i < wv.size(); ++i) wv.data()[i] = T(0.25) + T(i % 5) * T(0.5);
    const tg::Variable<T> w(wv);
    const auto d = tg::grad({tg::sum(y * w)}, {x1, g1, h1});
    const auto dr = tg::grad({tg::sum(yr * w)}, {x2, g2, h2});
    for (std::size_t k = 0; k < 3; ++k) CHECK(agree(d[k].value(), dr[k].value(), tol));
}
}  // namespace

TEST_CASE("gru_cell: the same h' and gradients as the composition (gates r, z, n), edge values too") {
    // one row by hand: r = sigmoid(0) = 1/2, z = sigmoid(ln 3) = 3/4, n = tanh(0.2 + 0.5 * 0.6), h = 2
    const V xg = tg::parameter(shaped({0.5, std::log(3.0), 0.2}, {1, 3}));
    const V hg = tg::parameter(shaped({-0.5, 0.0, 0.6}, {1, 3}));
    const double n = std::tanh(0.5);
    CHECK(close(tg::gru_cell(xg, hg, tg::constant(shaped({2.0}, {1, 1}))).value(),
                shaped({n + 0.75 * (2.0 - n)}, {1, 1})));
    check_gru_against_composition<double>(uniform({4, 9}, 41, -4.0, 4.0), uniform({4, 9}, 42, -4.0, 4.0),
                                          uniform({4, 3}, 43, -2.0, 2.0), 1e-14);
    check_gru_against_composition<float>(tg::Tensor<float>(xt::cast<float>(uniform({5, 48}, 44, -6.0, 6.0))),
                                         tg::Tensor<float>(xt::cast<float>(uniform({5, 48}, 45, -6.0, 6.0))),
                                         tg::Tensor<float>(xt::cast<float>(uniform({5, 16}, 46, -2.0, 2.0))), 1e-5);
    const double sub = std::numeric_limits<double>::denorm_min();
    const std::vector<double> cases{0.0, -0.0, sub, -sub, 40.0, -40.0, 800.0, -800.0, inf, -inf, qnan, 1.0};
    const std::size_t hsz = cases.size();
    tg::Tensor<double> xv = tg::Tensor<double>::from_shape({2, 3 * hsz}), hgv = xv,
                       hv = tg::Tensor<double>::from_shape({2, hsz});
    for (std::size_t j = 0; j < hsz; ++j) {
        for (std::size_t q = 0; q < 3; ++q) {
            xv(0, q * hsz + j) = cases[j];
            hgv(0, q * hsz + j) = 0.25;
            xv(1, q * hsz + j) = 0.5;
            hgv(1, q * hsz + j) = cases[(j + q) % hsz];
        }
        hv(0, j) = 1.5;
        hv(1, j) = cases[(j + 7) % hsz];
    }
    check_gru_against_composition<double>(xv, hgv, hv, 1e-15);
}

TEST_CASE("gru_cell: gradcheck and gradgradcheck in double; errors name the op and the shapes") {
    const V xg = input({3, 6}, 51, -2.0, 2.0), hg = input({3, 6}, 52, -2.0, 2.0), h = input({3, 2}, 53, -1.5, 1.5);
    const V w = tg::constant(uniform({3, 2}, 54, -1.0, 1.0));
    check_gradients([&] { return tg::sum(tg::gru_cell(xg, hg * hg, h) * w); }, {xg, hg, h});
    check_gradients(
        [&] {
            const V h1 = tg::gru_cell(xg, hg, h);
            const V h2 = tg::gru_cell(xg * 0.5, tg::concat({h1, h1, h1}, 1), h1);
            return tg::sum(h2 * h2 * w);
        },
        {xg, hg, h});
    check_error(
        [&] {
            tg::gru_cell(input({3, 6}, 1), input({3, 3}, 1), input({3, 2}, 1));
        },
        "gru_cell: expected x_gates and h_gates (N, 3H) and h (N, H), got (3,6), (3,3) and (3,2)");
}

TEST_CASE("block: one block along axis 0, its gradient placed back; lstm_cell and block reject bad shapes") {
    const V x = input({3, 2, 2}, 31);
    CHECK(close(tg::block(x, 1).value(), xt::xarray<double>(xt::view(x.value(), 1))));
    check_gradients([&] { return tg::sum(tg::block(x, 2) * tg::block(x, 0)); }, {x});
    check_error([&] { tg::block(x, 3); },
                "block: expected k < the length of axis 0 of x, got k = 3 for x of shape (3,2,2)");
    check_error(
        [&] {
            tg::lstm_cell(input({2, 7}, 1), input({2, 2}, 2));
        },
        "lstm_cell: expected gates (N, 4H) and c_prev (N, H), got gates (2,7) and c_prev (2,2)");
    check_error(
        [&] {
            tg::lstm_cell(input({3, 8}, 1), input({2, 2}, 2));
        },
        "lstm_cell: expected gates (N, 4H) and c_prev (N, H), got gates (3,8) and c_prev (2,2)");
}
