// Reductions and softmax: forward values, gradcheck and gradgradcheck over axes and keepdims.
#include <xtensor/xview.hpp>

#include "helpers.hpp"

using namespace tgtest;

namespace {
V c(xt::xarray<double> x) { return tg::constant(x); }
const xt::xarray<double> m23 = {{1.0, 5.0, 3.0}, {4.0, 2.0, 6.0}};
}  // namespace

TEST_CASE("sum and mean: all elements, an axis, several axes, keepdims") {
    const V x = c(m23);
    CHECK(tg::sum(x).dim() == 0);
    CHECK(tg::sum(x).item() == 21.0);
    CHECK(close(tg::sum(x, 0).value(), {5, 7, 9}));
    CHECK(close(tg::sum(x, -1).value(), {9, 12}));
    CHECK(tg::sum(x, 1, true).shape() == tg::Shape{2, 1});
    CHECK(tg::sum(x, tg::Axes{0, 1}).item() == 21.0);
    CHECK(tg::mean(x).item() == 3.5);
    CHECK(close(tg::mean(x, 0).value(), {2.5, 3.5, 4.5}));
    CHECK(tg::mean(x, tg::Axes{0, 1}, true).shape() == tg::Shape{1, 1});
    const V t = tg::reshape(tg::arange<double>(0.0, 24.0), {2, 3, 4});
    CHECK(close(tg::sum(t, tg::Axes{0, 2}).value(), {60, 92, 124}));
}

TEST_CASE("max and min, with ties sharing the gradient") {
    const V x = c(m23);
    CHECK(tg::max(x).item() == 6.0);
    CHECK(tg::min(x).item() == 1.0);
    CHECK(close(tg::max(x, 1).value(), {5, 6}));
    CHECK(close(tg::min(x, 0, true).value(), {{1, 2, 3}}));
    const V p = tg::parameter(xt::xarray<double>{1.0, 3.0, 3.0, 2.0});
    tg::max(p).backward();
    CHECK(close(p.grad(), {0, 0.5, 0.5, 0}));
    CHECK_THROWS_WITH_AS(tg::max(tg::zeros({0})), doctest::Contains("max: cannot reduce an empty value"), tg::Error);
}

TEST_CASE("logsumexp, var") {
    const V x = c(m23);
    CHECK(tg::logsumexp(x).item() == doctest::Approx(std::log(xt::sum(xt::exp(m23))())));
    CHECK(close(tg::logsumexp(x, 1).value(), xt::log(xt::sum(xt::exp(m23), {1}))));
    // var: unbiased by default, population with correction 0
    CHECK(tg::var(c({1.0, 2.0, 3.0, 4.0})).item() == doctest::Approx(5.0 / 3.0));
    CHECK(tg::var(c({1.0, 2.0, 3.0, 4.0}), 0, false, 0).item() == doctest::Approx(1.25));
    CHECK(close(tg::var(x, 1, true).value(), shaped({4.0, 4.0}, {2, 1})));
    CHECK_THROWS_WITH_AS(tg::var(c({1.0})), doctest::Contains("var: 1 element per variance with correction 1"),
                         tg::Error);
}

TEST_CASE("softmax and log_softmax along an axis") {
    const V x = c(m23);
    const auto e = xt::exp(m23);
    CHECK(close(tg::softmax(x).value(), e / xt::view(xt::sum(e, {1}), xt::all(), xt::newaxis())));
    CHECK(close(tg::softmax(x, 0).value(), e / xt::sum(e, {0})));
    CHECK(close(tg::log_softmax(x).value(), xt::log(e / xt::view(xt::sum(e, {1}), xt::all(), xt::newaxis()))));
    CHECK(close(tg::sum(tg::softmax(x, 1), 1).value(), {1, 1}));
}

TEST_CASE("reductions: gradients over axes, keepdims and ranks") {
    const V x = input({2, 3, 4}, 1);
    for (bool keep : {false, true}) {
        check_gradients([&] { return tg::sum(x, 1, keep); }, {x});
        check_gradients([&] { return tg::sum(x, tg::Axes{0, 2}, keep); }, {x});
        check_gradients([&] { return tg::mean(x, -1, keep); }, {x});
        check_gradients([&] { return tg::max(x, 2, keep); }, {x});
        check_gradients([&] { return tg::min(x, tg::Axes{0, 1}, keep); }, {x});
        check_gradients([&] { return tg::logsumexp(x, 1, keep); }, {x});
        check_gradients([&] { return tg::var(x, tg::Axes{1, 2}, keep); }, {x});
        check_gradients([&] { return tg::var(x, 0, keep, 0); }, {x});
    }
    const V v = input({5}, 2);
    check_gradients([&] { return tg::sum(v); }, {v});
    check_gradients([&] { return tg::mean(v); }, {v});
    check_gradients([&] { return tg::max(v); }, {v});
    check_gradients([&] { return tg::min(v); }, {v});
    check_gradients([&] { return tg::logsumexp(v); }, {v});
    check_gradients([&] { return tg::var(v); }, {v});
}

TEST_CASE("softmax and log_softmax: gradients along each axis") {
    const V x = input({2, 3, 4}, 3);
    for (int axis : {0, 1, 2, -1}) {
        check_gradients([&] { return tg::softmax(x, axis); }, {x});
        check_gradients([&] { return tg::log_softmax(x, axis); }, {x});
    }
}

TEST_CASE("reductions: bad axes are clear errors") {
    const V x = c(m23);
    CHECK_THROWS_WITH_AS(tg::sum(x, 2), "sum: axis 2 is out of range for a value with 2 dimensions", tg::Error);
    CHECK_THROWS_WITH_AS(tg::mean(x, tg::Axes{0, -2}), "mean: axis 0 is given twice", tg::Error);
    CHECK_THROWS_WITH_AS(tg::softmax(x, -3), "softmax: axis -3 is out of range for a value with 2 dimensions",
                         tg::Error);
}

TEST_CASE("max and min over values with NaN: NaN, and the gradient shared among the NaNs (as PyTorch)") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (bool is_max : {true, false}) {
        const V p = tg::parameter(xt::xarray<double>{1.0, nan, 3.0, nan});
        const V y = is_max ? tg::max(p) : tg::min(p);
        CHECK(std::isnan(y.item()));
        y.backward();
        CHECK(close(p.grad(), {0, 0.5, 0, 0.5}));
        const V q = tg::parameter(xt::xarray<double>{{1.0, nan}, {2.0, 3.0}});
        (is_max ? tg::max(q, 1) : tg::min(q, 1)).backward(tg::Tensor<double>(tg::Shape{2}, 1.0));
        CHECK(close(q.grad(), {{0, 1}, {is_max ? 0.0 : 1.0, is_max ? 1.0 : 0.0}}));
    }
}
