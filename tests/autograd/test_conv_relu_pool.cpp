// Tests of conv2d_relu_max_pool2d (max_pool2d(relu(conv2d(...))) as one op, what nn::Sequential runs for Conv2d +
// ReLU + MaxPool2d): the same values as the three ops bit for bit on every convolution path (im2col with one
// input channel, oneDNN, double), the same gradients in a plain backward and under create_graph, NaN and
// infinities in x and in the output gradient, odd sizes the pooling floors, other pooling windows, first and
// second derivatives in double, errors, and Sequential's fused forward against the layers run one by one.
#include <cmath>
#include <limits>
#include <memory>

#include <tapegrad/autograd/ops/conv_pool.hpp>

#include "helpers.hpp"

using namespace tgtest;

namespace {

struct Case {
    std::size_t c, o, h, w;  // input channels, output channels, input size
    tg::Conv2dOptions conv;
    tg::Pool2dOptions pool;
};

/// conv2d_relu_max_pool2d against max_pool2d(relu(conv2d)): values, then the gradients of sum(y * weight) in a
/// plain backward and under create_graph, each against the three ops on the same path (relu's plain VJP gives
/// 0 where it cuts, whatever g holds; its recorded VJP is a product, NaN for an infinite g there).
/// `edge`: a NaN and infinities in x, and a NaN and infinities in the output gradient.
template <class T>
void check_against_three_ops(const Case& k, bool bias, bool edge, std::uint64_t seed) {
    CAPTURE(k.c);
    CAPTURE(k.h);
    CAPTURE(k.w);
    CAPTURE(bias);
    CAPTURE(edge);
    tg::Tensor<T> xv = random_tensor<T>({3, k.c, k.h, k.w}, seed);
    if (edge) {
        xv.data()[5] = std::numeric_limits<T>::quiet_NaN();
        xv.data()[17] = std::numeric_limits<T>::infinity();
        xv.data()[xv.size() - 3] = -std::numeric_limits<T>::infinity();
    }
    tg::Variable<T> x(xv, true), w(random_tensor<T>({k.o, k.c, 3, 3}, seed + 1), true);
    tg::Variable<T> b(random_tensor<T>({k.o}, seed + 2), true);
    const auto fused = [&] {
        return bias ? tg::conv2d_relu_max_pool2d(x, w, b, k.conv, k.pool)
                    : tg::conv2d_relu_max_pool2d(x, w, k.conv, k.pool);
    };
    const auto three_ops = [&] {
        return tg::max_pool2d(tg::relu(bias ? tg::conv2d(x, w, b, k.conv) : tg::conv2d(x, w, k.conv)), k.pool);
    };
    const tg::Variable<T> y = fused();
    CHECK(std::string(y.op_name()) == "conv2d_relu_max_pool2d");
    CHECK(mismatches(y.value(), three_ops().value()) == 0);

    tg::Tensor<T> gw = random_tensor<T>(y.shape(), seed + 3);
    if (edge) {
        for (std::size_t i = 0; i < gw.size(); i += 7) gw.data()[i] = std::numeric_limits<T>::infinity();
        gw.data()[4] = std::numeric_limits<T>::quiet_NaN();
        gw.data()[9] = -std::numeric_limits<T>::infinity();
    }
    const tg::Variable<T> weight(gw);
    const std::vector<tg::Variable<T>> params = bias ? std::vector{x, w, b} : std::vector{x, w};
    for (const bool want_x : {true, false}) {
        CAPTURE(want_x);
        std::vector<tg::Variable<T>> wrt(params.begin() + (want_x ? 0 : 1), params.end());
        const auto ref = tg::grad(tg::sum(three_ops() * weight), wrt);
        const auto plain = tg::grad(tg::sum(fused() * weight), wrt);
        const auto ref_graph = tg::grad(tg::sum(three_ops() * weight), wrt, tg::GradOptions().create_graph(true));
        const auto graph = tg::grad(tg::sum(fused() * weight), wrt, tg::GradOptions().create_graph(true));
        for (std::size_t i = 0; i < ref.size(); ++i) {
            CAPTURE(i);
            CHECK(mismatches(plain[i].value(), ref[i].value()) == 0);
            CHECK(mismatches(graph[i].value(), ref_graph[i].value()) == 0);
        }
    }
}

template <class T>
void check_cases(std::uint64_t seed) {
    const std::vector<Case> cases{
        {1, 6, 12, 12, tg::Conv2dOptions(), tg::Pool2dOptions(2)},             // 1 channel: im2col + GEMM in float
        {8, 6, 12, 12, tg::Conv2dOptions(), tg::Pool2dOptions(2)},             // 8 channels: oneDNN in float
        {1, 5, 11, 12, tg::Conv2dOptions().padding(1), tg::Pool2dOptions(2)},  // odd height: the pool floors
        {8, 4, 10, 13, tg::Conv2dOptions(), tg::Pool2dOptions(2)},             // odd width (2x2, rows not even)
        {4, 5, 9, 10, tg::Conv2dOptions().padding(1), tg::Pool2dOptions(3).stride(2).padding(1)},  // overlapping
    };
    for (const Case& k : cases)
        for (const bool bias : {true, false})
            for (const bool edge : {false, true}) check_against_three_ops<T>(k, bias, edge, seed++);
}

}  // namespace

TEST_CASE("conv2d_relu_max_pool2d equals max_pool2d(relu(conv2d)): values and gradients bit for bit, float") {
    check_cases<float>(10);
}

TEST_CASE("conv2d_relu_max_pool2d equals max_pool2d(relu(conv2d)): values and gradients bit for bit, double") {
    check_cases<double>(100);
}

TEST_CASE("conv2d_relu_max_pool2d: first and second derivatives in double") {
    auto x = input({2, 3, 7, 8}, 40), w = input({4, 3, 3, 3}, 41), b = input({4}, 42);
    check_gradients(
        [&] { return tg::conv2d_relu_max_pool2d(x, w, b, tg::Conv2dOptions().padding(1), tg::Pool2dOptions(2)); },
        {x, w, b});
    check_gradients(
        [&] {
            return tg::conv2d_relu_max_pool2d(x, w, tg::Conv2dOptions(), tg::Pool2dOptions(3).stride(2).padding(1));
        },
        {x, w});
    // the second derivative through the fused node equals the three ops' (both record the same ops)
    const auto hessian_row = [&](bool fused) {
        const V y = fused ? tg::conv2d_relu_max_pool2d(x, w, b, tg::Conv2dOptions(), tg::Pool2dOptions(2))
                          : tg::max_pool2d(tg::relu(tg::conv2d(x, w, b)), tg::Pool2dOptions(2));
        const auto g = tg::grad(tg::sum(y * y), {w}, tg::GradOptions().create_graph(true));
        return tg::grad(tg::sum(g[0] * g[0]), {x, w, b});
    };
    const auto fused = hessian_row(true), ref = hessian_row(false);
    for (std::size_t i = 0; i < ref.size(); ++i) CHECK(mismatches(fused[i].value(), ref[i].value()) == 0);
}

TEST_CASE("conv2d_relu_max_pool2d: bad input named") {
    auto x = input({2, 3, 6, 7}, 50), w = input({4, 3, 3, 3}, 51);
    const tg::Pool2dOptions p2(2);
    CHECK_THROWS_WITH_AS(tg::conv2d_relu_max_pool2d(x, w, input({3}, 52), tg::Conv2dOptions(), p2),
                         doctest::Contains("conv2d_relu_max_pool2d: bias of shape"), tg::Error);
    CHECK_THROWS_WITH_AS(tg::conv2d_relu_max_pool2d(x, input({4, 2, 3, 3}, 53), tg::Conv2dOptions(), p2),
                         doctest::Contains("conv2d_relu_max_pool2d: expected input"), tg::Error);
    // the convolution's 4x5 output is smaller than a 6x6 window
    CHECK_THROWS_WITH_AS(tg::conv2d_relu_max_pool2d(x, w, tg::Conv2dOptions(), tg::Pool2dOptions(6)),
                         doctest::Contains("conv2d_relu_max_pool2d"), tg::Error);
    CHECK_THROWS_WITH_AS(tg::conv2d_relu_max_pool2d(x, w, tg::Conv2dOptions(), tg::Pool2dOptions(2).stride(0)),
                         doctest::Contains("conv2d_relu_max_pool2d: stride"), tg::Error);
}

TEST_CASE("conv2d_relu_max_pool2d's plain backward never writes over the caller's seed") {
    for (const bool want_x : {true, false}) {
        CAPTURE(want_x);
        tg::Variable<float> x(random_tensor<float>({2, 1, 9, 9}, 60), want_x);
        tg::Variable<float> w(random_tensor<float>({3, 1, 3, 3}, 61), true), b(random_tensor<float>({3}, 62), true);
        const tg::Variable<float> y = tg::conv2d_relu_max_pool2d(x, w, b, tg::Conv2dOptions(), tg::Pool2dOptions(2));
        const tg::Tensor<float> seed(y.shape(), 1.0f);  // ones, also where y <= 0
        y.backward(seed);
        std::size_t changed = 0, cut = 0;
        for (std::size_t i = 0; i < seed.size(); ++i) {
            changed += seed.data()[i] != 1.0f;
            cut += y.value().data()[i] <= 0;
        }
        CHECK(cut > 0);  // the mask does cut somewhere
        CHECK(changed == 0);
    }
}

TEST_CASE("Sequential runs Conv2d + ReLU + MaxPool2d as conv2d_relu_max_pool2d: the same outputs and gradients") {
    namespace nn = tg::nn;
    const auto run = [&](auto zero) {
        using T = decltype(zero);
        tg::Generator gen(7);
        auto conv1 = std::make_shared<nn::Conv2d<T>>(1, 4, 5, tg::Conv2dOptions(), true, gen);
        auto conv2 = std::make_shared<nn::Conv2d<T>>(4, 8, 3, tg::Conv2dOptions(), false, gen);
        auto conv3 = std::make_shared<nn::Conv2d<T>>(8, 4, 1, tg::Conv2dOptions(), true, gen);
        auto linear = std::make_shared<nn::Linear<T>>(4, 3, true, gen);
        nn::Sequential<T> seq{
            conv1, nn::ReLU{}, nn::MaxPool2d(2), conv2, nn::ReLU{}, nn::MaxPool2d(tg::Pool2dOptions(3).stride(2)),
            conv3, nn::ReLU{}, nn::Flatten{},    linear};
        tg::Variable<T> x(random_tensor<T>({3, 1, 17, 17}, 8), true);
        // each fused node is what its layers give one by one
        const tg::Variable<T> h1 = tg::max_pool2d(tg::relu((*conv1)(x)), tg::Pool2dOptions(2));
        const tg::Variable<T> h2 = tg::max_pool2d(tg::relu((*conv2)(h1)), tg::Pool2dOptions(3).stride(2));
        const tg::Variable<T> ref = (*linear)(tg::flatten(tg::relu((*conv3)(h2)), 1));
        const tg::Variable<T> y = seq(x);
        CHECK(mismatches(y.value(), ref.value()) == 0);
        CHECK(std::string(ref.op_name()) == std::string(y.op_name()));
        auto params = seq.parameters();
        params.push_back(x);
        const tg::Variable<T> weight(random_tensor<T>(y.shape(), 9));
        const auto g_fused = tg::grad(tg::sum(y * weight), params);
        const auto g_ref = tg::grad(tg::sum(ref * weight), params);
        for (std::size_t i = 0; i < params.size(); ++i) {
            CAPTURE(i);
            CHECK(mismatches(g_fused[i].value(), g_ref[i].value()) == 0);
        }
    };
    SUBCASE("float") { run(float(0)); }
    SUBCASE("double") { run(double(0)); }
}

TEST_CASE("Sequential fuses only an exact Conv2d, ReLU, MaxPool2d run") {
    namespace nn = tg::nn;
    tg::Generator gen(3);
    auto conv = std::make_shared<nn::Conv2d<double>>(1, 2, 3, tg::Conv2dOptions(), true, gen);
    const V x(random_tensor<double>({2, 1, 8, 8}, 4));
    nn::Sequential<double> fused{conv, nn::ReLU{}, nn::MaxPool2d(2)};
    CHECK(std::string(fused(x).op_name()) == "conv2d_relu_max_pool2d");
    nn::Sequential<double> avg{conv, nn::ReLU{}, nn::AvgPool2d(2)};
    CHECK(std::string(avg(x).op_name()) == "avg_pool2d");
    nn::Sequential<double> no_relu{conv, nn::MaxPool2d(2)};
    CHECK(std::string(no_relu(x).op_name()) == "max_pool2d");
    nn::Sequential<double> two{conv, nn::ReLU{}};
    CHECK(std::string(two(x).op_name()) == "conv2d_relu");
}

TEST_CASE("conv2d_relu_max_pool2d: two threads give the bits one thread gives") {
    const auto run = [](int threads) {
        const int had = tg::get_num_threads();
        tg::set_num_threads(threads);
        tg::Variable<float> x(random_tensor<float>({9, 1, 14, 14}, 70), false);
        tg::Variable<float> w(random_tensor<float>({4, 1, 5, 5}, 71), true), b(random_tensor<float>({4}, 72), true);
        const tg::Variable<float> y = tg::conv2d_relu_max_pool2d(x, w, b, tg::Conv2dOptions(), tg::Pool2dOptions(2));
        const auto g = tg::grad(tg::sum(y * tg::Variable<float>(random_tensor<float>(y.shape(), 73))), {w, b});
        tg::set_num_threads(had);
        return std::vector<tg::Tensor<float>>{y.value(), g[0].value(), g[1].value()};
    };
    const auto one = run(1), two = run(2);
    for (std::size_t i = 0; i < one.size(); ++i) CHECK(mismatches(two[i], one[i]) == 0);
}
