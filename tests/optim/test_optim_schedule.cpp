// Learning-rate schedules produce their documented sequences; clipping produces the documented norms.
#include "test_optim_common.hpp"

#include <limits>

using namespace tgtest;

namespace {

/// The lr of group 0 over epochs 0..n-1 (epoch 0 is the value at construction).
template <class Scheduler>
std::vector<double> sequence(opt::OptimizerBase& o, Scheduler& s, int n) {
    std::vector<double> lrs{o.lr()};
    for (int e = 1; e < n; ++e) {
        s.step();
        lrs.push_back(o.lr());
    }
    return lrs;
}

void check_close(const std::vector<double>& got, const std::vector<double>& expected) {
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("epoch " << i);
        CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-14));
    }
}

}  // namespace

TEST_CASE("StepLR: 0.05 before epoch 30, 0.005 before 60, 0.0005 before 90 (the documented example)") {
    V a = param({1.0});
    opt::SGD<double> sgd({a}, opt::SGDOptions(0.05));
    opt::StepLR s(sgd, 30, 0.1);
    const auto lrs = sequence(sgd, s, 90);
    for (int e = 0; e < 90; ++e) {
        INFO("epoch " << e);
        CHECK(lrs[e] == doctest::Approx(e < 30 ? 0.05 : e < 60 ? 0.005 : 0.0005).epsilon(1e-14));
    }
    CHECK(s.last_epoch() == 89);
    CHECK(s.last_lr()[0] == lrs.back());
    CHECK(s.base_lrs()[0] == 0.05);
    s.set_epoch(29);
    CHECK(sgd.lr() == 0.05);  // jumping back sets the closed form again
}

TEST_CASE("MultiStepLR: milestones 30 and 80 (the documented example), per group") {
    V a = param({1.0}), b = param({1.0});
    opt::SGD<double> sgd({a}, opt::SGDOptions(0.05));
    sgd.add_param_group({b}, opt::SGDOptions(1.0));
    opt::MultiStepLR s(sgd, {30, 80}, 0.1);
    for (int e = 1; e < 100; ++e) {
        s.step();
        INFO("epoch " << e);
        CHECK(sgd.lr(0) == doctest::Approx(e < 30 ? 0.05 : e < 80 ? 0.005 : 0.0005).epsilon(1e-14));
        CHECK(sgd.lr(1) == doctest::Approx(e < 30 ? 1.0 : e < 80 ? 0.1 : 0.01).epsilon(1e-14));
    }
}

TEST_CASE("ExponentialLR: lr * gamma^epoch") {
    V a = param({1.0});
    opt::Adam<double> adam({a}, opt::AdamOptions(0.1));
    opt::ExponentialLR s(adam, 0.5);
    check_close(sequence(adam, s, 5), {0.1, 0.05, 0.025, 0.0125, 0.00625});
}

TEST_CASE("CosineAnnealingLR: eta_min + (base - eta_min)(1 + cos(pi t / T_max)) / 2") {
    V a = param({1.0});
    opt::SGD<double> sgd({a}, opt::SGDOptions(0.1));
    opt::CosineAnnealingLR s(sgd, 4, 0.02);
    // t = 0..4: 0.1, 0.02 + 0.08 (1 + cos(pi/4)) / 2, 0.06, 0.02 + 0.08 (1 - cos(pi/4)) / 2, 0.02.
    const double c = std::sqrt(0.5);
    check_close(sequence(sgd, s, 5), {0.1, 0.02 + 0.04 * (1 + c), 0.06, 0.02 + 0.04 * (1 - c), 0.02});
}

TEST_CASE("ReduceLROnPlateau: reduces after more than `patience` bad epochs, then cools down") {
    V a = param({1.0});
    opt::SGD<double> sgd({a}, opt::SGDOptions(1.0));
    opt::ReduceLROnPlateau plateau(sgd, opt::ReduceLROnPlateauOptions().patience(2).factor(0.5).cooldown(1));
    const std::vector<double> losses = {1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.8};
    // Epochs 3, 4, 5 are bad (0.95 >= 0.9 (1 - 1e-4)): the third exceeds patience 2 -> 0.5 at
    // epoch 5. Epoch 6 is in cooldown (not counted); 7, 8, 9 are bad -> 0.25 at epoch 9; 10 improves.
    const std::vector<double> expected = {1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25};
    for (std::size_t e = 0; e < losses.size(); ++e) {
        plateau.step(losses[e]);
        INFO("epoch " << e + 1);
        CHECK(sgd.lr() == expected[e]);
    }
    CHECK(plateau.best() == 0.8);
    CHECK(plateau.num_bad_epochs() == 0);
    CHECK(plateau.last_epoch() == 10);
    CHECK(plateau.last_lr() == std::vector<double>{0.25});
}

TEST_CASE("ReduceLROnPlateau: max mode, absolute threshold, min_lr") {
    V a = param({1.0});
    opt::SGD<double> sgd({a}, opt::SGDOptions(1.0));
    opt::ReduceLROnPlateau plateau(sgd, opt::ReduceLROnPlateauOptions()
                                            .mode(opt::PlateauMode::Max)
                                            .threshold_mode(opt::ThresholdMode::Abs)
                                            .threshold(0.1)
                                            .patience(0)
                                            .factor(0.1)
                                            .min_lr(0.05));
    plateau.step(0.5);  // better than -inf
    CHECK(sgd.lr() == 1.0);
    plateau.step(0.55);  // not better than 0.5 + 0.1: reduce to 0.1
    CHECK(sgd.lr() == doctest::Approx(0.1));
    plateau.step(0.7);  // better
    CHECK(sgd.lr() == doctest::Approx(0.1));
    plateau.step(0.7);  // 0.1 * 0.1 = 0.01 < min_lr: 0.05
    CHECK(sgd.lr() == 0.05);
    plateau.step(0.7);  // already at min_lr: unchanged
    CHECK(sgd.lr() == 0.05);
    CHECK(plateau.best() == 0.7);
}

TEST_CASE("clip_grad_norm: the joint 2-norm becomes max_norm") {
    V a = param({1.0, 1.0}), b = param({1.0}), unused = param({5.0});
    a.set_grad(tg::Tensor<double>(xt::xarray<double>({3.0, 4.0})));
    b.set_grad(tg::Tensor<double>(xt::xarray<double>({12.0})));
    // |(3, 4, 12)| = 13; coefficient 6.5 / (13 + 1e-6).
    const double total = opt::clip_grad_norm<double>({a, b, unused}, 6.5);
    CHECK(total == 13.0);
    const double coef = 6.5 / (13.0 + 1e-6);
    CHECK(a.grad()(0) == doctest::Approx(3 * coef).epsilon(1e-15));
    CHECK(a.grad()(1) == doctest::Approx(4 * coef).epsilon(1e-15));
    CHECK(b.grad()(0) == doctest::Approx(12 * coef).epsilon(1e-15));
    CHECK(!unused.has_grad());
    // The norm is now max_norm (up to the 1e-6 guard); a larger bound leaves the gradients alone.
    CHECK(opt::clip_grad_norm<double>({a, b}, 10.0) == doctest::Approx(6.5).epsilon(1e-6));
    CHECK(a.grad()(0) == doctest::Approx(3 * coef).epsilon(1e-15));
}

TEST_CASE("clip_grad_norm: other norms") {
    auto grads = [] {
        V a = param({0.0, 0.0, 0.0});
        a.set_grad(tg::Tensor<double>(xt::xarray<double>({-3.0, 1.0, 2.0})));
        return a;
    };
    V a = grads();
    CHECK(opt::clip_grad_norm<double>({a}, 1.0, std::numeric_limits<double>::infinity()) == 3.0);
    CHECK(a.grad()(0) == doctest::Approx(-1.0 / (1 + 1e-6 / 3)).epsilon(1e-15));  // max |g| is now ~1
    V b = grads();
    CHECK(opt::clip_grad_norm<double>({b}, 3.0, 1.0) == 6.0);
    CHECK(b.grad()(2) == doctest::Approx(1.0).epsilon(1e-6));  // |g|_1 is now ~3
    V c = grads();
    CHECK(opt::clip_grad_norm<double>({c}, 100.0, 3.0) == doctest::Approx(std::cbrt(36.0)).epsilon(1e-15));
    CHECK(c.grad()(0) == -3.0);
    V none = param({1.0});
    CHECK(opt::clip_grad_norm<double>({none}, 1.0) == 0.0);
    // A NaN norm without error_if_nonfinite spreads NaN, as in PyTorch.
    V d = grads();
    d.mutable_grad()(1) = std::nan("");
    CHECK(std::isnan(opt::clip_grad_norm<double>({d}, 1.0)));
    CHECK(std::isnan(d.grad()(0)));
}

TEST_CASE("clip_grad_value clamps every gradient element") {
    V a = param({0.0, 0.0, 0.0}), b = param({0.0});
    a.set_grad(tg::Tensor<double>(xt::xarray<double>({-3.0, 0.25, 2.0})));
    opt::clip_grad_value<double>({a, b}, 0.5);
    CHECK(a.grad()(0) == -0.5);
    CHECK(a.grad()(1) == 0.25);
    CHECK(a.grad()(2) == 0.5);
    CHECK(!b.has_grad());
    tg::Variable<float> f(tg::Tensor<float>(xt::xarray<float>({2.0f})), true);
    f.set_grad(tg::Tensor<float>(xt::xarray<float>({-7.0f})));
    opt::clip_grad_value<float>({f}, 1.0);
    CHECK(f.grad()(0) == -1.0f);
    CHECK(opt::clip_grad_norm<float>({f}, 0.5) == 1.0);
}
