// gradcheck itself: it passes right gradients, fails wrong ones and says where they are wrong.
#include <tapegrad/autograd/op.hpp>

#include "helpers.hpp"

using namespace tgtest;

namespace {

/// x^2 with a deliberately wrong VJP (3x instead of 2x), to prove the checks can fail.
template <class T>
struct WrongSquare {
    static constexpr const char* name = "wrong_square";
    tg::Tensor<T> forward(const tg::Tensor<T>& x) const { return x * x; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        a.dx[0] = a.g * a.x(0) * T(3);
    }
};

/// x^3 with a first derivative that is right in value but recorded as a constant, so its
/// second derivative is wrong (0): only gradgradcheck can see it.
template <class T>
struct FlatCube {
    static constexpr const char* name = "flat_cube";
    tg::Tensor<T> forward(const tg::Tensor<T>& x) const { return x * x * x; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        const auto& x = tg::vjp::value(a.x(0));
        tg::Tensor<T> d = 3.0 * x * x;
        a.dx[0] = a.g * tg::vjp::constant<G>(std::move(d));
    }
};

V wrong_square(const V& x) { return tg::apply(WrongSquare<double>{}, x); }
V flat_cube(const V& x) { return tg::apply(FlatCube<double>{}, x); }

}  // namespace

TEST_CASE("gradcheck passes a correct gradient and reports tiny errors") {
    const V x = input({3, 2}, 1);
    const auto r = tg::gradcheck<double>([&] { return tg::sum(x * x * x); }, {x});
    CHECK(r.passed);
    CHECK(bool(r));
    CHECK(r.elements == 6);
    CHECK(r.max_abs_error < 1e-7);
    CHECK(r.relative_difference < 1e-8);
    CHECK(r.summary().find("gradcheck passed") == 0);
}

TEST_CASE("gradcheck fails a wrong gradient and names the worst element") {
    const V x = tg::parameter(xt::xarray<double>{{1.0, -2.0}, {0.5, 3.0}});
    const auto r = tg::gradcheck<double>([&] { return tg::sum(wrong_square(x)); }, {x});
    CHECK_FALSE(r.passed);
    CHECK(r.worst_input == 0);
    CHECK(r.worst_index == std::vector<std::size_t>{1, 1});  // x = 3: analytic 9, numeric 6
    CHECK(r.worst_analytic == doctest::Approx(9.0));
    CHECK(r.worst_numeric == doctest::Approx(6.0).epsilon(1e-6));
    CHECK(r.max_abs_error == doctest::Approx(3.0).epsilon(1e-6));
    CHECK(r.relative_difference == doctest::Approx(0.2).epsilon(1e-6));  // |3x-2x| / |3x+2x|
    CHECK(r.summary().find("FAILED") != std::string::npos);
}

TEST_CASE("gradcheck of a non-scalar output checks the whole Jacobian") {
    const V x = input({3}, 2);
    CHECK(tg::gradcheck<double>([&] { return tg::tanh(x) * 2.0; }, {x}).elements == 9);
    const auto r = tg::gradcheck<double>([&] { return wrong_square(x); }, {x});
    CHECK_FALSE(r.passed);
    CHECK(r.worst_index.size() == 1);         // the input element, in the input's shape
    CHECK(r.worst_output_index.size() == 1);  // and the output element, in the output's shape
}

TEST_CASE("gradgradcheck catches a first derivative that is not differentiable") {
    const V x = input({3}, 3, 0.5, 2.0);
    CHECK(tg::gradcheck<double>([&] { return tg::sum(flat_cube(x)); }, {x}).passed);
    const auto r = tg::gradgradcheck<double>([&] { return tg::sum(flat_cube(x)); }, {x});
    CHECK_FALSE(r.passed);
    CHECK(tg::gradgradcheck<double>([&] { return tg::sum(x * x * x); }, {x}).passed);
}

TEST_CASE("gradcheck takes a function of its inputs, and float inputs with looser settings") {
    const V a = input({2}, 4), b = input({2}, 5);
    auto f = [](const std::vector<V>& in) { return tg::sum(in[0] * in[1]); };
    CHECK(tg::gradcheck<double>(f, {a, b}).passed);
    const tg::Variable<float> xf = tg::parameter(xt::xarray<float>{0.3f, -0.7f});
    const auto rf = tg::gradcheck<float>([&] { return tg::sum(tg::tanh(xf)); }, {xf},
                                         tg::GradcheckOptions().eps(1e-3).atol(1e-3).rtol(1e-2));
    CHECK(rf.passed);
}

TEST_CASE("gradcheck leaves the inputs as they were") {
    const V x = input({4}, 6);
    const tg::Tensor<double> before = x.value();
    tg::gradcheck<double>([&] { return tg::sum(tg::exp(x)); }, {x});
    CHECK(x.value() == before);
}

TEST_CASE("gradcheck: bad arguments are clear errors") {
    const V x = input({2}, 7);
    const V c = tg::constant(xt::xarray<double>{1.0, 2.0});
    CHECK_THROWS_WITH_AS(tg::gradcheck<double>([&] { return tg::sum(x * c); }, {c}),
                         "gradcheck: input 0 (shape (2,)) does not require grad", tg::Error);
    const V y = x * 2.0;
    CHECK_THROWS_WITH_AS(tg::gradcheck<double>([&] { return tg::sum(y); }, {y}),
                         "gradcheck: input 0 is the output of 'mul_scalar'; pass the leaves the function is computed "
                         "from",
                         tg::Error);
    CHECK_THROWS_WITH_AS(tg::gradcheck<double>([&] { return tg::sum(x); }, {x}, tg::GradcheckOptions().eps(0)),
                         "gradcheck: eps must be > 0, got 0", tg::Error);
}

namespace {

/// x^2 with a VJP off by 0.01 + 0.0025 x^2: a small error where the gradient is 0 and a large one
/// where it is large; relative to the tolerance the small one looks worse.
template <class T>
struct SkewedSquare {
    static constexpr const char* name = "skewed_square";
    tg::Tensor<T> forward(const tg::Tensor<T>& x) const { return x * x; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        const auto& x = tg::vjp::value(a.x(0));
        tg::Tensor<T> d = 2.0 * x + 0.01 + 0.0025 * x * x;
        a.dx[0] = a.g * tg::vjp::constant<G>(std::move(d));
    }
};

V skewed_square(const V& x) { return tg::apply(SkewedSquare<double>{}, x); }

}  // namespace

TEST_CASE("gradcheck runs f as written: an f that calls grad() itself (a gradient penalty)") {
    const V x = input({3, 2}, 21, -1.0, 1.0);
    // f = sum(g^2), g = d/dx sum(x^3) = 3x^2: f = 9 sum(x^4), df/dx = 36 x^3
    auto penalty = [&] {
        const auto g = tg::grad(tg::sum(x * x * x), {x}, tg::GradOptions().create_graph(true));
        return tg::sum(g[0] * g[0]);
    };
    const auto r = tg::gradcheck<double>(penalty, {x});
    INFO(r.summary());
    CHECK(r.passed);
    CHECK(r.elements == 6);
    const auto rr = tg::gradgradcheck<double>(penalty, {x});
    INFO(rr.summary());
    CHECK(rr.passed);
    // and under a NoGradGuard of the caller's, f still runs as written
    tg::NoGradGuard no_grad;
    CHECK(tg::gradcheck<double>(penalty, {x}).passed);
}

TEST_CASE("gradcheck names the element with the largest error, not the largest error relative to tolerance") {
    const V x = tg::parameter(xt::xarray<double>{{0.0, 100.0}});
    const auto r = tg::gradcheck<double>([&] { return tg::sum(skewed_square(x)); }, {x});
    CHECK_FALSE(r.passed);
    CHECK(r.worst_index == std::vector<std::size_t>{0, 1});  // x = 100: error 25.01 (x = 0: 0.01)
    CHECK(std::abs(r.worst_analytic - r.worst_numeric) == doctest::Approx(r.max_abs_error));
    CHECK(r.max_abs_error == doctest::Approx(25.01).epsilon(1e-6));
}

TEST_CASE("gradgradcheck names the worst element in the input's own shape, and the one with the largest error") {
    // An (8,3) input with a first derivative recorded as a constant: every second derivative is
    // wrong, by 6 x v; the worst is where |x v| is largest.
    const V x = input({8, 3}, 22, 0.5, 2.0);
    const auto r = tg::gradgradcheck<double>([&] { return tg::sum(flat_cube(x)); }, {x});
    INFO(r.summary());
    CHECK_FALSE(r.passed);
    CHECK(r.worst_input == 0);
    REQUIRE(r.worst_index.size() == 2);
    CHECK(r.worst_index[0] < 8);
    CHECK(r.worst_index[1] < 3);
    CHECK(std::abs(r.worst_analytic - r.worst_numeric) == doctest::Approx(r.max_abs_error));
    // the gradient element it was found in: that of input 0 at the same place (the Hessian is diagonal)
    CHECK(r.worst_output_input == 0);
    CHECK(r.worst_output_index == r.worst_index);
    CHECK(r.summary().find("gradgradcheck FAILED") == 0);
}
