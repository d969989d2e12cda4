// Edge values: every vectorised math op and VJP against std:: on 0, -0, subnormals, +-inf, NaN and
// huge values, in tensors of every length 1..17 (full SIMD lanes and the tail), float and double.
#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "helpers.hpp"

namespace tg = tapegrad;

namespace {

template <class T>
using Var = tg::Variable<T>;

/// The inputs of the audit: special values, and a few ordinary ones.
template <class T>
std::vector<T> edge_values() {
    using L = std::numeric_limits<T>;
    const T tiny = sizeof(T) == 8 ? T(1e-310) : T(1e-40);  // a subnormal that is not the smallest
    const T huge = sizeof(T) == 8 ? T(1e300) : T(1e38);
    return {T(0),
            T(-0.0),
            L::denorm_min(),
            -L::denorm_min(),
            tiny,
            -tiny,
            L::infinity(),
            -L::infinity(),
            L::quiet_NaN(),
            huge,
            -huge,
            T(1),
            T(-1),
            T(0.5),
            T(-2.5),
            T(20),
            T(-20),
            T(100),
            T(-100),
            sizeof(T) == 8 ? T(-740) : T(-95),
            sizeof(T) == 8 ? T(709.5) : T(88.5)};
}

/// Ordinary inputs, where a few ulp of difference from std:: is allowed.
template <class T>
bool ordinary(T v) {
    const T a = std::abs(v);
    return a == T(1) || a == T(0.5) || a == T(2.5) || a == T(20) || a == T(100);
}

/// got == want: NaN for NaN, the same sign for zeros and infinities; within `ulps` if `loose`.
template <class T>
bool same(T got, T want, bool loose, double ulps) {
    if (std::isnan(want)) return std::isnan(got);
    if (want == T(0) || std::isinf(want) || !loose) return got == want && std::signbit(got) == std::signbit(want);
    const double scale = std::max(double(std::abs(want)), double(std::numeric_limits<T>::min()));
    return std::abs(double(got) - double(want)) <= ulps * double(std::numeric_limits<T>::epsilon()) * scale;
}

template <class T>
std::string show(T v) {
    return fmt::format("{:.17g}", double(v));
}

template <class T>
const char* type_name() {
    return sizeof(T) == 8 ? "double" : "float";
}

template <class T>
Var<T> filled(std::size_t n, T v, bool grad = false) {
    tg::Tensor<T> t = tg::Tensor<T>::from_shape({n});
    t.fill(v);
    return Var<T>(std::move(t), grad);
}

/// A length-n tensor of ordinary values with `v` at position k.
template <class T>
Var<T> planted(std::size_t n, std::size_t k, T v, T background, bool grad = false) {
    tg::Tensor<T> t(tg::Shape{n}, background);
    t(k) = v;
    return Var<T>(std::move(t), grad);
}

/// Every element of op over tensors filled with v (lengths 1..17), and v planted among ordinary
/// values at every position, equals ref(v).
template <class T>
void audit_unary(const char* name, std::function<Var<T>(const Var<T>&)> op, std::function<T(T)> ref, double ulps = 4,
                 T background = T(0.75)) {
    int failures = 0;
    for (T v : edge_values<T>()) {
        const T want = ref(v);
        for (std::size_t n = 1; n <= 17 && failures < 5; ++n) {
            const tg::Tensor<T> y = op(filled(n, v)).value();
            for (std::size_t i = 0; i < n; ++i)
                if (!same(y(i), want, ordinary(v), ulps) && failures++ < 5)
                    FAIL_CHECK(fmt::format("{} {}({}) = {} at {} of {}, std:: gives {}", name, type_name<T>(), show(v),
                                           show(y(i)), i, n, show(want)));
            for (std::size_t k = 0; k < n; ++k) {
                const T got = op(planted(n, k, v, background)).value()(k);
                if (!same(got, want, ordinary(v), ulps) && failures++ < 5)
                    FAIL_CHECK(fmt::format("{} {}({}) = {} planted at {} of {}, std:: gives {}", name, type_name<T>(),
                                           show(v), show(got), k, n, show(want)));
            }
        }
    }
    CHECK_MESSAGE(failures == 0, std::string(name));
}

/// The gradient of sum(op(x)) at x filled with v (lengths 1..17) equals dref(v).
template <class T>
void audit_grad(const char* name, std::function<Var<T>(const Var<T>&)> op, std::function<T(T)> dref, double ulps = 4) {
    int failures = 0;
    for (T v : edge_values<T>()) {
        const T want = dref(v);
        for (std::size_t n = 1; n <= 17; ++n) {
            const Var<T> x = filled(n, v, true);
            tg::sum(op(x)).backward();
            for (std::size_t i = 0; i < n; ++i)
                if (!same(x.grad()(i), want, ordinary(v), ulps) && failures++ < 5)
                    FAIL_CHECK(fmt::format("d {} {}({}) = {} at {} of {}, expected {}", name, type_name<T>(), show(v),
                                           show(x.grad()(i)), i, n, show(want)));
        }
    }
    CHECK_MESSAGE(failures == 0, std::string(name));
}

template <class T>
void audit_all_unary() {
    const T erf_ulps = sizeof(T) == 8 ? 40 : 4;
    audit_unary<T>(
        "exp", [](const Var<T>& x) { return tg::exp(x); }, [](T v) { return std::exp(v); });
    audit_unary<T>(
        "log", [](const Var<T>& x) { return tg::log(x); }, [](T v) { return std::log(v); });
    audit_unary<T>(
        "sqrt", [](const Var<T>& x) { return tg::sqrt(x); }, [](T v) { return std::sqrt(v); });
    audit_unary<T>(
        "tanh", [](const Var<T>& x) { return tg::tanh(x); }, [](T v) { return std::tanh(v); });
    audit_unary<T>(
        "erf", [](const Var<T>& x) { return tg::erf(x); }, [](T v) { return std::erf(v); }, erf_ulps);
    audit_unary<T>(
        "abs", [](const Var<T>& x) { return tg::abs(x); }, [](T v) { return std::abs(v); });
    audit_unary<T>(
        "sigmoid", [](const Var<T>& x) { return tg::sigmoid(x); },
        [](T v) { return v >= 0 ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v)); });
    audit_unary<T>(
        "elu", [](const Var<T>& x) { return tg::elu(x); }, [](T v) { return v > 0 ? v : std::expm1(v); });
    for (T p : {T(0), T(-0.0), T(0.5), T(1), T(2), T(3), T(-0.5), T(-1), T(1.5), std::numeric_limits<T>::infinity(),
                -std::numeric_limits<T>::infinity(), std::numeric_limits<T>::quiet_NaN()}) {
        const std::string name = "pow(x, " + show(p) + ")";
        audit_unary<T>(
            name.c_str(), [p](const Var<T>& x) { return tg::pow(x, p); }, [p](T v) { return std::pow(v, p); });
        const std::string tname = "pow(x, tensor " + show(p) + ")";
        audit_unary<T>(
            tname.c_str(), [p](const Var<T>& x) { return tg::pow(x, filled<T>(x.size(), p)); },
            [p](T v) { return std::pow(v, p); });
        const std::string bname = "pow(" + show(p) + ", x)";
        audit_unary<T>(
            bname.c_str(), [p](const Var<T>& x) { return tg::pow(filled<T>(x.size(), p), x); },
            [p](T v) { return std::pow(p, v); });
    }
}

}  // namespace

TEST_CASE("edge values: exp, log, sqrt, tanh, erf, pow... equal std:: at every position (double)") {
    audit_all_unary<double>();
}

TEST_CASE("edge values: exp, log, sqrt, tanh, erf, pow... equal std:: at every position (float)") {
    audit_all_unary<float>();
}

TEST_CASE("edge values: the issue's reproducers") {
    const Var<double> a = tg::parameter(xt::xarray<double>{0, 0, 0, 0, 0});
    tg::sum(tg::pow(a, 0.5)).backward();
    for (std::size_t i = 0; i < 5; ++i) CHECK(a.grad()(i) == std::numeric_limits<double>::infinity());
    const Var<double> b = tg::parameter(xt::xarray<double>{0, 0, 0, 0, 0});
    tg::sum(tg::pow(b, tg::ones<double>({5}))).backward();
    for (std::size_t i = 0; i < 5; ++i) CHECK(b.grad()(i) == 1.0);
    const auto l = tg::log(tg::full<double>({5}, 1e-310)).value();
    for (std::size_t i = 0; i < 5; ++i) CHECK(l(i) == std::log(1e-310));
}

template <class T>
void audit_all_grads() {
    const T inf = std::numeric_limits<T>::infinity();
    audit_grad<T>(
        "exp", [](const Var<T>& x) { return tg::exp(x); }, [](T v) { return std::exp(v); });
    audit_grad<T>(
        "log", [](const Var<T>& x) { return tg::log(x); }, [](T v) { return T(1) / v; });
    audit_grad<T>(
        "sqrt", [](const Var<T>& x) { return tg::sqrt(x); }, [](T v) { return T(1) / (std::sqrt(v) * 2); });
    // 1 - y^2 magnifies tanh's own last-bit differences (xsimd's tanh is within 2 ulp)
    audit_grad<T>(
        "tanh", [](const Var<T>& x) { return tg::tanh(x); }, [](T v) { return T(1) - std::tanh(v) * std::tanh(v); },
        128);
    audit_grad<T>(
        "erf", [](const Var<T>& x) { return tg::erf(x); },
        [](T v) { return std::exp(-(v * v)) * T(1.12837916709551257389615890312); });
    // pow(x, p) as PyTorch: p x^(p-1), and 0 for p == 0 (never 0 * inf)
    for (T p : {T(0), T(0.5), T(1), T(2), T(3), T(-0.5), T(-1), T(1.5)}) {
        const std::string name = "pow(x, " + show(p) + ")";
        auto d = [p](T v) { return p == 0 ? T(0) : p * std::pow(v, p - T(1)); };
        audit_grad<T>(
            name.c_str(), [p](const Var<T>& x) { return tg::pow(x, p); }, d);
        const std::string tname = "pow(x, tensor " + show(p) + ")";
        audit_grad<T>(
            tname.c_str(), [p](const Var<T>& x) { return tg::pow(x, filled<T>(x.size(), p)); }, d);
    }
    // logsumexp and log_softmax: exp(x - lse) reaches subnormals (std:: keeps them; xsimd flushed them)
    for (std::size_t n = 1; n <= 17; ++n) {
        tg::Tensor<T> t(tg::Shape{n}, sizeof(T) == 8 ? T(-740) : T(-95));
        t(0) = T(0);
        const Var<T> x(t, true);
        tg::logsumexp(x).backward();
        for (std::size_t i = 1; i < n; ++i) CHECK(x.grad()(i) == std::exp(t(i)));
        const Var<T> z(t, true);
        tg::sum(tg::slice(tg::log_softmax(z), 0, 0, 1)).backward();
        for (std::size_t i = 1; i < n; ++i) CHECK(z.grad()(i) == -std::exp(t(i)));
    }
    (void)inf;
}

TEST_CASE("edge values: gradients of the math ops at every position (double)") { audit_all_grads<double>(); }
TEST_CASE("edge values: gradients of the math ops at every position (float)") { audit_all_grads<float>(); }

TEST_CASE("pow's gradients follow PyTorch 1.13 at 0, -0, subnormals, negatives, +-inf and NaN") {
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    const double den = std::numeric_limits<double>::denorm_min();
    struct Row {
        double a, b, y, da, db, da_scalar;  // from torch (float64): pow(a, b) with tensor b, and with scalar b
    };
    // Generated by torch 1.13.1: y = torch.pow(a, b); y.backward(); and torch.pow(a, float(b)).
    const Row rows[] = {
        {0.0, 0.0, 1.0, 0.0, 0.0, 0.0},
        {0.0, 0.5, 0.0, inf, 0.0, inf},
        {0.0, 1.0, 0.0, 1.0, 0.0, 1.0},
        {0.0, 2.0, 0.0, 0.0, 0.0, 0.0},
        {0.0, -0.5, inf, -inf, -inf, -inf},
        {0.0, -1.0, inf, -inf, -inf, -inf},
        {0.0, 3.0, 0.0, 0.0, 0.0, 0.0},
        {0.0, -0.0, 1.0, 0.0, 0.0, 0.0},
        {0.0, inf, 0.0, nan, 0.0, nan},
        {0.0, nan, nan, nan, nan, nan},
        {-0.0, 0.0, 1.0, 0.0, 0.0, 0.0},
        {-0.0, 0.5, 0.0, inf, 0.0, -inf},
        {-0.0, 1.0, -0.0, 1.0, 0.0, 1.0},
        {-0.0, 2.0, 0.0, -0.0, 0.0, -0.0},
        {-0.0, -0.5, inf, -inf, -inf, -inf},
        {-0.0, -1.0, -inf, -inf, inf, -inf},
        {-0.0, 3.0, -0.0, 0.0, 0.0, 0.0},
        {-0.0, -0.0, 1.0, 0.0, 0.0, 0.0},
        {-0.0, inf, 0.0, nan, 0.0, nan},
        {-0.0, nan, nan, nan, nan, nan},
        {den, 0.0, 1.0, 0.0, -744.4400719213812, 0.0},
        {den, 0.5, 2.2227587494850775e-162, 2.2494568972715982e+161, -1.6547106833305505e-159, 2.2494568972715982e+161},
        {den, 1.0, den, 1.0, -3.676e-321, 1.0},
        {den, 2.0, 0.0, 1e-323, -0.0, 1e-323},
        {den, -0.5, 4.4989137945431964e+161, -inf, -3.349171708777831e+164, -inf},
        {den, -1.0, inf, -inf, -inf, -inf},
        {den, 3.0, 0.0, 0.0, -0.0, 0.0},
        {den, -0.0, 1.0, 0.0, -744.4400719213812, 0.0},
        {den, inf, 0.0, nan, -0.0, nan},
        {den, nan, nan, nan, nan, nan},
        {-2.0, 0.0, 1.0, 0.0, nan, 0.0},
        {-2.0, 0.5, nan, nan, nan, nan},
        {-2.0, 1.0, -2.0, 1.0, nan, 1.0},
        {-2.0, 2.0, 4.0, -4.0, nan, -4.0},
        {-2.0, -0.5, nan, nan, nan, nan},
        {-2.0, -1.0, -0.5, -0.25, nan, -0.25},
        {-2.0, 3.0, -8.0, 12.0, nan, 12.0},
        {-2.0, -0.0, 1.0, 0.0, nan, 0.0},
        {-2.0, inf, inf, inf, nan, inf},
        {-2.0, nan, nan, nan, nan, nan},
        {2.0, 0.0, 1.0, 0.0, 0.6931471805599453, 0.0},
        {2.0, 0.5, 1.4142135623730951, 0.3535533905932738, 0.9802581434685472, 0.35355339059327373},
        {2.0, 1.0, 2.0, 1.0, 1.3862943611198906, 1.0},
        {2.0, 2.0, 4.0, 4.0, 2.772588722239781, 4.0},
        {2.0, -0.5, 0.7071067811865476, -0.1767766952966369, 0.4901290717342736, -0.1767766952966369},
        {2.0, -1.0, 0.5, -0.25, 0.34657359027997264, -0.25},
        {2.0, 3.0, 8.0, 12.0, 5.545177444479562, 12.0},
        {2.0, -0.0, 1.0, 0.0, 0.6931471805599453, 0.0},
        {2.0, inf, inf, inf, inf, inf},
        {2.0, nan, nan, nan, nan, nan},
        {inf, 0.0, 1.0, 0.0, inf, 0.0},
        {inf, 0.5, inf, 0.0, inf, 0.0},
        {inf, 1.0, inf, 1.0, inf, 1.0},
        {inf, 2.0, inf, inf, inf, inf},
        {inf, -0.5, 0.0, -0.0, nan, -0.0},
        {inf, -1.0, 0.0, -0.0, nan, -0.0},
        {inf, 3.0, inf, inf, inf, inf},
        {inf, -0.0, 1.0, 0.0, inf, 0.0},
        {inf, inf, inf, inf, inf, inf},
        {inf, nan, nan, nan, nan, nan},
        {-inf, 0.0, 1.0, 0.0, nan, 0.0},
        {-inf, 0.5, inf, 0.0, nan, nan},
        {-inf, 1.0, -inf, 1.0, nan, 1.0},
        {-inf, 2.0, inf, -inf, nan, -inf},
        {-inf, -0.5, 0.0, -0.0, nan, -0.0},
        {-inf, -1.0, -0.0, -0.0, nan, -0.0},
        {-inf, 3.0, -inf, inf, nan, inf},
        {-inf, -0.0, 1.0, 0.0, nan, 0.0},
        {-inf, inf, inf, inf, nan, inf},
        {-inf, nan, nan, nan, nan, nan},
        {0.5, 0.0, 1.0, 0.0, -0.6931471805599453, 0.0},
        {0.5, 0.5, 0.7071067811865476, 0.7071067811865476, -0.4901290717342736, 0.7071067811865475},
        {0.5, 1.0, 0.5, 1.0, -0.34657359027997264, 1.0},
        {0.5, 2.0, 0.25, 1.0, -0.17328679513998632, 1.0},
        {0.5, -0.5, 1.4142135623730951, -1.4142135623730951, -0.9802581434685472, -1.4142135623730951},
        {0.5, -1.0, 2.0, -4.0, -1.3862943611198906, -4.0},
        {0.5, 3.0, 0.125, 0.75, -0.08664339756999316, 0.75},
        {0.5, -0.0, 1.0, 0.0, -0.6931471805599453, 0.0},
        {0.5, inf, 0.0, nan, -0.0, nan},
        {0.5, nan, nan, nan, nan, nan},
        {nan, 0.0, 1.0, 0.0, nan, 0.0},
        {nan, 0.5, nan, nan, nan, nan},
        {nan, 1.0, nan, 1.0, nan, 1.0},
        {nan, 2.0, nan, nan, nan, nan},
        {nan, -0.5, nan, nan, nan, nan},
        {nan, -1.0, nan, nan, nan, nan},
        {nan, 3.0, nan, nan, nan, nan},
        {nan, -0.0, 1.0, 0.0, nan, 0.0},
        {nan, inf, nan, nan, nan, nan},
        {nan, nan, nan, nan, nan, nan},
    };
    for (const Row& r : rows) {
        CAPTURE(r.a);
        CAPTURE(r.b);
        for (std::size_t n : {std::size_t(1), std::size_t(5), std::size_t(9)}) {  // alone, in lanes and in the tail
            const Var<double> a = filled(n, r.a, true), b = filled(n, r.b, true);
            const Var<double> y = tg::pow(a, b);
            tg::sum(y).backward();
            const Var<double> a2 = filled(n, r.a, true);
            const Var<double> y2 = tg::pow(a2, r.b);
            tg::sum(y2).backward();
            for (std::size_t i = 0; i < n; ++i) {
                CHECK(same(y.value()(i), r.y, true, 4));
                CHECK(same(a.grad()(i), r.da, true, 4));
                CHECK(same(b.grad()(i), r.db, true, 4));
                CHECK(same(y2.value()(i), r.y, true, 4));
                // PyTorch's scalar pow takes sqrt / rsqrt for b = +-0.5, whose values at -0 and -inf
                // differ from pow's; tapegrad keeps std::pow's there, so the tensor-exponent gradient.
                CHECK(same(a2.grad()(i), r.da, true, 4));
                if (!((r.a == 0 || std::isinf(r.a)) && std::abs(r.b) == 0.5))
                    CHECK(same(a2.grad()(i), r.da_scalar, true, 4));
            }
        }
    }
}

TEST_CASE("pow: second derivatives where they are smooth, also next to masked entries") {
    const tgtest::V a = tg::parameter(xt::xarray<double>{0.5, 1.5, 2.0, 0.7});
    const tgtest::V b = tg::parameter(xt::xarray<double>{1.5, 2.0, -0.5, 3.0});
    tgtest::check_gradients([&] { return tg::pow(a, b); }, {a, b});
    tgtest::check_gradients([&] { return tg::pow(a, 2.5); }, {a});
    // broadcast base and exponent (xtensor's && of differently shaped masks once zeroed part of db)
    const tgtest::V base = tgtest::input({1, 2, 3}, 5, 0.5, 2.0), ex = tgtest::input({3, 1, 2, 3}, 6);
    tgtest::check_gradients([&] { return tg::pow(base, ex); }, {base, ex});
    // a == 0 with b >= 0: db is masked to 0; the masked entry's second derivatives stay finite
    const tgtest::V z = tg::parameter(xt::xarray<double>{0.0, 1.5});
    const tgtest::V e = tg::parameter(xt::xarray<double>{2.0, 3.0});
    const auto g = tg::grad(tg::sum(tg::pow(z, e)), {e}, tg::GradOptions().create_graph(true))[0];
    CHECK(g.value()(0) == 0.0);
    const auto gg = tg::grad(tg::sum(g), {z, e});
    CHECK(xt::all(xt::isfinite(gg[0].value())));
    CHECK(xt::all(xt::isfinite(gg[1].value())));
}
