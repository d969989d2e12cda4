// The one-pass VJPs: mul's and div's two gradients from one loop, and VJPs written over g, against the formulas.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "helpers.hpp"

using namespace tgtest;

namespace {

/// Same bits at every position: a NaN where the formula has one, -0 where it has -0.
template <class T>
bool same_bits(const tg::Tensor<T>& got, const tg::Tensor<T>& want) {
    if (!tg::shape_equal(got.shape(), want.shape())) return false;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const T a = got.data()[i], b = want.data()[i];
        if (std::isnan(a) && std::isnan(b)) continue;
        if (std::memcmp(&a, &b, sizeof(T)) != 0) return false;
    }
    return true;
}

/// The edge values every position of a fused loop meets, in a tensor of `n` elements (n past the
/// length from which the loops run in their per-CPU copies, and not a multiple of the vector width).
template <class T>
tg::Tensor<T> edge_tensor(std::size_t n, std::size_t shift) {
    const T inf = std::numeric_limits<T>::infinity();
    const std::vector<T> edges{T(0),
                               -T(0),
                               T(1),
                               -T(1.5),
                               inf,
                               -inf,
                               std::numeric_limits<T>::quiet_NaN(),
                               T(3),
                               T(-0.25),
                               T(2),
                               std::numeric_limits<T>::denorm_min(),
                               T(1e30)};
    tg::Tensor<T> t = tg::Tensor<T>::from_shape({n});
    for (std::size_t i = 0; i < n; ++i) t.data()[i] = edges[(i * 7 + shift) % edges.size()];
    return t;
}

/// The gradient of each of a, b under y = op(a, b) for the seed g, by a plain backward.
template <class T, class Op>
std::pair<tg::Tensor<T>, tg::Tensor<T>> grads_of(Op op, const tg::Tensor<T>& a, const tg::Tensor<T>& b,
                                                 const tg::Tensor<T>& g) {
    tg::Variable<T> va(a, true), vb(b, true);
    op(va, vb).backward(g);
    return {va.grad(), vb.grad()};
}

template <class T>
void check_mul_div_edges(std::size_t n) {
    const tg::Tensor<T> a = edge_tensor<T>(n, 0), b = edge_tensor<T>(n, 5), g = edge_tensor<T>(n, 9);
    const tg::Tensor<T> g_before = g;
    {
        auto [da, db] = grads_of<T>([](const auto& u, const auto& v) { return u * v; }, a, b, g);
        CHECK(same_bits<T>(da, g * b));
        CHECK(same_bits<T>(db, g * a));
    }
    {
        auto [da, db] = grads_of<T>([](const auto& u, const auto& v) { return u / v; }, a, b, g);
        const tg::Tensor<T> y = a / b;
        CHECK(same_bits<T>(da, g / b));
        CHECK(same_bits<T>(db, -g * y / b));
    }
    CHECK(same_bits<T>(g, g_before));  // the seed given to backward is the caller's, never written over
}

/// Every element of a tensor of `shape` from a seeded generator.
template <class T>
tg::Tensor<T> signed_tensor(const tg::Shape& shape, std::uint64_t seed) {
    tg::Generator gen(seed);
    tg::Tensor<T> t = tg::Tensor<T>::from_shape(shape);
    for (auto& v : t) v = T(gen.uniform(0.5, 2.0)) * (gen.uniform() < 0.5 ? T(-1) : T(1));
    return t;
}

/// mul and div where one operand broadcasts: the fused loop must not be taken (its gradient is summed).
template <class T>
void check_broadcast(const tg::Shape& sa, const tg::Shape& sb) {
    INFO("shapes " << tg::shape_string(sa) << " and " << tg::shape_string(sb));
    const tg::Tensor<T> a = signed_tensor<T>(sa, 1), b = signed_tensor<T>(sb, 2);
    const tg::Tensor<T> y_shape_probe = a * b;
    const tg::Tensor<T> g = signed_tensor<T>(y_shape_probe.shape(), 3);
    auto sum_to = [](const tg::Tensor<T>& t, const tg::Shape& s) { return tg::kernels::sum_to(t, s); };
    {
        auto [da, db] = grads_of<T>([](const auto& u, const auto& v) { return u * v; }, a, b, g);
        CHECK(same_bits<T>(da, sum_to(g * b, sa)));
        CHECK(same_bits<T>(db, sum_to(g * a, sb)));
    }
    {
        auto [da, db] = grads_of<T>([](const auto& u, const auto& v) { return u / v; }, a, b, g);
        const tg::Tensor<T> y = a / b;
        CHECK(same_bits<T>(da, sum_to(g / b, sa)));
        CHECK(same_bits<T>(db, sum_to(-g * y / b, sb)));
    }
    {  // add sums g straight into the smaller shape (no copy of g first), sub negates before summing
        auto [da, db] = grads_of<T>([](const auto& u, const auto& v) { return u + v; }, a, b, g);
        CHECK(same_bits<T>(da, sum_to(g, sa)));
        CHECK(same_bits<T>(db, sum_to(g, sb)));
        auto [sa_grad, sb_grad] = grads_of<T>([](const auto& u, const auto& v) { return u - v; }, a, b, g);
        CHECK(same_bits<T>(sa_grad, sum_to(g, sa)));
        CHECK(same_bits<T>(sb_grad, sum_to(-g, sb)));
    }
}

}  // namespace

TEST_CASE("mul and div: both gradients from one pass equal the formulas at 0, -0, +-inf, NaN (double, float)") {
    for (std::size_t n : {std::size_t(12), std::size_t(1000), std::size_t(1021)}) {  // short loop and per-CPU copies
        INFO("n = " << n);
        check_mul_div_edges<double>(n);
        check_mul_div_edges<float>(n);
    }
}

TEST_CASE("add, sub, mul and div: broadcast operands get gradients summed to their shapes (double, float)") {
    const std::vector<std::pair<tg::Shape, tg::Shape>> cases{{{20, 30}, {30}}, {{30}, {20, 30}}, {{20, 1}, {1, 30}},
                                                             {{20, 30}, {1}},  {{1}, {20, 30}},  {{20, 30}, {}}};
    for (const auto& [sa, sb] : cases) {
        check_broadcast<double>(sa, sb);
        check_broadcast<float>(sa, sb);
    }
}

TEST_CASE("mul and div: one input wanting a gradient, and one tensor as both inputs") {
    const tg::Tensor<double> a = signed_tensor<double>({40, 10}, 4), b = signed_tensor<double>({40, 10}, 5);
    const tg::Tensor<double> g = signed_tensor<double>({40, 10}, 6);
    tg::Variable<double> va(a, true), vb = tg::constant(b);
    (va * vb).backward(g);
    CHECK(same_bits<double>(va.grad(), g * b));
    va.zero_grad();
    (vb / va).backward(g);
    CHECK(same_bits<double>(va.grad(), -g * (b / a) / a));
    va.zero_grad();
    (va * va).backward(g);  // the same node twice: g a + g a
    CHECK(same_bits<double>(va.grad(), g * a + g * a));
    va.zero_grad();
    (va / va).backward(g);
    CHECK(same_bits<double>(va.grad(), g / a + (-g * (a / a) / a)));
}

TEST_CASE("mul and div: gradcheck and gradgradcheck on equal and broadcast shapes") {
    const V a = input({3, 4}, 11), b = input_away_from_zero({3, 4}, 12, 0.5);
    const V row = input_away_from_zero({4}, 13, 0.5);
    check_gradients([&] { return tg::sum(tg::tanh(a * b)); }, {a, b});
    check_gradients([&] { return tg::sum(tg::tanh(a / b)); }, {a, b});
    check_gradients([&] { return tg::sum(tg::tanh(a * row)); }, {a, row});
    check_gradients([&] { return tg::sum(tg::tanh(a / row)); }, {a, row});
    check_gradients([&] { return tg::sum(a * b * a); }, {a, b});  // a wanted twice
}

namespace {

/// A unary op's gradient for the seed g by a plain backward.
template <class T, class Op>
tg::Tensor<T> grad_of(Op op, const tg::Tensor<T>& x, const tg::Tensor<T>& g) {
    tg::Variable<T> v(x, true);
    op(v).backward(g);
    return v.grad();
}

template <class T>
void check_unary_in_place(std::size_t n) {
    const tg::Tensor<T> x = edge_tensor<T>(n, 2), g = edge_tensor<T>(n, 7);
    const tg::Tensor<T> g_before = g;
    const T s = T(1.5);
    auto formula = [&](auto f, const tg::Tensor<T>& y) {
        tg::Tensor<T> r = tg::Tensor<T>::from_shape(x.shape());
        for (std::size_t i = 0; i < n; ++i) r.data()[i] = f(g.data()[i], y.data()[i], x.data()[i]);
        return r;
    };
    auto check = [&](const std::string& name, auto op, auto f) {
        INFO(name);
        tg::Variable<T> probe(x, false);
        const tg::Tensor<T> y = op(probe).value();
        CHECK(same_bits<T>(grad_of<T>(op, x, g), formula(f, y)));
    };
    using std::cos, std::exp, std::sin;
    check(
        "tanh", [](const auto& v) { return tg::tanh(v); }, [](T gi, T y, T) { return gi * (T(1) - y * y); });
    check(
        "sigmoid", [](const auto& v) { return tg::sigmoid(v); }, [](T gi, T y, T) { return gi * y * (T(1) - y); });
    check(
        "exp", [](const auto& v) { return tg::exp(v); }, [](T gi, T y, T) { return gi * y; });
    check(
        "log", [](const auto& v) { return tg::log(v); }, [](T gi, T, T xi) { return gi / xi; });
    check(
        "sqrt", [](const auto& v) { return tg::sqrt(v); }, [](T gi, T y, T) { return gi / (y * T(2)); });
    check(
        "sin", [](const auto& v) { return tg::sin(v); }, [](T gi, T, T xi) { return gi * cos(xi); });
    check(
        "cos", [](const auto& v) { return tg::cos(v); }, [](T gi, T, T xi) { return -gi * sin(xi); });
    check(
        "erf", [](const auto& v) { return tg::erf(v); },
        [](T gi, T, T xi) { return gi * exp(-(xi * xi)) * T(1.12837916709551257389615890312); });
    check(
        "mul_scalar", [s](const auto& v) { return v * s; }, [s](T gi, T, T) { return gi * s; });
    check(
        "div_scalar", [s](const auto& v) { return v / s; }, [s](T gi, T, T) { return gi / s; });
    check(
        "neg", [](const auto& v) { return -v; }, [](T gi, T, T) { return -gi; });
    check(
        "rsub_scalar", [s](const auto& v) { return s - v; }, [](T gi, T, T) { return -gi; });
    check(
        "rdiv_scalar", [s](const auto& v) { return s / v; }, [](T gi, T y, T xi) { return -gi * y / xi; });
    check(
        "pow 2", [](const auto& v) { return tg::pow(v, T(2)); }, [](T gi, T, T xi) { return gi * xi * T(2); });
    check(
        "pow 3", [](const auto& v) { return tg::pow(v, T(3)); },
        [](T gi, T, T xi) { return gi * std::pow(xi, T(2)) * T(3); });
    CHECK(same_bits<T>(g, g_before));
}

}  // namespace

TEST_CASE("VJPs written over g equal their formulas at 0, -0, +-inf, NaN (double, float)") {
    for (std::size_t n : {std::size_t(12), std::size_t(1000), std::size_t(1021)}) {
        INFO("n = " << n);
        check_unary_in_place<double>(n);
        check_unary_in_place<float>(n);
    }
}

TEST_CASE("VJPs written over g: a gradient reaching a node from two consumers is not written over") {
    // x feeds tanh twice: the first VJP's g must not be the tensor the second one reads
    const V x = input({8, 40}, 21);
    const V t = tg::tanh(x);
    const V z = tg::sum(tg::exp(t) + tg::sin(t) * 3.0);
    z.backward();
    const xt::xarray<double> tv = t.value();
    const xt::xarray<double> want = (xt::exp(tv) + xt::cos(tv) * 3.0) * (1.0 - tv * tv);
    CHECK(close(x.grad(), want));
}

TEST_CASE("VJPs written over g: second derivatives through the recorded path") {
    const V x = input({5, 60}, 31), w = input_away_from_zero({5, 60}, 32, 0.5);
    check_gradients([&] { return tg::sum(tg::tanh(x * w + w)); }, {x, w});
    check_gradients([&] { return tg::sum(tg::sigmoid(x / w) * 2.0); }, {x, w});
    check_gradients([&] { return tg::sum(tg::exp(-x) * tg::erf(x)); }, {x});
    // grad with create_graph, then differentiate the gradient again
    auto gx = tg::grad(tg::sum(tg::tanh(x * w)), {x}, tg::GradOptions().create_graph(true));
    REQUIRE(gx.size() == 1);
    const V h = tg::sum(gx[0] * gx[0]);
    h.backward();
    const xt::xarray<double> xv = x.value(), wv = w.value();
    const xt::xarray<double> th = xt::tanh(xv * wv), d = 1.0 - th * th;  // gx = w d
    // h = sum(w^2 d^2), dh/dx = 2 w^2 d (dd/dx) with dd/dx = -2 th d w
    const xt::xarray<double> want = 2.0 * wv * wv * d * (-2.0 * th * d * wv);
    CHECK(close(x.grad(), want, 1e-10));
}

TEST_CASE("the bench's chain (y * w, y + w, tanh): w's gradients from every op summed to the bit (float)") {
    // w gets a gradient from each mul and add: one pass for mul's two gradients, sums in the sweep's order
    const std::size_t n = 300;
    const tg::Tensor<float> x0 = signed_tensor<float>({n}, 41), w0 = signed_tensor<float>({n}, 42);
    const tg::Tensor<float> seed = signed_tensor<float>({n}, 43);
    tg::Variable<float> x(x0, true), w(w0, true);
    const tg::Variable<float> y3 = tg::tanh(x * w + w);
    const tg::Variable<float> y6 = tg::tanh(y3 * w + w);
    y6.backward(seed);
    const float *pw = w0.data(), *px = x0.data(), *p3 = y3.value().data(), *p6 = y6.value().data();
    for (std::size_t i = 0; i < n; ++i) {
        const float g5 = seed.data()[i] * (1.0f - p6[i] * p6[i]);  // the sweep's order, op by op
        float acc = g5;
        acc += g5 * p3[i];
        const float g2 = (g5 * pw[i]) * (1.0f - p3[i] * p3[i]);
        acc += g2;
        acc += g2 * px[i];
        const float gx = g2 * pw[i];
        INFO("element " << i);
        REQUIRE(std::memcmp(&gx, x.grad().data() + i, sizeof(float)) == 0);
        REQUIRE(std::memcmp(&acc, w.grad().data() + i, sizeof(float)) == 0);
    }
}
