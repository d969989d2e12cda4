// Numerical stability by construction: log-sum-exp, softmax shifts, sigmoid and softplus tails.
#include "helpers.hpp"

using namespace tgtest;

namespace {
V c(xt::xarray<double> x) { return tg::constant(x); }
bool finite(const tg::Tensor<double>& t) { return xt::all(xt::isfinite(t)); }
}  // namespace

TEST_CASE("log_softmax([1, 2, 3000]) = [-2999, -2998, 0]") {
    CHECK(close(tg::log_softmax(c({1.0, 2.0, 3000.0})).value(), {-2999, -2998, 0}));
    const tg::Variable<float> f = tg::constant(xt::xarray<float>{1.0f, 2.0f, 3000.0f});
    const auto lf = tg::log_softmax(f).value();
    CHECK(lf(0) == -2999.0f);
    CHECK(lf(2) == 0.0f);
}

TEST_CASE("logsumexp([1000, 1000]) = 1000 + log 2") {
    CHECK(tg::logsumexp(c({1000.0, 1000.0})).item() == doctest::Approx(1000.0 + std::log(2.0)));
    CHECK(tg::logsumexp(c({-1000.0, -1000.0})).item() == doctest::Approx(-1000.0 + std::log(2.0)));
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(tg::logsumexp(c({-inf, -inf})).item() == -inf);
}

TEST_CASE("sigmoid(+-100) and its gradient are finite") {
    const V x = tg::parameter(xt::xarray<double>{-100.0, 100.0, -800.0, 800.0});
    const V y = tg::sigmoid(x);
    CHECK(finite(y.value()));
    CHECK(y.value()(0) == doctest::Approx(std::exp(-100.0)));
    CHECK(y.value()(1) == 1.0);
    tg::sum(y).backward();
    CHECK(finite(x.grad()));
    const tg::Variable<float> xf = tg::parameter(xt::xarray<float>{-100.0f, 100.0f});
    tg::sum(tg::sigmoid(xf)).backward();
    CHECK(xt::all(xt::isfinite(xf.grad())));
}

TEST_CASE("softmax of logits shifted by 1e4 is unchanged") {
    const xt::xarray<double> logits = {{1.0, 2.0, 3.0}, {-1.0, 0.5, 4.0}};
    CHECK(close(tg::softmax(c(logits + 1e4)).value(), tg::softmax(c(logits)).value(), 1e-12));
    CHECK(close(tg::log_softmax(c(logits + 1e4)).value(), tg::log_softmax(c(logits)).value(), 1e-9));
    const V shifted = tg::parameter(logits + 1e4);
    tg::sum(tg::log_softmax(shifted) * c({{1.0, 0.0, 0.0}, {0.0, 0.0, 1.0}})).backward();
    CHECK(finite(shifted.grad()));
}

TEST_CASE("softplus and elu tails do not overflow") {
    const V x = tg::parameter(xt::xarray<double>{-1000.0, 1000.0});
    const V y = tg::softplus(x);
    CHECK(close(y.value(), {0, 1000}));
    tg::sum(y + tg::elu(x)).backward();
    CHECK(finite(x.grad()));
}
