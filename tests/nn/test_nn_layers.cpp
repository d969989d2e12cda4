// Tests of the layers: gradcheck of every layer's input and parameters, Dropout, BatchNorm, layer-named errors.
#include <cmath>

#include "helpers.hpp"

using namespace tgtest;
namespace nn = tapegrad::nn;

namespace {

/// The layer's input and parameters, for gradcheck.
template <class M>
std::vector<V> with_params(const V& x, const M& layer) {
    std::vector<V> all{x};
    for (const auto& p : layer.parameters()) all.push_back(p);
    return all;
}

}  // namespace

TEST_CASE("Linear: forward, gradients of first and second order, errors") {
    tg::manual_seed(3);
    nn::Linear<double> lin(3, 2);
    auto x = input({4, 3}, 1);
    const auto& W = lin.weight().value();
    const auto& b = lin.bias().value();
    xt::xarray<double> ref = xt::zeros<double>({4, 2});
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t o = 0; o < 2; ++o) {
            ref(i, o) = b(o);
            for (std::size_t k = 0; k < 3; ++k) ref(i, o) += x.value()(i, k) * W(o, k);
        }
    CHECK(close(lin(x).value(), ref));
    check_gradients([&] { return lin(x); }, with_params(x, lin));
    auto x3 = input({2, 2, 3}, 2);  // (..., in)
    check_gradients([&] { return lin(x3); }, with_params(x3, lin));
    nn::Linear<double> nobias(3, 2, false);
    CHECK(nobias.parameters().size() == 1);
    CHECK(!nobias.bias().defined());
    check_gradients([&] { return nobias(x); }, with_params(x, nobias));

    check_error([&] { lin(input({4, 5}, 3)); }, "Linear(3->2): expected input (...,3), got (4,5)");
    check_error([&] { nn::Linear<double>(0, 2); },
                "Linear: in_features and out_features must be at least 1, got 0 and 2");
}

TEST_CASE("Conv2d layer: gradients and errors named by the layer") {
    tg::manual_seed(4);
    nn::Conv2d<double> conv(2, 3, 3, tg::Conv2dOptions().padding(1).stride(2));
    auto x = input({2, 2, 5, 5}, 5);
    CHECK(conv(x).shape() == tg::Shape{2, 3, 3, 3});
    CHECK(close(conv(x).value(), tg::conv2d(x, conv.weight(), conv.bias(), conv.options()).value()));
    check_gradients([&] { return conv(x); }, with_params(x, conv), false);
    nn::Conv2d<double> grouped(4, 2, {2, 3}, tg::Conv2dOptions().groups(2).dilation({2, 1}), false);
    CHECK(grouped.weight().shape() == tg::Shape{2, 2, 2, 3});
    auto xg = input({1, 4, 5, 5}, 6);
    check_gradients([&] { return grouped(xg); }, with_params(xg, grouped), false);

    nn::Conv2d<float> c(3, 8, 5);
    check_error(
        [&] {
            c(tg::Variable<float>(tg::Tensor<float>::from_shape({64, 1, 28, 28})));
        },
        "Conv2d(3->8, k=5): expected input (N,3,H,W), got (64,1,28,28)");
    check_error(
        [&] {
            c(tg::Variable<float>(tg::Tensor<float>::from_shape({1, 3, 4, 4})));
        },
        "Conv2d(3->8, k=5): conv2d: input (1,3,4,4) with padding (0,0) is smaller than the dilated kernel (5,5)");
    check_error([&] { nn::Conv2d<float>(3, 8, 5, tg::Conv2dOptions().groups(2)); },
                "Conv2d(3->8, k=5): in_channels and out_channels must both divide into groups=2");
    check_error([&] { nn::Conv2d<float>(3, 8, 0); }, "Conv2d(3->8, k=0): channels and kernel size must be at least 1");
    check_error([&] { nn::Conv2d<float>(3, 8, 3, tg::Conv2dOptions().stride(0)); },
                "Conv2d(3->8, k=3): stride and dilation must be at least 1");
}

TEST_CASE("pooling layers and Flatten: gradients and errors named by the layer") {
    auto x = input({2, 2, 4, 6}, 7);
    check_gradients([&] { return nn::MaxPool2d(2)(x); }, {x});
    check_gradients([&] { return nn::AvgPool2d(tg::Pool2dOptions(3).stride(1).padding(1))(x); }, {x});
    check_gradients([&] { return nn::LPPool2d(2)(x); }, {x});
    check_gradients([&] { return nn::Flatten{}(x); }, {x});
    CHECK(nn::Flatten{}(x).shape() == tg::Shape{2, 48});
    CHECK((nn::Flatten{0, 1}(x).shape() == tg::Shape{4, 4, 6}));
    check_error(
        [&] {
            nn::MaxPool2d(2)(input({3, 4}, 1));
        },
        "MaxPool2d(k=2): max_pool2d: expected input (N,C,H,W), got (3,4)");
    check_error([&] { nn::AvgPool2d({2, 3})(input({3, 4}, 1)); }, "AvgPool2d(k=(2,3)): avg_pool2d: expected input");
    check_error([&] { nn::LPPool2d(2, -1.0)(x); }, "LPPool2d(k=2): lp_pool2d: p must be positive and finite, got -1");
    tg::Variable<float> xf(tg::Tensor<float>::from_shape({1, 1, 4, 4}));
    CHECK(nn::MaxPool2d(2)(xf).shape() == tg::Shape{1, 1, 2, 2});
    CHECK(nn::AvgPool2d(2)(xf).shape() == tg::Shape{1, 1, 2, 2});
}

TEST_CASE("activation layers: gradients of first and second order") {
    auto x = input_away_from_zero({2, 3}, 8);
    check_gradients([&] { return nn::Sigmoid{}(x); }, {x});
    check_gradients([&] { return nn::Tanh{}(x); }, {x});
    check_gradients([&] { return nn::ReLU{}(x); }, {x});
    check_gradients([&] { return nn::LeakyReLU{0.1}(x); }, {x});
    check_gradients([&] { return nn::ELU{0.5}(x); }, {x});
    check_gradients([&] { return nn::Softplus{2.0}(x); }, {x});
    check_gradients([&] { return nn::GELU{}(x); }, {x});
    check_gradients([&] { return nn::Softmax{}(x); }, {x});
    check_gradients([&] { return nn::Softmax{0}(x); }, {x});
    check_gradients([&] { return nn::LogSoftmax{}(x); }, {x});
    CHECK(close(nn::LeakyReLU{}(x).value(), tg::leaky_relu(x, 0.01).value()));
}

TEST_CASE("Dropout: identity in eval mode, expectation kept in training mode, seeded") {
    auto x = V(tg::Tensor<double>(xt::ones<double>({200, 100}) * 3.0), true);
    nn::Dropout<double> drop(0.3);
    drop.eval();
    CHECK(drop(x).node() == x.node());
    drop.train();
    auto y = drop(x);
    std::size_t zeros = 0;
    bool scaled = true;
    for (double v : y.value()) {
        if (v == 0)
            ++zeros;
        else
            scaled = scaled && std::abs(v - 3.0 / 0.7) < 1e-12;
    }
    CHECK(scaled);
    CHECK(double(zeros) / 20000 == doctest::Approx(0.3).epsilon(0.05));
    CHECK(tg::mean(y).item() == doctest::Approx(3.0).epsilon(0.02));
    // the gradient is the mask
    tg::sum(y).backward();
    CHECK(close(x.grad(), y.value() / 3.0, 1e-15));

    // seeded: the same seed gives the same mask; manual_seed does for the default generator
    nn::Dropout<double> a(0.5, 42), b(0.5, 42);
    CHECK(close(a(x).value(), b(x).value(), 0));
    tg::manual_seed(9);
    const auto first = nn::Dropout<double>(0.5)(x).value();
    tg::manual_seed(9);
    CHECK(close(nn::Dropout<double>(0.5)(x).value(), first, 0));
    auto small = input({3, 4}, 9);
    check_gradients([&] { return nn::Dropout<double>(0.4, 5)(small); }, {small});

    CHECK(tg::sum(nn::Dropout<double>(1.0)(x)).item() == 0.0);
    CHECK(nn::Dropout<double>(0.0)(x).node() == x.node());
    nn::Dropout<float> df(0.5);
    tg::Variable<float> xf(tg::Tensor<float>(xt::ones<float>({10})));
    CHECK(df(xf).shape() == tg::Shape{10});
    check_error([] { nn::Dropout<double>(1.5); }, "Dropout: p must be in [0, 1], got 1.5");
    check_error([] { nn::Dropout<double>(-0.1); }, "Dropout: p must be in [0, 1], got -0.1");
}

TEST_CASE("BatchNorm: batch statistics in training, running statistics in eval") {
    nn::BatchNorm2d<double> bn(2);
    auto x = input({4, 2, 3, 3}, 10, -1, 3);
    auto y = bn(x);
    // per channel: mean 0, biased variance 1 (up to eps)
    for (std::size_t c = 0; c < 2; ++c) {
        double s = 0, s2 = 0;
        for (std::size_t n = 0; n < 4; ++n)
            for (std::size_t i = 0; i < 9; ++i) {
                const double v = y.value().data()[(n * 2 + c) * 9 + i];
                s += v;
                s2 += v * v;
            }
        CHECK(s / 36 == doctest::Approx(0).epsilon(1e-12).scale(1));
        CHECK(s2 / 36 == doctest::Approx(1).epsilon(1e-4));
    }
    // running statistics: 0.9 * initial + 0.1 * batch (unbiased variance)
    for (std::size_t c = 0; c < 2; ++c) {
        double s = 0, s2 = 0;
        for (std::size_t n = 0; n < 4; ++n)
            for (std::size_t i = 0; i < 9; ++i) s += x.value().data()[(n * 2 + c) * 9 + i];
        const double m = s / 36;
        for (std::size_t n = 0; n < 4; ++n)
            for (std::size_t i = 0; i < 9; ++i) s2 += std::pow(x.value().data()[(n * 2 + c) * 9 + i] - m, 2);
        CHECK(bn.running_mean().value()(c) == doctest::Approx(0.1 * m));
        CHECK(bn.running_var().value()(c) == doctest::Approx(0.9 + 0.1 * s2 / 35));
    }
    // eval: (x - running_mean) / sqrt(running_var + eps) * weight + bias
    bn.eval();
    nn::init::uniform(bn.weight(), 0.5, 1.5);
    const auto ye = bn(x);
    const double expected = (x.value()(1, 1, 2, 0) - bn.running_mean().value()(1)) /
                                std::sqrt(bn.running_var().value()(1) + 1e-5) * bn.weight().value()(1) +
                            bn.bias().value()(1);
    CHECK(ye.value()(1, 1, 2, 0) == doctest::Approx(expected).epsilon(1e-12));
    const auto rm = bn.running_mean().value();
    bn(x);
    CHECK(close(bn.running_mean().value(), rm, 0));  // eval leaves the statistics alone
}

TEST_CASE("BatchNorm: gradients of first and second order, 1d and 2d, train and eval") {
    nn::BatchNorm1d<double> bn1(3);
    nn::init::uniform(bn1.weight(), 0.5, 1.5);
    nn::init::uniform(bn1.bias(), -1, 1);
    auto x = input({4, 3}, 11);
    check_gradients([&] { return bn1(x); }, with_params(x, bn1));
    auto x3 = input({2, 3, 2}, 12);
    check_gradients([&] { return bn1(x3); }, with_params(x3, bn1), false);
    nn::BatchNorm2d<double> bn2(2, 1e-3, 0.2, false);
    CHECK(bn2.parameters().empty());
    auto x4 = input({2, 2, 2, 2}, 13);
    check_gradients([&] { return bn2(x4); }, {x4}, false);
    bn1.eval();
    check_gradients([&] { return bn1(x); }, with_params(x, bn1));

    check_error([&] { bn1(input({4, 2}, 1)); }, "BatchNorm1d(3): expected input (N,3) or (N,3,L), got (4,2)");
    check_error([&] { bn2(input({4, 2}, 1)); }, "BatchNorm2d(2): expected input (N,2,H,W), got (4,2)");
    bn1.train();
    check_error(
        [&] {
            bn1(input({1, 3}, 1));
        },
        "BatchNorm1d(3): training needs more than one value per channel, got input (1,3)");
    check_error([] { nn::BatchNorm1d<double>(0); }, "BatchNorm1d(0): num_features must be at least 1");
    check_error([] { nn::BatchNorm1d<double>(2, 0.0); }, "BatchNorm1d(2): eps must be > 0, got 0");
    check_error([] { nn::BatchNorm2d<double>(2, 1e-5, 2.0); }, "BatchNorm2d(2): momentum must be in [0, 1], got 2");
}

TEST_CASE("a small float CNN trains: forward, backward and loss decrease") {
    tg::manual_seed(0);
    nn::Sequential<float> net{nn::Conv2d<float>(1, 4, 3, tg::Conv2dOptions().padding(1)), nn::ReLU{}, nn::MaxPool2d(2),
                              nn::Flatten{}, nn::Linear<float>(4 * 4 * 4, 3)};
    tg::Tensor<float> images = tg::Tensor<float>::from_shape({6, 1, 8, 8});
    tg::Generator gen(1);
    for (auto& v : images) v = float(gen.normal());
    const tg::Indices labels = {0, 1, 2, 0, 1, 2};
    auto X = tg::Variable<float>(images);
    float first = 0, last = 0;
    for (int step = 0; step < 30; ++step) {
        net.zero_grad();
        auto loss = tg::cross_entropy(net(X), labels);
        loss.backward();
        if (step == 0) first = loss.item();
        last = loss.item();
        tg::NoGradGuard no_grad;
        for (auto& p : net.parameters()) {
            tg::Tensor<float>& w = p.mutable_value();
            for (std::size_t i = 0; i < w.size(); ++i) w.data()[i] -= 0.1f * p.grad().data()[i];
        }
    }
    CHECK(last < 0.5f * first);
}
