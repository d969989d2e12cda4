// Sequence ops: embedding, one_hot, argmax/argmin/topk, chunk/split, tril/triu, masked_fill, masked
// softmax / log_softmax, cumsum; forward values, edge values, gradcheck + gradgradcheck, errors.
#include <cmath>
#include <limits>

#include <xtensor/xview.hpp>

#include "helpers.hpp"

using namespace tgtest;

namespace {
V c(xt::xarray<double> x) { return tg::constant(x); }
const double inf = std::numeric_limits<double>::infinity();
const double qnan = std::numeric_limits<double>::quiet_NaN();
tg::Tensor<std::size_t> idx(xt::xarray<std::size_t> i) { return tg::Tensor<std::size_t>(i); }
bool same_indices(const tg::Tensor<std::size_t>& a, const xt::xarray<std::size_t>& b) {
    return a.shape().size() == b.shape().size() && std::equal(a.shape().begin(), a.shape().end(), b.shape().begin()) &&
           std::equal(a.begin(), a.end(), b.begin());
}
}  // namespace

TEST_CASE("embedding: rows picked by indices of any shape, gradient added back by index_add") {
    const V w = c({{0.0, 1.0}, {10.0, 11.0}, {20.0, 21.0}});
    const V y = tg::embedding(w, idx({{2, 0, 2}, {1, 1, 0}}));
    CHECK(y.shape() == tg::Shape{2, 3, 2});
    CHECK(close(y.value(), {{{20, 21}, {0, 1}, {20, 21}}, {{10, 11}, {10, 11}, {0, 1}}}));
    CHECK(close(tg::embedding(w, tg::Indices{1}).value(), {{10, 11}}));
    // a repeated index collects every row's gradient
    const V p = tg::parameter(xt::xarray<double>{{0.0, 1.0}, {10.0, 11.0}, {20.0, 21.0}});
    tg::sum(tg::embedding(p, idx({{2, 0, 2}, {1, 1, 0}}))).backward();
    CHECK(close(p.grad(), {{2, 2}, {2, 2}, {2, 2}}));
    const V q = input({4, 3}, 1);
    check_gradients([&] { return tg::sum(tg::tanh(tg::embedding(q, idx({{3, 0}, {3, 3}, {1, 0}}))) * 0.7); }, {q});
    const V m = input({2, 3, 3}, 2);
    check_gradients(
        [&] {
            const V a = tg::embedding(q, idx({{3, 0, 1}, {3, 3, 2}}));
            const V b = tg::embedding(q, idx({{0, 1, 2}, {3, 3, 3}}));
            return tg::sum(a * b * c(m.value()));
        },
        {q});
    check_error(
        [&] {
            tg::embedding(w, idx({0, 3}));
        },
        "embedding: index 3 out of range for 3 embeddings (expected < 3)");
    check_error(
        [&] {
            tg::embedding(c({1.0, 2.0}), idx({0}));
        },
        "embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape (2,)");
}

TEST_CASE("one_hot: a constant with the indices' shape and one more axis") {
    const auto y = tg::one_hot<double>(idx({{0, 2}, {1, 1}}), 3);
    CHECK(!y.requires_grad());
    CHECK(close(y.value(), {{{1, 0, 0}, {0, 0, 1}}, {{0, 1, 0}, {0, 1, 0}}}));
    const tg::Variable<float> f = tg::one_hot(tg::Indices{1, 0}, 2);
    CHECK(f.value()(0, 1) == 1.0f);
    CHECK(f.value()(0, 0) == 0.0f);
    check_error(
        [&] {
            tg::one_hot<double>(idx({0, 3}), 3);
        },
        "one_hot: index 3 out of range for 3 classes (expected < 3)");
    check_error([&] { tg::one_hot<double>(idx({0}), 0); }, "one_hot: num_classes must be at least 1, got 0");
}

TEST_CASE("argmax and argmin: first among ties, NaN counts as the extreme, keepdims, flat") {
    const V x = c({{1.0, 5.0, 5.0}, {4.0, -inf, 6.0}});
    CHECK(same_indices(tg::argmax(x, 1), {1, 2}));
    CHECK(same_indices(tg::argmin(x, 1), {0, 1}));
    CHECK(same_indices(tg::argmax(x, 0), {1, 0, 1}));
    const auto kept = tg::argmax(x, -1, true);
    CHECK(kept.shape() == tg::Shape{2, 1});
    CHECK((kept(0, 0) == 1 && kept(1, 0) == 2));
    CHECK(same_indices(tg::argmax(x), xt::xarray<std::size_t>(5)));
    CHECK(same_indices(tg::argmin(x), xt::xarray<std::size_t>(4)));
    const V n = c({1.0, qnan, 7.0, qnan});
    CHECK(tg::argmax(n)() == 1);
    CHECK(tg::argmin(n)() == 1);
    CHECK(tg::argmax(c({-0.0, 0.0}))() == 0);  // -0 == +0: a tie
    check_error(
        [&] {
            tg::argmax(c(xt::xarray<double>::from_shape({2, 0})), 1);
        },
        "argmax: axis 1 of shape (2,0) is empty (expected >= 1 element)");
    check_error([&] { tg::argmin(x, 2); }, "argmin");
}

TEST_CASE("topk: values most extreme first with their positions; the values carry the gradient") {
    const V x = c({{3.0, 1.0, 4.0, 1.0, 5.0}, {9.0, 2.0, 6.0, 5.0, 3.0}});
    const auto t = tg::topk(x, 2);
    CHECK(close(t.values.value(), {{5, 4}, {9, 6}}));
    CHECK(same_indices(t.indices, {{4, 2}, {0, 2}}));
    const auto s = tg::topk(x, 2, 1, false);
    CHECK(close(s.values.value(), {{1, 1}, {2, 3}}));
    CHECK(same_indices(s.indices, {{1, 3}, {1, 4}}));  // ties keep their order
    CHECK(same_indices(tg::topk(x, 1, 0).indices, {{1, 1, 1, 1, 0}}));
    CHECK(same_indices(tg::topk(c({1.0, qnan, 2.0}), 2).indices, {1, 2}));
    const V p = input({3, 4}, 3);
    check_gradients([&] { return tg::sum(tg::topk(p, 2, 1).values) * tg::sum(tg::topk(p, 3, 0, false).values); }, {p});
    check_error([&] { tg::topk(x, 6); }, "topk: k = 6 but axis -1 of shape (2,5) has 5 elements (expected k <= 5)");
}

TEST_CASE("split and chunk: pieces along an axis, as PyTorch cuts them, with gradients") {
    const V x = tg::reshape(tg::arange<double>(0.0, 10.0), {2, 5});
    auto parts = tg::split(x, 2, 1);
    REQUIRE(parts.size() == 3);
    CHECK(close(parts[0].value(), {{0, 1}, {5, 6}}));
    CHECK(close(parts[2].value(), shaped({4, 9}, {2, 1})));
    auto sized = tg::split(x, std::vector<std::size_t>{1, 4}, -1);
    CHECK(close(sized[1].value(), {{1, 2, 3, 4}, {6, 7, 8, 9}}));
    auto ch = tg::chunk(x, 2, 1);
    REQUIRE(ch.size() == 2);
    CHECK(ch[0].shape() == tg::Shape{2, 3});
    CHECK(ch[1].shape() == tg::Shape{2, 2});
    CHECK(tg::chunk(tg::arange<double>(0.0, 6.0), 4).size() == 3);  // 6 in chunks of 2: PyTorch gives 3 too
    const V p = input({4, 8}, 4);
    check_gradients(
        [&] {
            auto q = tg::chunk(p, 4, 1);  // the four gates of an LSTM, say
            return tg::sum(tg::sigmoid(q[0]) * tg::tanh(q[1]) + q[2] * q[3] * 2.0);
        },
        {p});
    check_error(
        [&] {
            tg::split(x, std::vector<std::size_t>{2, 2}, 1);
        },
        "split: sizes add up to 4 but axis 1 of shape (2,5) has 5 elements");
    check_error([&] { tg::split(x, 0, 1); }, "split: split_size must be at least 1, got 0");
    check_error([&] { tg::chunk(x, 0); }, "chunk: chunks must be at least 1, got 0");
}

TEST_CASE("tril, triu and their masks; causal_mask marks the future") {
    const auto m = tg::tril_mask(2, 3);
    CHECK(m == xt::xarray<bool>{{true, false, false}, {true, true, false}});
    CHECK(tg::triu_mask(2, 3, 1) == xt::xarray<bool>{{false, true, true}, {false, false, true}});
    CHECK(tg::tril_mask(3, 2, -1) == xt::xarray<bool>{{false, false}, {true, false}, {true, true}});
    CHECK(tg::causal_mask(3) == xt::xarray<bool>{{false, true, true}, {false, false, true}, {false, false, false}});
    const V x = c({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
    CHECK(close(tg::tril(x).value(), {{1, 0, 0}, {4, 5, 0}}));
    CHECK(close(tg::triu(x, 1).value(), {{0, 2, 3}, {0, 0, 6}}));
    CHECK(close(tg::triu(x, -1).value(), {{1, 2, 3}, {4, 5, 6}}));
    const V p = input({2, 3, 3}, 5);
    check_gradients([&] { return tg::sum(tg::tril(p) * tg::triu(p, -1)); }, {p});
    check_error([&] { tg::tril(c({1.0})); }, "tril: expected at least 2 dimensions, got shape (1,)");
}

TEST_CASE("masked_fill: value where the mask is true, gradient only where it is false") {
    const V x = c({{1.0, 2.0}, {3.0, 4.0}});
    CHECK(close(tg::masked_fill(x, xt::xarray<bool>{true, false}, 9.0).value(), {{9, 2}, {9, 4}}));
    const auto f = tg::masked_fill(x, tg::causal_mask(2), -inf).value();
    CHECK(f(0, 1) == -inf);
    CHECK(f(1, 0) == 3.0);
    const V p = tg::parameter(xt::xarray<double>{{1.0, 2.0}, {3.0, qnan}});
    tg::sum(tg::masked_fill(p, xt::xarray<bool>{{false, false}, {false, true}}, 0.0)).backward();
    CHECK(close(p.grad(), {{1, 1}, {1, 0}}));  // the NaN filled over is gone from value and gradient
    const V q = input({3, 4}, 6);
    check_gradients([&] { return tg::sum(tg::masked_fill(q, tg::tril_mask(3, 4), 0.5) * q); }, {q});
    check_error(
        [&] {
            tg::masked_fill(x, xt::xarray<bool>{true, false, true}, 0.0);
        },
        "masked_fill: mask of shape (3,) does not broadcast to the input's shape (2,2)");
}

TEST_CASE("masked_softmax and masked_log_softmax: softmax over the unmasked positions") {
    const xt::xarray<double> v = {{1.0, 2.0, 3.0}, {0.5, -1.0, 4.0}};
    const xt::xarray<bool> m = {{false, true, false}, {true, true, true}};  // row 1 fully masked
    const V y = tg::masked_softmax(c(v), m);
    const double e1 = std::exp(1.0), e3 = std::exp(3.0);
    CHECK(close(y.value(), {{e1 / (e1 + e3), 0, e3 / (e1 + e3)}, {0, 0, 0}}));
    const auto l = tg::masked_log_softmax(c(v), m).value();
    CHECK(l(0, 0) == doctest::Approx(1.0 - std::log(e1 + e3)));
    CHECK(l(0, 1) == -inf);
    CHECK(l(1, 0) == -inf);
    CHECK(l(1, 2) == -inf);
    // without a mask it is softmax; a mask along another axis broadcasts
    CHECK(close(tg::masked_softmax(c(v), xt::xarray<bool>{false, false, false}).value(), tg::softmax(c(v)).value()));
    tg::Mask column = tg::Mask::from_shape({2, 1});
    column.fill(false);
    const V z = tg::masked_softmax(c(v), column, 0);
    CHECK(close(z.value(), tg::softmax(c(v), 0).value()));
    // edge values: an unmasked -inf gets probability 0, a masked NaN or inf is ignored, an unmasked NaN spreads
    const V e = tg::masked_softmax(c({-inf, 0.0, qnan, inf}), xt::xarray<bool>{false, false, true, true});
    CHECK(close(e.value(), {0, 1, 0, 0}));
    CHECK(std::isnan(tg::masked_softmax(c({qnan, 0.0}), xt::xarray<bool>{false, false}).value()(1)));
    // the fully masked row: zeros with zero gradient, masked positions get no gradient
    const V p = tg::parameter(v);
    tg::sum(tg::masked_softmax(p, m) * c({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}})).backward();
    CHECK(p.grad()(0, 1) == 0.0);
    CHECK(close(xt::xarray<double>(xt::view(p.grad(), 1, xt::all())), {0, 0, 0}));
    const V pl = tg::parameter(v);
    tg::sum(tg::masked_fill(tg::masked_log_softmax(pl, m), m, 0.0)).backward();
    CHECK(close(xt::xarray<double>(xt::view(pl.grad(), 1, xt::all())), {0, 0, 0}));
    CHECK(pl.grad()(0, 1) == 0.0);
    for (const tg::Shape& shape : {tg::Shape{2, 3}, tg::Shape{2, 3, 4}}) {
        const V a = input(shape, 7);
        tg::Generator gen(8);
        tg::Mask mask = tg::Mask::from_shape(shape);
        for (auto& b : mask) b = gen.uniform() < 0.4;
        for (std::size_t j = 0; j < 3; ++j) {  // one row along axis 1 fully masked
            if (shape.size() == 2)
                mask(0, j) = true;
            else
                mask(0, j, 1) = true;
        }
        const V w = input(shape, 9);
        check_gradients([&] { return tg::sum(tg::masked_softmax(a, mask, 1) * c(w.value())); }, {a});
        check_gradients(
            [&] {
                const V l = tg::masked_log_softmax(a, mask, 1);
                return tg::sum(tg::masked_fill(l, mask, 0.0) * c(w.value()));
            },
            {a});
    }
    check_error(
        [&] {
            tg::masked_softmax(c(v), xt::xarray<bool>{true, false});
        },
        "masked_softmax: mask of shape (2,) does not broadcast to the input's shape (2,3)");
    check_error([&] { tg::masked_log_softmax(c(v), m, 2); }, "masked_log_softmax");
}

TEST_CASE("cumsum: running sums along an axis; the gradient is the reverse running sum") {
    const V x = c({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
    CHECK(close(tg::cumsum(x, 1).value(), {{1, 3, 6}, {4, 9, 15}}));
    CHECK(close(tg::cumsum(x, 0).value(), {{1, 2, 3}, {5, 7, 9}}));
    CHECK(close(tg::cumsum(x, -1).value(), tg::cumsum(x, 1).value()));
    const auto e = tg::cumsum(c({1.0, inf, -inf, 2.0}), 0).value();
    CHECK(e(0) == 1.0);
    CHECK(e(1) == inf);
    CHECK(std::isnan(e(2)));
    CHECK(std::isnan(e(3)));
    CHECK(std::signbit(tg::cumsum(c({-0.0}), 0).value()(0)));
    const V p = tg::parameter(xt::xarray<double>{1.0, 2.0, 3.0});
    tg::sum(tg::cumsum(p, 0) * c({1.0, 10.0, 100.0})).backward();
    CHECK(close(p.grad(), {111, 110, 100}));
    for (int axis : {0, 1, 2}) {
        const V a = input({2, 3, 4}, 10 + std::uint64_t(axis));
        check_gradients([&] { return tg::sum(tg::cumsum(a, axis) * tg::cumsum(a, axis)); }, {a});
    }
    check_error([&] { tg::cumsum(x, 2); }, "cumsum");
}

TEST_CASE("braced lists: concat({x, h}, 1) and grad({y}, {x}) without spelling the element type") {
    const tg::Variable<float> x = tg::parameter(xt::xarray<float>{{1.0f, 2.0f}});
    const tg::Variable<float> h = tg::parameter(xt::xarray<float>(xt::xarray<float>::shape_type{1, 1}, 3.0f));
    const auto xh = tg::concat({x, h}, 1);
    CHECK(xh.shape() == tg::Shape{1, 3});
    CHECK(tg::stack({x, x}).shape() == tg::Shape{2, 1, 2});
    const auto y = tg::sum(xh * xh);
    const auto g = tg::grad({y}, {x, h}, tg::GradOptions().retain_graph(true));
    REQUIRE(g.size() == 2);
    CHECK(g[0].value()(0, 1) == 4.0f);
    CHECK(g[1].value()(0, 0) == 6.0f);
    CHECK(tg::grad({y}, {h})[0].value()(0, 0) == 6.0f);
    const std::vector<tg::Variable<float>> params{x};
    CHECK(tg::grad({tg::sum(x)}, params)[0].value()(0, 0) == 1.0f);
}

namespace {
// Pearson's chi-square statistic of the observed counts against the expected frequencies p.
double chi_square(const std::vector<double>& counts, const std::vector<double>& p) {
    double total = 0, chi = 0;
    for (double c : counts) total += c;
    for (std::size_t j = 0; j < p.size(); ++j)
        if (p[j] > 0) chi += (counts[j] - total * p[j]) * (counts[j] - total * p[j]) / (total * p[j]);
    return chi;
}
}  // namespace

TEST_CASE("multinomial: seeded draws with the given frequencies (chi-square), with and without replacement") {
    // weights, not probabilities: 1:2:3:4 (and a 0 that is never drawn)
    const tg::Variable<float> w(xt::xarray<float>{{1, 2, 0, 3, 4}, {0, 0, 5, 0, 0}});
    tg::Generator gen(2024);
    const tg::Tensor<std::size_t> s = tg::multinomial(w, 20000, true, gen);
    REQUIRE(s.shape() == tg::Shape{2, 20000});
    std::vector<double> counts(5, 0);
    for (std::size_t k = 0; k < 20000; ++k) {
        counts[s(0, k)] += 1;
        CHECK(s(1, k) == 2);  // the only category of row 1
    }
    CHECK(counts[2] == 0);
    // 3 degrees of freedom (the empty category left out): 16.27 is the 0.999 quantile
    const double chi = chi_square(counts, {0.1, 0.2, 0.0, 0.3, 0.4});
    INFO("chi-square " << chi);
    CHECK(chi < 16.27);
    // a deliberately wrong expectation fails the same check: the test can fail
    CHECK(chi_square(counts, {0.25, 0.25, 0.0, 0.25, 0.25}) > 16.27);

    // reproducible: the same seed gives the same samples, another seed others
    tg::Generator a(7), b(7), c2(8);
    const auto sa = tg::multinomial(w, 50, true, a), sb = tg::multinomial(w, 50, true, b);
    const auto sc = tg::multinomial(w, 50, true, c2);
    CHECK(std::equal(sa.begin(), sa.end(), sb.begin()));
    CHECK(!std::equal(sa.begin(), sa.end(), sc.begin()));
    tg::manual_seed(3);
    const auto d1 = tg::multinomial(w, 10, true);
    tg::manual_seed(3);
    const auto d2 = tg::multinomial(w, 10, true);
    CHECK(std::equal(d1.begin(), d1.end(), d2.begin()));

    // without replacement: every category at most once; the first draw has the weights'
    // frequencies, the second those of the remaining weights
    const tg::Variable<double> p(xt::xarray<double>{0.1, 0.2, 0.3, 0.4});
    std::vector<double> first(4, 0), second_after_3(4, 0);
    tg::Generator g2(11);
    for (int t = 0; t < 20000; ++t) {
        const auto d = tg::multinomial(p, 4, false, g2);
        std::vector<std::size_t> sorted(d.begin(), d.end());
        std::sort(sorted.begin(), sorted.end());
        CHECK(sorted == std::vector<std::size_t>{0, 1, 2, 3});
        first[d(0)] += 1;
        if (d(0) == 3) second_after_3[d(1)] += 1;
    }
    CHECK(chi_square(first, {0.1, 0.2, 0.3, 0.4}) < 16.27);
    CHECK(chi_square(second_after_3, {1.0 / 6, 2.0 / 6, 3.0 / 6, 0.0}) < 13.82);  // 2 dof, 0.999
    // a single category of weight: all its samples
    const auto one = tg::multinomial(tg::Variable<double>(xt::xarray<double>{0.0, 1e-300, 0.0}), 3, true, g2);
    CHECK(std::all_of(one.begin(), one.end(), [](std::size_t i) { return i == 1; }));
    // subnormal and huge weights side by side
    const auto big = tg::multinomial(tg::Variable<float>(xt::xarray<float>{1e-45f, 3e38f}), 100, true, g2);
    CHECK(std::all_of(big.begin(), big.end(), [](std::size_t i) { return i == 1; }));
}

TEST_CASE("multinomial: bad rows and sizes are errors naming the row, and draw nothing") {
    const auto row = [](xt::xarray<double> r) { return tg::Variable<double>(r); };
    check_error(
        [&] {
            tg::multinomial(row({{1, 2}, {0.5, -0.1}}), 1);
        },
        "multinomial: row 1 has weight -0.1 at category 1 (expected finite weights >= 0)");
    check_error([&] { tg::multinomial(row({1.0, qnan}), 1); }, "multinomial: row 0 has weight nan at category 1");
    check_error([&] { tg::multinomial(row({1.0, inf}), 1); }, "multinomial: row 0 has weight inf at category 1");
    check_error(
        [&] {
            tg::multinomial(row({{1, 2}, {0, -0.0}}), 1);
        },
        "multinomial: row 1 has every weight 0 (expected a positive sum)");
    check_error(
        [&] {
            tg::multinomial(row({1, 2, 3}), 4);
        },
        "multinomial: cannot draw 4 samples without replacement from 3 categories (expected num_samples <= 3)");
    check_error(
        [&] {
            tg::multinomial(row({1, 0, 3}), 3);
        },
        "multinomial: row 0 has 2 categories of nonzero weight, too few to draw 3 samples without replacement");
    check_error([&] { tg::multinomial(row({1, 2}), 0); }, "multinomial: num_samples must be at least 1, got 0");
    check_error(
        [&] {
            tg::multinomial(tg::Variable<double>(tg::Tensor<double>::from_shape({2, 2, 2})), 1);
        },
        "multinomial: expected probs of 1 or 2 dimensions ((n) or (rows, n)), got shape (2,2,2)");
    check_error(
        [&] {
            tg::multinomial(tg::Variable<double>(tg::Tensor<double>::from_shape({2, 0})), 1);
        },
        "multinomial: probs of shape (2,0) has no categories");
    // a bad row leaves the generator where it was
    tg::Generator g(5), h(5);
    check_error([&] { tg::multinomial(row({{1, 2}, {-1, 2}}), 1, true, g); }, "row 1");
    CHECK(g.uniform() == h.uniform());
}
