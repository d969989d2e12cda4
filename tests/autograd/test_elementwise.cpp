// Elementwise ops: forward values, gradcheck and gradgradcheck on plain and broadcast shapes.
#include <cmath>
#include <functional>
#include <limits>

#include "helpers.hpp"

using namespace tgtest;

namespace {
xt::xarray<double> vals(const V& v) { return v.value(); }
V c(xt::xarray<double> x) { return tg::constant(x); }
}  // namespace

TEST_CASE("binary ops: forward values with broadcasting") {
    const V a = c({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
    const V b = c({10.0, 20.0, 30.0});
    const V col = tg::reshape(c({2.0, 4.0}), {2, 1});
    CHECK(close((a + b).value(), {{11, 22, 33}, {14, 25, 36}}));
    CHECK(close((a - b).value(), {{-9, -18, -27}, {-6, -15, -24}}));
    CHECK(close((a * col).value(), {{2, 4, 6}, {16, 20, 24}}));
    CHECK(close((a / col).value(), {{0.5, 1, 1.5}, {1, 1.25, 1.5}}));
    CHECK(close(tg::pow(col, c({1.0, 2.0, 0.5})).value(), {{2, 4, std::sqrt(2.0)}, {4, 16, 2}}));
    CHECK(close(tg::maximum(a, c({3.0})).value(), {{3, 3, 3}, {4, 5, 6}}));
    CHECK(close(tg::minimum(a, c({3.0})).value(), {{1, 2, 3}, {3, 3, 3}}));
    // a rank-0 operand broadcasts against anything
    CHECK(close((a * tg::scalar(2.0)).value(), {{2, 4, 6}, {8, 10, 12}}));
}

TEST_CASE("scalar operands on either side") {
    const V x = c({1.0, 2.0, 4.0});
    CHECK(close((x + 1).value(), {2, 3, 5}));
    CHECK(close((1 + x).value(), {2, 3, 5}));
    CHECK(close((x - 1).value(), {0, 1, 3}));
    CHECK(close((1 - x).value(), {0, -1, -3}));
    CHECK(close((2.0 * x).value(), {2, 4, 8}));
    CHECK(close((x * 2.0f).value(), {2, 4, 8}));
    CHECK(close((x / 2).value(), {0.5, 1, 2}));
    CHECK(close((4 / x).value(), {4, 2, 1}));
    CHECK(close((-x).value(), {-1, -2, -4}));
    CHECK(close(tg::pow(x, 3.0).value(), {1, 8, 64}));
    CHECK(close(tg::pow(x, 0.5).value(), {1, std::sqrt(2.0), 2}));
}

TEST_CASE("unary math: forward values") {
    const V x = c({-2.0, -0.5, 0.0, 0.5, 2.0});
    CHECK(close(tg::exp(x).value(), xt::exp(vals(x))));
    CHECK(close(tg::abs(x).value(), {2, 0.5, 0, 0.5, 2}));
    CHECK(close(tg::clamp(x, -1.0, 1.0).value(), {-1, -0.5, 0, 0.5, 1}));
    CHECK(close(tg::tanh(x).value(), xt::tanh(vals(x))));
    CHECK(close(tg::erf(x).value(), xt::erf(vals(x))));
    CHECK(close(tg::sigmoid(x).value(), 1.0 / (1.0 + xt::exp(-vals(x)))));
    CHECK(close(tg::relu(x).value(), {0, 0, 0, 0.5, 2}));
    CHECK(close(tg::leaky_relu(x, 0.1).value(), {-0.2, -0.05, 0, 0.5, 2}));
    CHECK(close(tg::elu(x, 1.0).value(), {std::exp(-2.0) - 1, std::exp(-0.5) - 1, 0, 0.5, 2}));
    CHECK(close(tg::softplus(x).value(), xt::log(1.0 + xt::exp(vals(x)))));
    CHECK(close(tg::softplus(x, 2.0).value(), xt::log(1.0 + xt::exp(2.0 * vals(x))) / 2.0));
    // GELU(x) = x * Phi(x): known values from the normal CDF
    CHECK(close(tg::gelu(c({-1.0, 0.0, 1.0, 2.0})).value(),
                {-0.15865525393145707, 0, 0.8413447460685429, 1.9544997361036416}));
    const V p = c({0.25, 1.0, 4.0});
    CHECK(close(tg::log(p).value(), {std::log(0.25), 0, std::log(4.0)}));
    CHECK(close(tg::sqrt(p).value(), {0.5, 1, 2}));
    // a long tensor goes through the vectorised path
    const V big = tg::arange<double>(-4.0, 4.0, 0.01);
    CHECK(close(tg::tanh(big).value(), xt::tanh(vals(big))));
}

TEST_CASE("where: selects and broadcasts") {
    const V a = c({{1.0, 2.0}, {3.0, 4.0}});
    const tg::Mask m = {true, false};
    CHECK(close(tg::where(m, a, 0.0).value(), {{1, 0}, {3, 0}}));
    CHECK(close(tg::where(m, -1.0, a).value(), {{-1, 2}, {-1, 4}}));
    CHECK(close(tg::where(m, a, c({10.0, 20.0})).value(), {{1, 20}, {3, 20}}));
}

TEST_CASE("binary ops: gradients, including broadcasts of different ranks") {
    const V a = input({2, 3}, 1), b = input({3}, 2), s = input({2, 1}, 3), t = input({}, 4);
    for (const auto& pair : std::vector<std::pair<V, V>>{{a, input({2, 3}, 5)}, {a, b}, {s, b}, {a, t}}) {
        const V x = pair.first, y = pair.second;
        check_gradients([&] { return x + y; }, {x, y});
        check_gradients([&] { return x - y; }, {x, y});
        check_gradients([&] { return x * y; }, {x, y});
        check_gradients([&] { return x / (y * y + 1.0); }, {x, y});
    }
    const V pos = input({2, 3}, 6, 0.5, 2.0);
    check_gradients([&] { return tg::pow(pos, b); }, {pos, b});
    check_gradients([&] { return tg::pow(pos, input({2, 1}, 7)); }, {pos});
    // maximum/minimum away from ties
    const V u = input({2, 3}, 8), w = u + input_away_from_zero({2, 3}, 9, 0.2);
    const V w_leaf = tg::parameter(w.value());
    check_gradients([&] { return tg::maximum(u, w_leaf); }, {u, w_leaf});
    check_gradients([&] { return tg::minimum(u, w_leaf); }, {u, w_leaf});
    check_gradients([&] { return tg::maximum(u, tg::scalar(0.05)); }, {u});
}

TEST_CASE("maximum: ties share the gradient") {
    const V a = tg::parameter(xt::xarray<double>{1.0, 2.0}), b = tg::parameter(xt::xarray<double>{1.0, 3.0});
    tg::sum(tg::maximum(a, b)).backward();
    CHECK(close(a.grad(), {0.5, 0}));
    CHECK(close(b.grad(), {0.5, 1}));
}

TEST_CASE("pow: gradient with respect to the exponent is 0 where the base is 0, NaN where it is negative") {
    const V base = tg::parameter(xt::xarray<double>{0.0, -2.0, 2.0});
    const V e = tg::parameter(xt::xarray<double>{2.0, 2.0, 3.0});
    tg::sum(tg::pow(base, e)).backward();
    CHECK(e.grad()(0) == 0.0);
    CHECK(std::isnan(e.grad()(1)));  // y log(a) with log(-2) = NaN, as PyTorch
    CHECK(e.grad()(2) == doctest::Approx(8 * std::log(2.0)));
    CHECK(close(base.grad(), {0, -4, 12}));
}

TEST_CASE("scalar-operand ops: gradients") {
    const V x = input({2, 3}, 11, 0.5, 2.0);
    check_gradients([&] { return x + 3.0; }, {x});
    check_gradients([&] { return 3.0 - x; }, {x});
    check_gradients([&] { return x * -2.5; }, {x});
    check_gradients([&] { return x / 4.0; }, {x});
    check_gradients([&] { return 2.0 / x; }, {x});
    check_gradients([&] { return tg::pow(x, 3.0); }, {x});
    check_gradients([&] { return tg::pow(x, 2.0); }, {x});
    check_gradients([&] { return tg::pow(x, -1.5); }, {x});
    check_gradients([&] { return tg::pow(x, 1.0); }, {x});
    check_gradients([&] { return tg::pow(x, 0.0); }, {x});
    check_gradients([&] { return -x; }, {x});
}

TEST_CASE("unary math and activations: gradients on two shapes") {
    for (const tg::Shape& shape : {tg::Shape{5}, tg::Shape{2, 3, 2}}) {
        const V x = input_away_from_zero(shape, 21);
        const V pos = input(shape, 22, 0.3, 3.0);
        check_gradients([&] { return tg::exp(x); }, {x});
        check_gradients([&] { return tg::log(pos); }, {pos});
        check_gradients([&] { return tg::sqrt(pos); }, {pos});
        check_gradients([&] { return tg::abs(x); }, {x});
        check_gradients([&] { return tg::clamp(x, -0.05, 0.07); }, {x});
        check_gradients([&] { return tg::erf(x); }, {x});
        check_gradients([&] { return tg::tanh(x); }, {x});
        check_gradients([&] { return tg::sigmoid(x); }, {x});
        check_gradients([&] { return tg::relu(x); }, {x});
        check_gradients([&] { return tg::leaky_relu(x, 0.2); }, {x});
        check_gradients([&] { return tg::elu(x, 1.5); }, {x});
        check_gradients([&] { return tg::softplus(x); }, {x});
        check_gradients([&] { return tg::softplus(x, 3.0); }, {x});
        check_gradients([&] { return tg::gelu(x); }, {x});
    }
    // the vectorised tanh path on a longer tensor
    const V long_x = input({40}, 23);
    check_gradients([&] { return tg::tanh(long_x); }, {long_x});
}

TEST_CASE("where: gradients flow only to the chosen side") {
    const V a = input({2, 3}, 31), b = input({3}, 32);
    const tg::Mask m = {{true, false, true}, {false, false, true}};
    check_gradients([&] { return tg::where(m, a, b); }, {a, b});
    check_gradients([&] { return tg::where(tg::Mask{true, false, false}, a * a, 2.0); }, {a});
    const V p = tg::parameter(xt::xarray<double>{1.0, 2.0});
    tg::sum(tg::where(tg::Mask{true, false}, p, 0.0)).backward();
    CHECK(close(p.grad(), {1, 0}));
}

TEST_CASE("float ops compute in float") {
    const tg::Variable<float> x = tg::parameter(xt::xarray<float>{0.5f, -1.0f});
    const auto y = tg::sum(tg::tanh(x) * 2.0f + 1);
    y.backward();
    CHECK(y.item() == doctest::Approx(2 * (std::tanh(0.5) + std::tanh(-1.0)) + 2).epsilon(1e-6));
    CHECK(x.grad()(0) == doctest::Approx(2 * (1 - std::tanh(0.5) * std::tanh(0.5))).epsilon(1e-6));
}

TEST_CASE("sin and cos: values, edge values, gradients on two shapes") {
    const double pi = 3.14159265358979323846;
    const V x = c({0.0, pi / 2, pi, -pi / 6});
    CHECK(close(tg::sin(x).value(), {0.0, 1.0, std::sin(pi), -0.5}, 1e-15));
    CHECK(close(tg::cos(x).value(), {1.0, std::cos(pi / 2), -1.0, std::sqrt(3.0) / 2}, 1e-15));
    const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
    const V edge = c({-0.0, 4.9e-324, inf, -inf, nan});
    const auto s = tg::sin(edge).value(), k = tg::cos(edge).value();
    CHECK((s(0) == 0.0 && std::signbit(s(0))));  // sin(-0) = -0
    CHECK(s(1) == 4.9e-324);                     // sin of a subnormal is itself
    CHECK(k(1) == 1.0);
    for (int i = 2; i < 5; ++i) CHECK((std::isnan(s(i)) && std::isnan(k(i))));
    for (const tg::Shape& shape : {tg::Shape{5}, tg::Shape{2, 3}}) {
        const V a = input(shape, 31);
        check_gradients([&] { return tg::sum(tg::sin(a) * a); }, {a});
        check_gradients([&] { return tg::sum(tg::cos(a) * tg::sin(a)); }, {a});
    }
}

// Values and gradients at NaN, -0 and +-inf as PyTorch 1.13 gives them (checked with torch, float64).
TEST_CASE("NaN propagates through relu, maximum, minimum and clamp, with PyTorch's gradients") {
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    auto same = [](double a, double b) {
        return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b));
    };
    auto check_all = [&](const tg::Tensor<double>& got, const std::vector<double>& want, const char* what) {
        REQUIRE(got.size() == want.size());
        for (std::size_t i = 0; i < want.size(); ++i)
            CHECK_MESSAGE(same(got(i), want[i]), what << " at " << i << ": " << got(i) << ", PyTorch " << want[i]);
    };
    const xt::xarray<double> xs = {nan, 0.0, -0.0, 1.0, -1.0, inf, -inf};
    struct Case {
        const char* name;
        std::function<V(const V&)> f;
        std::vector<double> y, dx;
    };
    const std::vector<Case> cases = {
        {"relu", [](const V& x) { return tg::relu(x); }, {nan, 0, -0.0, 1, 0, inf, 0}, {1, 0, 0, 1, 0, 1, 0}},
        {"leaky_relu",
         [](const V& x) { return tg::leaky_relu(x, 0.1); },
         {nan, 0, -0.0, 1, -0.1, inf, -inf},
         {0.1, 0.1, 0.1, 1, 0.1, 1, 0.1}},
        {"elu",
         [](const V& x) { return tg::elu(x); },
         {nan, 0, -0.0, 1, std::expm1(-1.0), inf, -1},
         {1, 1, 1, 1, std::exp(-1.0), 1, 0}},
        {"abs", [](const V& x) { return tg::abs(x); }, {nan, 0, 0, 1, 1, inf, inf}, {0, 0, 0, 1, -1, 1, -1}},
        {"clamp",
         [](const V& x) { return tg::clamp(x, -0.5, 0.5); },
         {nan, 0, -0.0, 0.5, -0.5, 0.5, -0.5},
         {0, 1, 1, 0, 0, 0, 0}},
    };
    for (const Case& c : cases) {
        for (std::size_t n : {std::size_t(1), std::size_t(7)}) {  // the loops vectorise: alone and among others
            xt::xarray<double> in = xs;
            if (n == 1) in = xt::xarray<double>{nan};
            const V x = tg::parameter(in);
            const V y = c.f(x);
            tg::sum(y).backward();
            check_all(y.value(), n == 1 ? std::vector<double>{c.y[0]} : c.y, c.name);
            check_all(x.grad(), n == 1 ? std::vector<double>{c.dx[0]} : c.dx, c.name);
        }
    }
    // maximum/minimum: a NaN on either side wins, and both sides get the whole gradient there;
    // at ties each gets half.
    for (bool is_max : {true, false}) {
        const V a = tg::parameter(xt::xarray<double>{nan, 0.0, nan, 1.0, inf, 2.0, -3.0});
        const V b = tg::parameter(xt::xarray<double>{0.0, nan, nan, 1.0, inf, -3.0, 2.0});
        const V y = is_max ? tg::maximum(a, b) : tg::minimum(a, b);
        tg::sum(y).backward();
        const char* what = is_max ? "maximum" : "minimum";
        check_all(y.value(), {nan, nan, nan, 1, inf, is_max ? 2.0 : -3.0, is_max ? 2.0 : -3.0}, what);
        check_all(a.grad(), {1, 1, 1, 0.5, 0.5, is_max ? 1.0 : 0.0, is_max ? 0.0 : 1.0}, what);
        check_all(b.grad(), {1, 1, 1, 0.5, 0.5, is_max ? 0.0 : 1.0, is_max ? 1.0 : 0.0}, what);
    }
}
