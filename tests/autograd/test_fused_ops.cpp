// The ops with a fused plain VJP and a composed create_graph one: gelu (both approximations),
// scaled_masked_softmax (causal without a mask) and layer_norm, against their formulas in plain ops.
#include <cmath>
#include <limits>

#include "helpers.hpp"

using namespace tgtest;

namespace {
const double inf = std::numeric_limits<double>::infinity();
const double qnan = std::numeric_limits<double>::quiet_NaN();
V c(xt::xarray<double> x) { return tg::constant(x); }
const tg::Mask no_mask = tg::Mask::from_shape({0});

/// GELU written in plain ops: the reference the fused op must equal.
V gelu_formula(const V& x, bool tanh_approx) {
    if (tanh_approx) {
        const double k = std::sqrt(2.0 / M_PI);
        return x * 0.5 * (tg::tanh((x + x * x * x * 0.044715) * k) + 1.0);
    }
    return x * 0.5 * (tg::erf(x * (1.0 / std::sqrt(2.0))) + 1.0);
}

/// layer_norm written in plain ops over the last `dims` axes.
V layer_norm_formula(const V& x, std::size_t dims, const V& w, const V& b, double eps) {
    tg::Axes axes;
    for (std::size_t i = x.dim() - dims; i < x.dim(); ++i) axes.push_back(int(i));
    const V xc = x - tg::mean(x, axes, true);
    V y = xc / tg::sqrt(tg::mean(xc * xc, axes, true) + eps);
    if (w.defined()) y = y * w;
    if (b.defined()) y = y + b;
    return y;
}
}  // namespace

TEST_CASE("gelu: the tanh approximation's known values, both forms against their formulas") {
    const auto t = tg::GeluApproximation::tanh;
    CHECK(close(tg::gelu(c({-3.0, -1.0, 0.0, 0.5, 2.0}), t).value(),
                {-0.0036373920817729943, -0.15880800939172324, 0.0, 0.34571400982514394, 1.954597694087775}));
    // a long tensor (the vectorised chunks and their tails) equals the formula, values and gradients
    for (const bool approx : {false, true}) {
        const auto mode = approx ? t : tg::GeluApproximation::none;
        const V x = tg::parameter(tg::arange<double>(-6.0, 6.0, 0.0107).value());
        const V g = c(tg::arange<double>(0.5, 1.5, 1.0 / double(x.size())).value());
        CHECK(close(tg::gelu(x, mode).value(), gelu_formula(x, approx).value(), 1e-13));
        tg::sum(tg::gelu(x, mode) * g).backward();
        const xt::xarray<double> fused = x.grad();
        x.zero_grad();
        tg::sum(gelu_formula(x, approx) * g).backward();
        CHECK(close(fused, x.grad(), 1e-13));
    }
    // edge values: as the formula (gelu(-inf) is NaN, as x Phi(x) evaluates there)
    const V e = c({0.0, -0.0, inf, 1e-310, qnan});
    for (const auto mode : {tg::GeluApproximation::none, t}) {
        const auto y = tg::gelu(e, mode).value();
        CHECK(y(0) == 0.0);
        CHECK(y(1) == 0.0);
        CHECK(y(2) == inf);
        CHECK(std::abs(y(3) - 0.5e-310) < 1e-320);
        CHECK(std::isnan(y(4)));
    }
    const V x = input({2, 3}, 11, -3.0, 3.0);
    check_gradients([&] { return tg::gelu(x, t); }, {x});
    check_gradients([&] { return tg::gelu(x); }, {x});
    CHECK(tg::gelu(x, t).node()->describe() == "approximate=tanh");
}

TEST_CASE("scaled_masked_softmax: causal rows, a broadcast mask and the scale, as masked_softmax of a full mask") {
    const V x = input({2, 2, 4, 5}, 21);
    tg::Mask pad = tg::Mask::from_shape({2, 1, 1, 5});  // key padding, read broadcast
    pad.fill(false);
    pad(0, 0, 0, 4) = true;
    pad(1, 0, 0, 0) = true;  // with causal, row 0 of batch 1 is left with nothing
    tg::Mask full = tg::Mask::from_shape({2, 2, 4, 5});
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t h = 0; h < 2; ++h)
            for (std::size_t i = 0; i < 4; ++i)
                for (std::size_t j = 0; j < 5; ++j) full(n, h, i, j) = j > i || pad(n, 0, 0, j);
    const V y = tg::scaled_masked_softmax(x, pad, true, 0.7);
    CHECK(close(y.value(), tg::masked_softmax(x * 0.7, full).value(), 1e-14));
    CHECK(close(xt::xarray<double>(xt::view(y.value(), 1, 0, 0, xt::all())), {0, 0, 0, 0, 0}));
    // no mask at all: a plain softmax
    CHECK(close(tg::scaled_masked_softmax(x, no_mask, false, 1.0).value(), tg::softmax(x, -1).value(), 1e-14));
    // edge values without a mask (the contiguous fast path): -inf gets 0, a NaN spreads, +inf gives NaN as softmax
    const V edge = c({{-inf, 0.0, 1.0}, {qnan, 0.0, 1.0}, {inf, 0.0, 1.0}});
    const auto ye = tg::scaled_masked_softmax(edge, no_mask, false, 1.0).value();
    CHECK(ye(0, 0) == 0.0);
    CHECK(ye(0, 2) == doctest::Approx(std::exp(1.0) / (1.0 + std::exp(1.0))));
    CHECK(std::isnan(ye(1, 1)));
    CHECK(std::isnan(ye(2, 0)) == std::isnan(tg::softmax(edge, -1).value()(2, 0)));
    const auto yc = tg::scaled_masked_softmax(edge, no_mask, true, 1.0).value();  // row 0 keeps key 0 only: -inf
    CHECK(std::isnan(yc(0, 0)) == std::isnan(tg::masked_softmax(c({-inf}), tg::Mask{false}).value()(0)));
    CHECK(yc(0, 1) == 0.0);
    CHECK(yc(0, 2) == 0.0);
    // the gradient reaching a future position is exactly 0
    const V p = input({1, 1, 4, 4}, 22);
    tg::sum(tg::scaled_masked_softmax(p, no_mask, true, 2.0) * input({1, 1, 4, 4}, 23)).backward();
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = i + 1; j < 4; ++j) CHECK(p.grad()(0, 0, i, j) == 0.0);
    const V w = c(input({2, 2, 4, 5}, 24).value());
    check_gradients([&] { return tg::sum(tg::scaled_masked_softmax(x, pad, true, 0.7) * w); }, {x});
    check_gradients([&] { return tg::sum(tg::scaled_masked_softmax(x, no_mask, false, 1.3) * w); }, {x});
    // a broadcast mask given to masked_softmax is read as broadcast, with the same result as the full one
    tg::Mask row = tg::Mask::from_shape({5});
    row.fill(false);
    row(2) = true;
    CHECK(close(tg::masked_softmax(x, row).value(),
                tg::masked_softmax(x, xt::xarray<bool>(xt::broadcast(row, x.shape()))).value()));
    check_error(
        [&] {
            tg::scaled_masked_softmax(c({1.0, 2.0}), no_mask, true, 1.0);
        },
        "scaled_masked_softmax: expected at least 2 dimensions, got shape (2,)");
    check_error([&] { tg::scaled_masked_softmax(x, tg::Mask::from_shape({3}), false, 1.0); },
                "scaled_masked_softmax: mask of shape (3,) does not broadcast to the input's shape (2,2,4,5)");
}

TEST_CASE("layer_norm: one op equal to its formula, gradients of the first and second order") {
    const V x = input({3, 2, 4}, 31);
    const V w2 = input({2, 4}, 32), b2 = input({2, 4}, 33), w1 = input({4}, 34), b1 = input({4}, 35);
    const V none;
    struct Case {
        std::size_t dims;
        V w, b;
    };
    for (const Case& k :
         {Case{1, w1, b1}, Case{2, w2, b2}, Case{1, w1, none}, Case{1, none, b1}, Case{2, none, none}}) {
        const tg::Shape ns(x.shape().end() - std::ptrdiff_t(k.dims), x.shape().end());
        const V y = tg::layer_norm(x, ns, k.w, k.b, 1e-5);
        CHECK(close(y.value(), layer_norm_formula(x, k.dims, k.w, k.b, 1e-5).value(), 1e-12));
        std::vector<V> inputs{x};
        if (k.w.defined()) inputs.push_back(k.w);
        if (k.b.defined()) inputs.push_back(k.b);
        const V g = c(input(x.shape(), 36).value());
        check_gradients([&] { return tg::sum(tg::layer_norm(x, ns, k.w, k.b, 1e-5) * g); }, inputs);
    }
    // a constant row with eps = 0 is 0 / 0, as the formula
    CHECK(std::isnan(tg::layer_norm(c({{1.0, 1.0}}), tg::Shape{2}, none, none, 0.0).value()(0, 0)));
    check_error(
        [&] { tg::layer_norm(x, tg::Shape{3}); },
        "layer_norm: normalized_shape (3,) must be non-empty and match the last dimensions of the input (3,2,4)");
    check_error([&] { tg::layer_norm(x, tg::Shape{4}, w2); },
                "layer_norm: weight has shape (2,4), expected normalized_shape (4,)");
}

TEST_CASE("self_attention_heads: the packed op equals per-head slices, permutes and matmuls; gradients of two orders") {
    const std::size_t N = 2, L = 4, heads = 2, d = 3, E = heads * d;
    const V x = input({N, L, 3 * E}, 41);
    tg::Mask pad = tg::Mask::from_shape({N, 1, 1, L});
    pad.fill(false);
    pad(1, 0, 0, 0) = true;  // with causal, query 0 of sequence 1 has no key left
    pad(0, 0, 0, 2) = true;
    auto reference = [&](const V& t, bool causal, const tg::Mask& m) {
        auto split = [&](const V& u) { return tg::permute(tg::reshape(u, tg::Shape{N, L, heads, d}), {0, 2, 1, 3}); };
        const std::ptrdiff_t e = std::ptrdiff_t(E);
        const V q = split(tg::slice(t, 2, 0, e)), k = split(tg::slice(t, 2, e, 2 * e)),
                v = split(tg::slice(t, 2, 2 * e, 3 * e));
        tg::Mask full = tg::Mask::from_shape({N, heads, L, L});
        for (std::size_t n = 0; n < N; ++n)
            for (std::size_t h = 0; h < heads; ++h)
                for (std::size_t i = 0; i < L; ++i)
                    for (std::size_t j = 0; j < L; ++j)
                        full(n, h, i, j) = (causal && j > i) || (m.size() > 0 && m(n, 0, 0, j));
        const V p = tg::masked_softmax(tg::matmul(q, k, tg::MatmulOptions().transpose_b(true)) * 0.6, full);
        return tg::reshape(tg::permute(tg::matmul(p, v), {0, 2, 1, 3}), tg::Shape{N, L, E});
    };
    const V w = c(input({N, L, E}, 42).value());
    for (const bool causal : {false, true})
        for (const tg::Mask& m : {no_mask, pad}) {
            const V y = tg::self_attention_heads(x, heads, 0.6, causal, m);
            CHECK(close(y.value(), reference(x, causal, m).value(), 1e-13));
            check_gradients([&] { return tg::sum(tg::self_attention_heads(x, heads, 0.6, causal, m) * w); }, {x});
        }
    // the gradient reaching a future key is exactly 0: q and k of position 3 get nothing from queries 0..2
    const V p = input({1, L, 3 * E}, 43);
    tg::sum(tg::slice(tg::self_attention_heads(p, heads, 1.0, true, no_mask), 1, 0, 3)).backward();
    for (std::size_t col = 0; col < 3 * E; ++col) CHECK(p.grad()(0, 3, col) == 0.0);
    check_error([&] { tg::self_attention_heads(x, 4, 1.0, false, no_mask); },
                "self_attention_heads: expected x (N, L, 3E) with E a multiple of heads = 4, got shape (2,4,18)");
}
