// Custom ops through the public mechanism: the two worked examples of docs/custom-ops.md.
#include <algorithm>
#include <cmath>

#include "helpers.hpp"

using namespace tgtest;

namespace {

/// y = log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|)): finite for every x.
template <class T>
struct Log1pExp {
    static constexpr const char* name = "log1p_exp";
    static constexpr const char* formula = "y = log(1 + exp(x))   dx = g sigmoid(x)";
    tg::Tensor<T> forward(const tg::Tensor<T>& x) const {
        return tg::kernels::map(x, [](T v) { return std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v))); });
    }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        a.dx[0] = a.g * tg::vjp::apply(tg::Sigmoid<T>{}, a.x(0));
    }
};
template <class T>
tg::Variable<T> log1p_exp(const tg::Variable<T>& x) {
    return tg::apply(Log1pExp<T>{}, x);
}

/// y = round(x) forward; the gradient passes straight through, as if y were x.
template <class T>
struct RoundStraightThrough {
    static constexpr const char* name = "round_ste";
    static constexpr const char* formula = "y = round(x)   dx = g (straight through)";
    tg::Tensor<T> forward(const tg::Tensor<T>& x) const {
        return tg::kernels::map(x, [](T v) { return std::nearbyint(v); });
    }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        a.dx[0] = std::move(a.g);
    }
};
template <class T>
tg::Variable<T> round_ste(const tg::Variable<T>& x) {
    return tg::apply(RoundStraightThrough<T>{}, x);
}

}  // namespace

TEST_CASE("log1p_exp: stable forward, gradient and second derivative checked") {
    const V x = tg::parameter(xt::xarray<double>{-800.0, -2.0, 0.0, 3.0, 800.0});
    const V y = log1p_exp(x);
    CHECK(y.value()(0) == doctest::Approx(0.0));
    CHECK(y.value()(2) == doctest::Approx(std::log(2.0)));
    CHECK(y.value()(4) == doctest::Approx(800.0));
    CHECK(std::string(y.op_name()) == "log1p_exp");
    CHECK(std::string(y.node()->formula()) == "y = log(1 + exp(x))   dx = g sigmoid(x)");
    check_gradients([&] { return tg::sum(log1p_exp(x * 0.01)); }, {x});
    const V z = input({3, 4}, 11);
    check_gradients([&] { return tg::sum(log1p_exp(z) * z); }, {z});
    // The second derivative is sigmoid(x) (1 - sigmoid(x)), as the recorded VJP gives.
    const V w = tg::parameter(xt::xarray<double>{0.5});
    const auto g = tg::grad(tg::sum(log1p_exp(w)), {w}, tg::GradOptions().create_graph(true));
    const auto h = tg::grad(tg::sum(g[0]), {w});
    const double s = 1.0 / (1.0 + std::exp(-0.5));
    CHECK(h[0].item() == doctest::Approx(s * (1 - s)).epsilon(1e-12));
}

TEST_CASE("round_ste: the gradient of the surrogate, and gradcheck says it is not the true one") {
    const V w = tg::parameter(xt::xarray<double>{0.2, 1.7, -2.6});
    const V loss = tg::sum(round_ste(w) * round_ste(w));
    loss.backward();
    CHECK(close(w.grad(), xt::xarray<double>{0.0, 4.0, -6.0}));
    const auto first = tg::gradcheck<double>([&] { return tg::sum(round_ste(w) * 3.0); }, {w});
    CHECK_FALSE(first.passed);  // the true derivative of round is 0 here; the STE passes 3 through
    CHECK(first.max_abs_error == doctest::Approx(3.0));
    const auto second = tg::gradgradcheck<double>([&] { return tg::sum(round_ste(w) * 3.0); }, {w});
    INFO(second.summary());
    CHECK(second.passed);
}

TEST_CASE("a custom op works in float too, and without grad it records nothing") {
    const tg::Variable<float> x = tg::parameter(xt::xarray<float>{-1.0f, 2.0f});
    const auto y = log1p_exp(x);
    tg::sum(y).backward();
    CHECK(x.grad()(1) == doctest::Approx(1.0 / (1.0 + std::exp(-2.0))).epsilon(1e-6));
    const auto c = log1p_exp(tg::constant(xt::xarray<float>{1.0f}));
    CHECK(c.is_leaf());
}
