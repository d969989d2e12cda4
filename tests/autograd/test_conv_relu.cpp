// Tests of conv2d_relu (relu(conv2d(...)) as one op, what nn::Sequential runs for Conv2d + ReLU): the same
// values as the two ops bit for bit, the same gradients in a plain backward (im2col, whose weight gradient
// masks image by image, and oneDNN) and under create_graph, first and second derivatives in double, and
// Sequential's fused forward against the layers run one by one.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "helpers.hpp"

using namespace tgtest;

namespace {

/// |a - b| <= rtol (|b| + max finite |b|), the same infinity where b is one, NaN where b is NaN.
template <class T>
std::size_t far(const tg::Tensor<T>& a, const tg::Tensor<T>& b, double rtol) {
    REQUIRE(a.shape() == b.shape());
    double scale = 0;
    for (T v : b)
        if (std::isfinite(v)) scale = std::max(scale, double(std::abs(v)));
    std::size_t bad = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double u = a.data()[i], v = b.data()[i];
        bad += std::isnan(v) ? !std::isnan(u) : !(u == v || std::abs(u - v) <= rtol * (std::abs(v) + scale));
    }
    return bad;
}

/// conv2d_relu against relu(conv2d): values, then the gradients of sum(y * weight) in a plain backward, and
/// under create_graph. `edge`: NaN and infinities in x, and a NaN and infinities in the output gradient.
template <class T>
void check_against_two_ops(std::size_t c, std::size_t o, bool bias, bool edge, std::uint64_t seed, double rtol) {
    CAPTURE(c);
    CAPTURE(bias);
    CAPTURE(edge);
    tg::Tensor<T> xv = random_tensor<T>({3, c, 9, 10}, seed);
    if (edge) {
        xv.data()[5] = std::numeric_limits<T>::quiet_NaN();
        xv.data()[17] = std::numeric_limits<T>::infinity();
        xv.data()[xv.size() - 3] = -std::numeric_limits<T>::infinity();
    }
    tg::Variable<T> x(xv, true), w(random_tensor<T>({o, c, 3, 3}, seed + 1), true);
    tg::Variable<T> b(random_tensor<T>({o}, seed + 2), true);
    const tg::Conv2dOptions opt = tg::Conv2dOptions().padding(1);
    const auto fused = [&] { return bias ? tg::conv2d_relu(x, w, b, opt) : tg::conv2d_relu(x, w, opt); };
    const auto two_ops = [&] { return tg::relu(bias ? tg::conv2d(x, w, b, opt) : tg::conv2d(x, w, opt)); };
    const tg::Variable<T> y = fused();
    CHECK(std::string(y.op_name()) == "conv2d_relu");
    CHECK(mismatches(y.value(), two_ops().value()) == 0);

    tg::Tensor<T> gw = random_tensor<T>(y.shape(), seed + 3);
    if (edge) {
        for (std::size_t i = 0; i < gw.size(); i += 7) gw.data()[i] = std::numeric_limits<T>::infinity();
        gw.data()[4] = std::numeric_limits<T>::quiet_NaN();
    }
    const tg::Variable<T> weight(gw);
    const std::vector<tg::Variable<T>> params = bias ? std::vector{x, w, b} : std::vector{x, w};
    for (const bool want_x : {true, false}) {  // without dx, im2col masks each image before its GEMM
        CAPTURE(want_x);
        std::vector<tg::Variable<T>> wrt(params.begin() + (want_x ? 0 : 1), params.end());
        // (relu's plain VJP gives 0 where it cuts, whatever g holds; its recorded VJP a product, NaN for an
        // infinite g there: each path is compared with the two ops on the same path)
        const auto ref = tg::grad(tg::sum(two_ops() * weight), wrt);
        const auto plain = tg::grad(tg::sum(fused() * weight), wrt);
        const auto ref_graph = tg::grad(tg::sum(two_ops() * weight), wrt, tg::GradOptions().create_graph(true));
        const auto graph = tg::grad(tg::sum(fused() * weight), wrt, tg::GradOptions().create_graph(true));
        for (std::size_t i = 0; i < ref.size(); ++i) {
            CAPTURE(i);
            CHECK(far(plain[i].value(), ref[i].value(), rtol) == 0);
            CHECK(far(graph[i].value(), ref_graph[i].value(), rtol) == 0);
        }
    }
}

}  // namespace

TEST_CASE("conv2d_relu equals relu(conv2d): values bit for bit, gradients plain and under create_graph") {
    for (const bool bias : {true, false})
        for (const bool edge : {false, true}) {
            check_against_two_ops<float>(1, 6, bias, edge, 10, 1e-5);  // 1 channel: im2col + GEMM
            check_against_two_ops<float>(8, 6, bias, edge, 20, 1e-5);  // 8 channels: oneDNN
            check_against_two_ops<double>(4, 5, bias, edge, 30, 1e-12);
        }
}

TEST_CASE("conv2d_relu: first and second derivatives in double, and bad input named") {
    auto x = input({2, 3, 6, 7}, 40), w = input({4, 3, 3, 3}, 41), b = input({4}, 42);
    check_gradients([&] { return tg::conv2d_relu(x, w, b, tg::Conv2dOptions().padding(1)); }, {x, w, b});
    check_gradients([&] { return tg::conv2d_relu(x, w, tg::Conv2dOptions().stride(2)); }, {x, w});
    CHECK_THROWS_WITH_AS(tg::conv2d_relu(x, w, input({3}, 43)), doctest::Contains("conv2d_relu: bias of shape"),
                         tg::Error);
    CHECK_THROWS_WITH_AS(tg::conv2d_relu(x, input({4, 2, 3, 3}, 44)), doctest::Contains("conv2d_relu"), tg::Error);
}

TEST_CASE("Sequential runs Conv2d + ReLU as conv2d_relu: the same outputs and parameter gradients") {
    namespace nn = tg::nn;
    for (const bool float_model : {true, false}) {
        CAPTURE(float_model);
        const auto run = [&](auto zero) {
            using T = decltype(zero);
            tg::Generator gen(7);
            auto conv1 = std::make_shared<nn::Conv2d<T>>(1, 4, 5, tg::Conv2dOptions(), true, gen);
            auto conv2 = std::make_shared<nn::Conv2d<T>>(4, 8, 3, tg::Conv2dOptions(), true, gen);
            nn::Sequential<T> seq{conv1, nn::ReLU{}, nn::MaxPool2d(2), conv2, nn::ReLU{}};
            const tg::Variable<T> x(random_tensor<T>({3, 1, 14, 14}, 8));
            const tg::Variable<T> y = seq(x);
            CHECK(std::string(y.op_name()) == "conv2d_relu");
            // the layers one by one: conv2d and relu as two ops
            const tg::Variable<T> ref = tg::relu((*conv2)(tg::max_pool2d(tg::relu((*conv1)(x)), tg::Pool2dOptions(2))));
            CHECK(std::string(ref.op_name()) == "relu");
            CHECK(mismatches(y.value(), ref.value()) == 0);
            const tg::Variable<T> weight(random_tensor<T>(y.shape(), 9));
            const auto params = seq.parameters();
            const auto g_fused = tg::grad(tg::sum(y * weight), params);
            const auto g_ref = tg::grad(tg::sum(ref * weight), params);
            for (std::size_t i = 0; i < params.size(); ++i) CHECK(far(g_fused[i].value(), g_ref[i].value(), 1e-5) == 0);
        };
        if (float_model)
            run(float(0));
        else
            run(double(0));
    }
}

TEST_CASE("conv2d_relu's plain backward writes relu's mask over its own gradient, never over the caller's seed") {
    for (const bool want_x : {true, false}) {  // false: im2col masks image by image
        CAPTURE(want_x);
        tg::Variable<float> x(random_tensor<float>({2, 1, 8, 8}, 50), want_x);
        tg::Variable<float> w(random_tensor<float>({3, 1, 3, 3}, 51), true), b(random_tensor<float>({3}, 52), true);
        const tg::Variable<float> y = tg::conv2d_relu(x, w, b);
        const tg::Tensor<float> seed(y.shape(), 1.0f);  // ones, also where y <= 0
        y.backward(seed);
        std::size_t changed = 0, cut = 0;
        for (std::size_t i = 0; i < seed.size(); ++i) {
            changed += seed.data()[i] != 1.0f;
            cut += y.value().data()[i] <= 0;
        }
        CHECK(cut > 0);  // the mask does cut somewhere
        CHECK(changed == 0);
        // and the gradients are relu's: from the ones masked where y <= 0
        tg::Variable<float> w2(w.value(), true), b2(b.value(), true);
        tg::relu(tg::conv2d(tg::Variable<float>(x.value(), want_x), w2, b2)).backward(seed);
        for (std::size_t i = 0; i < w.grad().size(); ++i)
            CHECK(w.grad().data()[i] == doctest::Approx(w2.grad().data()[i]).epsilon(1e-5));
        for (std::size_t i = 0; i < b.grad().size(); ++i)
            CHECK(b.grad().data()[i] == doctest::Approx(b2.grad().data()[i]).epsilon(1e-5));
    }
}
