// Tests of the fused paths of conv2d and max pooling: conv2d's one-call plain backward (dx, dW, db) against
// the separate kernels on every path (oneDNN float, im2col float, double), and the vectorised 2x2 max
// pooling against a scalar reference at ties, infinities, -0 and NaN.
#include <tapegrad/autograd/kernels/detail/conv_onednn.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "helpers.hpp"

using namespace tgtest;
namespace k = tapegrad::kernels;

namespace {

/// Elementwise |a - b| <= rtol (|b| + max |b|): sums of a few hundred products, in any order.
template <class T>
void check_same(const tg::Tensor<T>& a, const tg::Tensor<T>& b, double rtol, const char* what) {
    INFO(what);
    REQUIRE(a.shape() == b.shape());
    double scale = 0;
    for (T v : b) scale = std::max(scale, double(std::abs(v)));
    std::size_t bad = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!(std::abs(double(a.data()[i]) - double(b.data()[i])) <= rtol * (std::abs(double(b.data()[i])) + scale)))
            ++bad;
    CHECK(bad == 0);
}

/// The bias gradient by definition: dL/dy summed over images and positions, in double.
template <class T>
tg::Tensor<T> bias_reference(const tg::Tensor<T>& gy) {
    const std::size_t N = gy.shape()[0], O = gy.shape()[1], P = gy.shape()[2] * gy.shape()[3];
    tg::Tensor<T> db = tg::Tensor<T>::from_shape({O});
    for (std::size_t o = 0; o < O; ++o) {
        double s = 0;
        for (std::size_t n = 0; n < N; ++n)
            for (std::size_t p = 0; p < P; ++p) s += double(gy.data()[(n * O + o) * P + p]);
        db.data()[o] = T(s);
    }
    return db;
}

template <class T>
void check_conv_backward(std::size_t c, std::size_t h, std::size_t o, std::size_t kk, const tg::Conv2dOptions& opt,
                         double rtol, std::uint64_t seed) {
    const k::ConvGeom g = k::check_conv("test", {3, c, h, h + 1}, {o, c / opt.groups(), kk, kk}, opt);
    CAPTURE(g.describe());
    CAPTURE(c);
    const auto x = random_tensor<T>(g.input_shape(), seed);
    const auto w = random_tensor<T>(g.weight_shape(), seed + 1);
    const auto gy = random_tensor<T>(g.output_shape(), seed + 2);
    const auto dx_ref = k::im2col_conv_input_grad(gy, w, g);
    const auto dw_ref = k::im2col_conv_weight_grad(x, gy, g);
    const auto db_ref = bias_reference(gy);
    check_same(k::conv_bias_grad(gy, g), db_ref, rtol, "conv_bias_grad");
    for (int mask = 1; mask < 8; ++mask) {  // every combination of wanted gradients
        CAPTURE(mask);
        const bool want_x = mask & 1, want_w = mask & 2, want_b = mask & 4;
        tg::Tensor<T> dx, dw, db;
        k::conv_backward(x, w, gy, g, want_x ? &dx : nullptr, want_w ? &dw : nullptr, want_b ? &db : nullptr);
        if (want_x) check_same(dx, dx_ref, rtol, "dx");
        if (want_w) check_same(dw, dw_ref, rtol, "dW");
        if (want_b) check_same(db, db_ref, rtol, "db");
        // what was not asked for is left as it was (a default tensor: no dimensions)
        CHECK(dx.dimension() == (want_x ? 4 : 0));
        CHECK(dw.dimension() == (want_w ? 4 : 0));
        CHECK(db.dimension() == (want_b ? 1 : 0));
    }
}

}  // namespace

TEST_CASE("conv_backward gives the separate kernels' dx, dW and db for every wanted subset, on every path") {
    using O = tg::Conv2dOptions;
    const std::uint64_t before = k::onednn_conv_calls();
    check_conv_backward<float>(8, 12, 16, 5, O(), 1e-5, 10);                               // LeNet's conv2: oneDNN
    CHECK(k::onednn_conv_calls() > before);                                                // (the fused call was taken)
    check_conv_backward<float>(6, 9, 4, 3, O().groups(2).padding(1).stride(2), 1e-5, 20);  // oneDNN, groups
    const std::uint64_t onednn = k::onednn_conv_calls();
    check_conv_backward<float>(1, 28, 8, 5, O(), 1e-5, 30);  // 1 channel: im2col (db from dW's GEMM)
    CHECK(k::onednn_conv_calls() == onednn);
    check_conv_backward<double>(8, 12, 16, 5, O(), 1e-12, 40);  // double: im2col
    check_conv_backward<double>(6, 9, 6, 3, O().groups(3).dilation(2).padding(2), 1e-12, 50);
    check_conv_backward<double>(4, 6, 5, 1, O(), 1e-12, 60);  // pointwise: no column buffer to carry the bias
}

TEST_CASE("conv2d's plain backward (fused) equals its create_graph backward (separate ops), with and without bias") {
    for (const std::size_t c : {std::size_t(1), std::size_t(8)}) {  // im2col and oneDNN in float
        CAPTURE(c);
        tg::Variable<float> x(random_tensor<float>({2, c, 10, 11}, 60), true);
        tg::Variable<float> w(random_tensor<float>({6, c, 3, 3}, 61), true);
        tg::Variable<float> b(random_tensor<float>({6}, 62), true);
        const auto weight = tg::Variable<float>(random_tensor<float>({2, 6, 8, 9}, 63));
        const auto loss = [&](bool bias) {
            return tg::sum((bias ? tg::conv2d(x, w, b, tg::Conv2dOptions()) : tg::conv2d(x, w)) * weight);
        };
        for (const bool bias : {false, true}) {
            CAPTURE(bias);
            auto plain = tg::grad(loss(bias), bias ? std::vector{x, w, b} : std::vector{x, w});
            auto graph = tg::grad(loss(bias), bias ? std::vector{x, w, b} : std::vector{x, w},
                                  tg::GradOptions().create_graph(true));
            REQUIRE(plain.size() == graph.size());
            for (std::size_t i = 0; i < plain.size(); ++i) check_same(plain[i].value(), graph[i].value(), 1e-5, "grad");
        }
    }
    // and second order still runs through the separate ops: gradgradcheck in double, with bias
    auto xd = input({2, 3, 6, 7}, 64), wd = input({4, 3, 3, 3}, 65), bd = input({4}, 66);
    check_gradients([&] { return tg::conv2d(xd, wd, bd, tg::Conv2dOptions().padding(1)); }, {xd, wd, bd});
}

namespace {

/// 2x2 max pooling, stride 2, by definition: the first maximum in window order, or the first NaN.
template <class T>
void pool_reference(const tg::Tensor<T>& x, tg::Tensor<T>& y, std::vector<std::size_t>& at) {
    const std::size_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
    const std::size_t OH = H / 2, OW = W / 2;
    y = tg::Tensor<T>::from_shape({N, C, OH, OW});
    at.assign(y.size(), 0);
    for (std::size_t p = 0; p < N * C; ++p)
        for (std::size_t i = 0; i < OH; ++i)
            for (std::size_t j = 0; j < OW; ++j) {
                std::size_t best = p * H * W + 2 * i * W + 2 * j;
                for (const std::size_t pos : {best + 1, best + W, best + W + 1}) {
                    const T v = x.data()[pos], b = x.data()[best];
                    if (std::isnan(b)) break;
                    if (std::isnan(v) || v > b) best = pos;
                }
                y.data()[(p * OH + i) * OW + j] = x.data()[best];
                at[(p * OH + i) * OW + j] = best;
            }
}

template <class T>
void check_max_pool_2x2(std::size_t h, std::size_t w, std::uint64_t seed) {
    CAPTURE(h);
    CAPTURE(w);
    const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
    // few distinct values, so that windows hold ties; then the edge values sprinkled in
    tg::Tensor<T> xv = random_tensor<T>({2, 3, h, w}, seed);
    tg::Generator gen(seed + 1);
    const T specials[] = {T(0), T(-0.0), inf, -inf, nan, std::numeric_limits<T>::denorm_min(), T(0.5), T(-0.5)};
    for (auto& v : xv) {
        v = T(std::round(v * 2) / 2);
        if (gen.uniform(0.0, 1.0) < 0.3) v = specials[std::size_t(gen.uniform(0.0, 8.0)) % 8];
    }
    tg::Tensor<T> y_ref;
    std::vector<std::size_t> at;
    pool_reference(xv, y_ref, at);
    tg::Variable<T> x(xv, true);
    auto y = tg::max_pool2d(x, tg::Pool2dOptions(2));
    REQUIRE(y.value().shape() == y_ref.shape());
    std::size_t bad = 0;
    for (std::size_t i = 0; i < y_ref.size(); ++i) {
        const T a = y.value().data()[i], b = y_ref.data()[i];
        if (!(std::isnan(a) ? std::isnan(b) : a == b && std::signbit(a) == std::signbit(b))) ++bad;
    }
    CHECK(bad == 0);
    // the gradient lands on the chosen position alone: weight each output by its index + 1
    tg::Tensor<T> gw = tg::Tensor<T>::from_shape(y_ref.shape());
    for (std::size_t i = 0; i < gw.size(); ++i) gw.data()[i] = T(i + 1);
    y.backward(gw);
    tg::Tensor<T> expected(xv.shape(), T(0));
    for (std::size_t i = 0; i < at.size(); ++i) expected.data()[at[i]] += T(i + 1);
    bad = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) bad += x.grad().data()[i] != expected.data()[i];
    CHECK(bad == 0);
}

}  // namespace

TEST_CASE("2x2 max pooling (vectorised) picks the first maximum or the first NaN, at ties and edge values") {
    // even widths take the two-pass kernel (in L1-sized chunks of row pairs: one, several, one row pair each),
    // odd widths the one-pass kernel
    for (const auto& [h, w] :
         {std::pair<std::size_t, std::size_t>{24, 24}, {8, 8}, {6, 34}, {7, 10}, {5, 7}, {2, 2}, {24, 64}, {4, 4100}}) {
        check_max_pool_2x2<float>(h, w, 70 + h);
        check_max_pool_2x2<double>(h, w, 80 + h);
    }
}
