// Tests of the losses and penalties: hand-computed values, stability, gradients of first and second order, errors.
#include <cmath>
#include <limits>

#include <xtensor/xadapt.hpp>
#include <xtensor/xview.hpp>

#include "helpers.hpp"

using namespace tgtest;
namespace nn = tapegrad::nn;
using nn::Reduction;

namespace {

V constant_of(xt::xarray<double> v) { return V(tg::Tensor<double>(v)); }

}  // namespace

TEST_CASE("cross_entropy: the worked example, its gradient, and shifted logits") {
    const xt::xarray<double> logits = {{1, 1, 1, 1}, {1, 2, 3, 4}};
    const tg::Indices labels = {3, 0};
    for (double shift : {0.0, 1e4}) {
        CAPTURE(shift);
        auto x = V(tg::Tensor<double>(logits + shift), true);
        auto per_sample = tg::cross_entropy(x, labels, Reduction::none);
        CHECK(close(per_sample.value(), xt::xarray<double>{1.3862944, 3.4401897}, 1e-6));
        tg::sum(per_sample).backward();
        CHECK(close(x.grad(), xt::xarray<double>{{.25, .25, .25, -.75}, {-.967941, .087144, .236883, .643914}}, 1e-5));
        x.zero_grad();
        auto m = tg::cross_entropy(x, labels);
        CHECK(m.item() == doctest::Approx((1.3862944 + 3.4401897) / 2).epsilon(1e-6));
        m.backward();
        CHECK(close(x.grad(), xt::xarray<double>{{.125, .125, .125, -.375}, {-.483970, .043572, .118442, .321957}},
                    1e-5));
    }
    // float: the same, also with 1e4 added to every logit
    for (float shift : {0.0f, 1e4f}) {
        tg::Variable<float> xf(tg::Tensor<float>(xt::cast<float>(logits) + shift), true);
        auto l = tg::cross_entropy(xf, labels, Reduction::sum);
        CHECK(l.item() == doctest::Approx(1.3862944 + 3.4401897).epsilon(1e-4));
        l.backward();
        CHECK(xf.grad()(1, 0) == doctest::Approx(-0.967941).epsilon(1e-4));
        CHECK(std::isfinite(xf.grad()(0, 3)));
    }
}

TEST_CASE("cross_entropy matches log_softmax + nll, with and without label smoothing") {
    auto x = input({5, 4}, 1, -3, 3);
    const tg::Indices labels = {0, 3, 1, 1, 2};
    auto composite = nn::nll_loss(tg::log_softmax(x, 1), labels);
    CHECK(tg::cross_entropy(x, labels).item() == doctest::Approx(composite.item()).epsilon(1e-12));
    // smoothing e: target (1 - e) onehot + e / C
    const double e = 0.2;
    xt::xarray<double> t = xt::ones<double>({5, 4}) * (e / 4);
    for (std::size_t i = 0; i < 5; ++i) t(i, labels[i]) += 1 - e;
    const double expected = -tg::sum(tg::log_softmax(x, 1) * constant_of(t)).item() / 5;
    CHECK(tg::cross_entropy(x, labels, Reduction::mean, e).item() == doctest::Approx(expected).epsilon(1e-12));
    CHECK(tg::cross_entropy(x, labels, Reduction::sum, 1.0).item() ==
          doctest::Approx(-tg::sum(tg::log_softmax(x, 1)).item() / 4).epsilon(1e-12));
}

TEST_CASE("cross_entropy and nll_loss gradients of first and second order") {
    auto x = input({3, 4}, 2, -2, 2);
    const tg::Indices labels = {2, 0, 3};
    for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
        check_gradients([&] { return tg::cross_entropy(x, labels, r); }, {x});
        check_gradients([&] { return tg::cross_entropy(x, labels, r, 0.1); }, {x});
        check_gradients([&] { return nn::nll_loss(x, labels, r); }, {x});
    }
}

TEST_CASE("regression losses: values") {
    auto a = constant_of({{1.0, 2.0}, {3.0, -1.0}});
    auto y = constant_of({{0.0, 2.5}, {1.0, 1.0}});
    // differences 1, -0.5, 2, -2; squares 1, .25, 4, 4
    CHECK(nn::mse_loss(a, y).item() == doctest::Approx(9.25 / 4));
    CHECK(nn::mse_loss(a, y, Reduction::sum).item() == doctest::Approx(9.25));
    CHECK(close(nn::mse_loss(a, y, Reduction::none).value(), xt::xarray<double>{{1, .25}, {4, 4}}));
    CHECK(nn::quadratic_cost(a, y).item() == doctest::Approx(9.25 / 4));  // 1/(2n), n = 2 samples
    CHECK(nn::l1_loss(a, y).item() == doctest::Approx(5.5 / 4));
    CHECK(nn::l1_loss(a, y, Reduction::sum).item() == doctest::Approx(5.5));
    // huber with delta 1: 0.5, 0.125, 1.5, 1.5
    CHECK(close(nn::huber_loss(a, y, Reduction::none).value(), xt::xarray<double>{{.5, .125}, {1.5, 1.5}}));
    CHECK(nn::huber_loss(a, y, Reduction::mean, 2.0).item() == doctest::Approx((.5 + .125 + 2 + 2) / 4));
}

TEST_CASE("binary cross-entropy: values, clamping and logits of any size") {
    auto p = constant_of({0.9, 0.2, 0.5});
    auto t = constant_of({1.0, 0.0, 1.0});
    const double expected = -(std::log(0.9) + std::log(0.8) + std::log(0.5)) / 3;
    CHECK(nn::binary_cross_entropy(p, t).item() == doctest::Approx(expected));
    // p of exactly 0 or 1 with the wrong target: log clamped at -100, gradient finite
    auto extreme = V(tg::Tensor<double>{0.0, 1.0, 1.0}, true);
    auto l = nn::binary_cross_entropy(extreme, t, Reduction::none);
    CHECK(close(l.value(), xt::xarray<double>{100.0, 100.0, 0.0}, 1e-9));
    tg::sum(l).backward();
    for (double g : extreme.grad()) CHECK(std::isfinite(g));

    auto logits = V(tg::Tensor<double>{0.0, -120.0}, true);
    auto targets = constant_of({0.0, 1.0});
    auto bce = nn::binary_cross_entropy_with_logits(logits, targets);
    CHECK(bce.item() == doctest::Approx((std::log(2.0) + 120.0) / 2).epsilon(1e-9));
    CHECK(bce.item() == doctest::Approx(60.35).epsilon(1e-3));
    bce.backward();
    CHECK(close(logits.grad(), xt::xarray<double>{0.25, -0.5}, 1e-12));
    tg::Variable<float> lf(tg::Tensor<float>{0.0f, -120.0f, 200.0f});
    tg::Variable<float> tf(tg::Tensor<float>{0.0f, 1.0f, 0.0f});
    CHECK(nn::binary_cross_entropy_with_logits(lf, tf, Reduction::sum).item() ==
          doctest::Approx(std::log(2.0) + 320.0).epsilon(1e-5));
    // the same as binary_cross_entropy of the sigmoid where that is accurate
    auto x = input({6}, 3, -4, 4);
    auto tt = input({6}, 4, 0, 1);
    CHECK(nn::binary_cross_entropy_with_logits(x, tt).item() ==
          doctest::Approx(nn::binary_cross_entropy(tg::sigmoid(x), tt).item()).epsilon(1e-10));
}

TEST_CASE("regression and binary losses: gradients of first and second order") {
    auto a = input({3, 2}, 5);
    auto y = input({3, 2}, 6);
    for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
        check_gradients([&] { return nn::mse_loss(a, y, r); }, {a, y});
        check_gradients([&] { return nn::l1_loss(a, y, r); }, {a, y});
        check_gradients([&] { return nn::huber_loss(a, y, r, 0.7); }, {a, y});
        check_gradients([&] { return nn::binary_cross_entropy_with_logits(a, y, r); }, {a, y});
    }
    check_gradients([&] { return nn::quadratic_cost(a, y); }, {a, y});
    auto p = input({3, 2}, 7, 0.05, 0.95);
    auto t = input({3, 2}, 8, 0.0, 1.0);
    check_gradients([&] { return nn::binary_cross_entropy(p, t); }, {p, t});
}

TEST_CASE("l1 and l2 penalties") {
    auto w = V(tg::Tensor<double>{{1.0, -2.0}, {0.5, 3.0}}, true);
    auto b = V(tg::Tensor<double>{-1.0}, true);
    CHECK(nn::l1_penalty<double>({w, b}).item() == doctest::Approx(7.5));
    CHECK(nn::l2_penalty<double>({w, b}).item() == doctest::Approx(1 + 4 + .25 + 9 + 1));
    CHECK(nn::l2_penalty<double>({}).item() == 0.0);
    auto x = input({2, 3}, 9);
    auto v = input({4}, 10);
    check_gradients([&] { return nn::l2_penalty<double>({x, v}); }, {x, v});
    auto xa = input_away_from_zero({2, 3}, 11);
    check_gradients([&] { return nn::l1_penalty<double>({xa}); }, {xa});
}

TEST_CASE("losses reject bad input with clear messages") {
    auto a = input({3, 2}, 1);
    auto b = input({3}, 2);
    check_error([&] { nn::mse_loss(a, b); }, "mse_loss: input (3,2) and target (3,) must have the same shape");
    check_error([&] { nn::l1_loss(a, b); }, "l1_loss: input (3,2) and target (3,)");
    check_error([&] { nn::huber_loss(a, b); }, "huber_loss: input (3,2)");
    check_error([&] { nn::huber_loss(a, a, Reduction::mean, 0.0); }, "huber_loss: delta must be positive");
    check_error([&] { nn::quadratic_cost(a, b); }, "quadratic_cost: input (3,2)");
    check_error([&] { nn::binary_cross_entropy(a, a); },
                "binary_cross_entropy: input probabilities must lie in [0, 1]");
    check_error([&] { nn::binary_cross_entropy_with_logits(a, b); }, "binary_cross_entropy_with_logits: input (3,2)");
    check_error([&] { tg::cross_entropy(b, {0, 1, 2}); }, "cross_entropy: expected logits (N,C), got (3,)");
    check_error(
        [&] {
            tg::cross_entropy(a, {0, 1});
        },
        "cross_entropy: 2 labels for logits (3,2): expected one label per row (3)");
    check_error(
        [&] {
            tg::cross_entropy(a, {0, 1, 2});
        },
        "cross_entropy: label 2 at position 2 is out of range for 2 classes");
    check_error(
        [&] {
            tg::cross_entropy(a, {0, 1, 1}, Reduction::mean, 1.5);
        },
        "cross_entropy: label_smoothing must be in [0, 1], got 1.5");
    check_error([&] { tg::cross_entropy(input({0, 2}, 3), {}); }, "cross_entropy: logits (0,2) are empty");
    check_error([&] { nn::nll_loss(b, {0, 1, 2}); }, "nll_loss: expected log-probabilities (N,C), got (3,)");
    check_error([&] { nn::nll_loss(a, {0}); }, "nll_loss: 1 labels for input (3,2)");
    check_error([&] { nn::nll_loss(a, {0, 5, 1}); }, "nll_loss: label 5 at position 1 is out of range for 2 classes");
}

TEST_CASE("huber_loss at NaN: NaN value and NaN gradient, as PyTorch") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const V x = tg::parameter(xt::xarray<double>{nan, 1.0, 3.0});
    const V y = nn::huber_loss(x, constant_of({0.0, 0.0, 0.0}), Reduction::none);
    tg::sum(y).backward();
    CHECK(std::isnan(y.value()(0)));
    CHECK(std::isnan(x.grad()(0)));
    CHECK(y.value()(1) == 0.5);
    CHECK(x.grad()(1) == 1.0);
    CHECK(y.value()(2) == 2.5);
    CHECK(x.grad()(2) == 1.0);
}

// Expected values from torch 1.13.1 (float64):
//   F.cross_entropy(x, labels, ignore_index=2, label_smoothing=ls, reduction=r), and F.nll_loss(x, labels, ...).
TEST_CASE("cross_entropy and nll_loss with ignore_index, alone and with label smoothing, as PyTorch") {
    const xt::xarray<double> x = {
        {1.0, 2.0, 0.5, -1.0}, {0.3, -0.2, 2.2, 1.0}, {3.0, 1.0, 0.0, -2.0}, {0.1, 0.2, 0.3, 0.4}};
    const tg::Indices labels = {1, 2, 0, 3};
    struct Expected {
        double smoothing, mean, sum;
        std::vector<double> none, row0_grad_sum;  // per-row losses; d(sum)/dx of row 0
    };
    const Expected cases[] = {
        {0.0,
         0.6377442633859111,
         1.9132327901577333,
         {0.49518189808585605, 0.0, 0.1755153626167145, 1.2425355294551628},
         {0.22420781804820114, -0.3905399624011229, 0.13598891579350553, 0.030343228559416225}},
        {0.2,
         0.9060775967192445,
         2.7182327901577334,
         {0.7701818980858561, 0.0, 0.6755153626167145, 1.2725355294551628},
         {0.17420781804820118, -0.24053996240112283, 0.08598891579350555, -0.01965677144058377}},
    };
    for (const Expected& e : cases) {
        CAPTURE(e.smoothing);
        const auto opts = nn::CrossEntropyOptions().ignore_index(2).label_smoothing(e.smoothing);
        const V a = tg::parameter(x);
        const V mean = nn::cross_entropy(a, labels, opts);
        CHECK(mean.item() == doctest::Approx(e.mean).epsilon(1e-14));
        CHECK(nn::cross_entropy(a, labels, nn::CrossEntropyOptions(opts).reduction(Reduction::sum)).item() ==
              doctest::Approx(e.sum).epsilon(1e-14));
        const V none = nn::cross_entropy(a, labels, nn::CrossEntropyOptions(opts).reduction(Reduction::none));
        CHECK(close(none.value(), xt::adapt(e.none)));
        tg::sum(none).backward();
        CHECK(close(xt::xarray<double>(xt::view(a.grad(), 0)), xt::adapt(e.row0_grad_sum)));
        CHECK(xt::all(xt::equal(xt::view(a.grad(), 1), 0.0)));  // the ignored row
        // first and second derivatives through the recorded gradient
        const V g = input({4, 4}, 7, -2, 2);
        for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none})
            check_gradients([&] { return nn::cross_entropy(g, labels, nn::CrossEntropyOptions(opts).reduction(r)); },
                            {g});
    }
    // nll_loss: the ignored row is not read at all
    xt::xarray<double> with_nan = x;
    with_nan(1, 0) = std::numeric_limits<double>::quiet_NaN();
    const V lp = tg::parameter(with_nan);
    const auto nll = nn::NllLossOptions().ignore_index(2);
    CHECK(nn::nll_loss(lp, labels, nll).item() == doctest::Approx(-1.8).epsilon(1e-14));
    CHECK(nn::nll_loss(lp, labels, nn::NllLossOptions(nll).reduction(Reduction::sum)).item() ==
          doctest::Approx(-5.4).epsilon(1e-14));
    const V per_row = nn::nll_loss(lp, labels, nn::NllLossOptions(nll).reduction(Reduction::none));
    CHECK(close(per_row.value(), {-2.0, 0.0, -3.0, -0.4}));
    nn::nll_loss(lp, labels, nll).backward();
    CHECK(close(lp.grad(), {{0, -1.0 / 3, 0, 0}, {0, 0, 0, 0}, {-1.0 / 3, 0, 0, 0}, {0, 0, 0, -1.0 / 3}}));
    const V g = input({4, 4}, 8, -2, 2);
    check_gradients([&] { return nn::nll_loss(g, labels, nll); }, {g});
    // a label out of range is still an error, unless it is the ignored one
    check_error(
        [&] {
            nn::nll_loss(g, tg::Indices{1, 9, 0, 0}, nll);
        },
        "nll_loss: label 9 at position 1 is out of range");
    CHECK(nn::cross_entropy(g, tg::Indices{1, 255, 0, 0}, nn::CrossEntropyOptions().ignore_index(255)).defined());
}

TEST_CASE("cross_entropy and nll_loss with every row ignored: mean NaN, sum 0, gradient 0 (as PyTorch)") {
    const V x = input({3, 4}, 9, -2, 2);
    const tg::Indices labels = {5, 5, 5};
    for (double smoothing : {0.0, 0.3}) {
        const auto opts = nn::CrossEntropyOptions().ignore_index(5).label_smoothing(smoothing);
        const V mean = nn::cross_entropy(x, labels, opts);
        CHECK(std::isnan(mean.item()));
        mean.backward();
        CHECK(xt::all(xt::equal(x.grad(), 0.0)));
        x.zero_grad();
        CHECK(nn::cross_entropy(x, labels, nn::CrossEntropyOptions(opts).reduction(Reduction::sum)).item() == 0.0);
        const auto g = tg::grad(nn::cross_entropy(x, labels, opts), {x}, tg::GradOptions().create_graph(true))[0];
        CHECK(xt::all(xt::equal(g.value(), 0.0)));
    }
    const V mean = nn::nll_loss(x, labels, nn::NllLossOptions().ignore_index(5));
    CHECK(std::isnan(mean.item()));
    mean.backward();
    CHECK(xt::all(xt::equal(x.grad(), 0.0)));
}
