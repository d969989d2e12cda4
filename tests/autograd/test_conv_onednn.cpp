// Tests of conv2d's oneDNN path (float): the same results as im2col + GEMM across strides, padding,
// dilation, groups, batch 1 and odd sizes, and which path each precision and shape takes.
#include <tapegrad/autograd/kernels/detail/conv_onednn.hpp>

#include <algorithm>
#include <cmath>

#include "helpers.hpp"

using namespace tgtest;
namespace k = tapegrad::kernels;

namespace {

tg::Tensor<float> random_float(const tg::Shape& shape, std::uint64_t seed) {
    tg::Generator gen(seed);
    tg::Tensor<float> t = tg::Tensor<float>::from_shape(shape);
    for (auto& v : t) v = float(gen.uniform(-1.0, 1.0));
    return t;
}

/// Elementwise |a - b| <= rtol (|b| + max |b|): float sums of up to a few hundred products, in any order.
void check_same(const tg::Tensor<float>& a, const tg::Tensor<float>& b, const char* what) {
    INFO(what);
    REQUIRE(a.shape() == b.shape());
    float scale = 0;
    for (float v : b) scale = std::max(scale, std::abs(v));
    std::size_t bad = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!(std::abs(a.data()[i] - b.data()[i]) <= 1e-5f * (std::abs(b.data()[i]) + scale))) ++bad;
    CHECK(bad == 0);
}

struct Case {
    std::size_t n, c, h, w, o, kh, kw;
    tg::Conv2dOptions opt;
};

}  // namespace

TEST_CASE("conv2d on oneDNN gives im2col's results: forward, bias, input and weight gradients") {
    using O = tg::Conv2dOptions;
    const Case cases[] = {
        {4, 8, 12, 12, 16, 5, 5, O()},                      // LeNet's conv2
        {1, 8, 12, 12, 16, 5, 5, O()},                      // batch 1
        {2, 5, 11, 13, 7, 3, 3, O().padding(1)},            // odd sizes, padding
        {2, 6, 15, 10, 4, 3, 2, O().stride({2, 3})},        // strides that drop input columns
        {2, 4, 9, 9, 6, 3, 3, O().stride(2).padding(1)},    //
        {1, 4, 14, 12, 5, 3, 3, O().dilation({2, 3})},      // dilation
        {2, 8, 10, 10, 8, 3, 3, O().groups(2).padding(1)},  // groups
        {1, 12, 7, 9, 12, 3, 3, O().groups(3).dilation(2).padding(2)},
        {3, 16, 6, 6, 8, 1, 1, O()},   // pointwise
        {2, 4, 8, 8, 3, 8, 8, O()},    // kernel as large as the input
        {1, 1, 28, 28, 8, 5, 5, O()},  // 1 channel (oneDNN on request only)
    };
    std::uint64_t seed = 900;
    for (const Case& cs : cases) {
        const k::ConvGeom g =
            k::check_conv("test", {cs.n, cs.c, cs.h, cs.w}, {cs.o, cs.c / cs.opt.groups(), cs.kh, cs.kw}, cs.opt);
        CAPTURE(g.describe());
        CAPTURE(cs.c);
        const auto x = random_float(g.input_shape(), seed++);
        const auto w = random_float(g.weight_shape(), seed++);
        const auto b = random_float({g.o}, seed++);
        const auto gy = random_float(g.output_shape(), seed++);
        const std::uint64_t before = k::onednn_conv_calls();

        auto y = tg::Tensor<float>::from_shape(g.output_shape());
        REQUIRE(k::onednn_conv_forward(x.data(), w.data(), nullptr, y.data(), g));
        check_same(y, k::im2col_conv_forward(x, w, (const tg::Tensor<float>*)nullptr, g), "forward");
        REQUIRE(k::onednn_conv_forward(x.data(), w.data(), b.data(), y.data(), g));
        check_same(y, k::im2col_conv_forward(x, w, &b, g), "forward with bias");
        auto dx = tg::Tensor<float>::from_shape(g.input_shape());
        REQUIRE(k::onednn_conv_input_grad(gy.data(), w.data(), dx.data(), g));
        check_same(dx, k::im2col_conv_input_grad(gy, w, g), "input gradient");
        auto dw = tg::Tensor<float>::from_shape(g.weight_shape());
        REQUIRE(k::onednn_conv_weight_grad(x.data(), gy.data(), dw.data(), g));
        check_same(dw, k::im2col_conv_weight_grad(x, gy, g), "weight gradient");
        CHECK(k::onednn_conv_calls() == before + 4);

        // A second call of the same shape reuses the cached primitive on new data.
        const auto x2 = random_float(g.input_shape(), seed++);
        REQUIRE(k::onednn_conv_forward(x2.data(), w.data(), b.data(), y.data(), g));
        check_same(y, k::im2col_conv_forward(x2, w, &b, g), "forward, cached primitive");
    }
}

TEST_CASE("conv2d takes oneDNN for float layers of 4 or more channels, im2col for 1 channel and for double") {
    tg::Variable<float> x(random_float({2, 8, 12, 12}, 1), true), w(random_float({16, 8, 5, 5}, 2), true);
    std::uint64_t before = k::onednn_conv_calls();
    auto y = tg::conv2d(x, w);
    tg::sum(y).backward();
    CHECK(k::onednn_conv_calls() == before + 3);  // forward, input and weight gradients

    tg::Variable<float> x1(random_float({2, 1, 28, 28}, 3), true), w1(random_float({8, 1, 5, 5}, 4), true);
    before = k::onednn_conv_calls();
    tg::sum(tg::conv2d(x1, w1)).backward();
    CHECK(k::onednn_conv_calls() == before);

    const auto xd = input({2, 8, 12, 12}, 5), wd = input({16, 8, 5, 5}, 6);
    before = k::onednn_conv_calls();
    tg::sum(tg::conv2d(xd, wd)).backward();
    CHECK(k::onednn_conv_calls() == before);
}

TEST_CASE("conv2d's float gradients through oneDNN agree with the double path") {
    const auto xd = input({2, 8, 9, 9}, 11), wd = input({6, 4, 3, 3}, 12), bd = input({6}, 13);
    const tg::Conv2dOptions opt = tg::Conv2dOptions().groups(2).padding(1).stride(2);
    tg::sum(tg::conv2d(xd, wd, bd, opt) * tg::conv2d(xd, wd, bd, opt)).backward();
    const auto to_float = [](const V& v) {
        tg::Tensor<float> t = tg::Tensor<float>::from_shape(v.shape());
        std::transform(v.value().begin(), v.value().end(), t.begin(), [](double d) { return float(d); });
        return tg::Variable<float>(std::move(t), true);
    };
    auto xf = to_float(xd), wf = to_float(wd), bf = to_float(bd);
    const std::uint64_t before = k::onednn_conv_calls();
    tg::sum(tg::conv2d(xf, wf, bf, opt) * tg::conv2d(xf, wf, bf, opt)).backward();
    CHECK(k::onednn_conv_calls() > before);
    for (auto [f, d] : {std::pair{xf, xd}, std::pair{wf, wd}, std::pair{bf, bd}}) {
        const auto& gf = f.grad();
        const auto& gd = d.grad();
        double scale = 0;
        for (double v : gd) scale = std::max(scale, std::abs(v));
        for (std::size_t i = 0; i < gd.size(); ++i) CHECK(std::abs(gf.data()[i] - gd.data()[i]) <= 1e-5 * scale);
    }
}
