// MultiheadAttention: PyTorch's names and outputs, causal / key-padding / float masks proven by the gradient,
// gradcheck in double, dropout only in training, errors.
#include <cmath>
#include <limits>

#include <xtensor/xview.hpp>

#include "helpers.hpp"
#include "sequence_fixtures.hpp"

using namespace tgtest;
namespace nn = tapegrad::nn;
using namespace tgtest::sequence_fixtures;

TEST_CASE("MultiheadAttention: PyTorch's names and outputs, with causal and key-padding masks") {
    const std::size_t E = 4, N = 2;
    nn::MultiheadAttention<double> mha(E, 2);
    CHECK(names(mha) == std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"});
    CHECK(mha.in_proj_weight().shape() == tg::Shape{3 * E, E});
    CHECK(xt::all(xt::equal(mha.out_proj().bias().value(), 0.0)));  // PyTorch zeroes both biases
    set_pattern_weights(mha);
    const V x = x_of({3, N, E});
    const tg::Mask padding = {{false, false, false}, {false, false, true}};
    const auto so = mha(x, x, x, nn::AttentionOptions().is_causal(true).key_padding_mask(padding));
    CHECK(matches(so.output, mha_self_output, {3, N, E}));
    CHECK(matches(so.weights, mha_self_weights, {N, 3, 3}));
    // the same causal mask given as attn_mask
    const auto so2 = mha(x, x, x, nn::AttentionOptions().attn_mask(tg::causal_mask(3)).key_padding_mask(padding));
    CHECK(matches(so2.output, mha_self_output, {3, N, E}));

    nn::MultiheadAttention<double> cross(E, 2, 0.0, true, true);
    set_pattern_weights(cross);
    const V q = x_of({N, 3, E});
    const V k = pattern({N, 5, E}, [](double i) { return std::sin(0.9 * (i + 100) + 0.3); });
    const V v = pattern({N, 5, E}, [](double i) { return std::sin(0.9 * (i + 200) + 0.3); });
    const auto co = cross(q, k, v);
    CHECK(matches(co.output, mha_cross_output, {N, 3, E}));
    CHECK(matches(co.weights, mha_cross_weights, {N, 3, 5}));
    CHECK(!cross(q, k, v, nn::AttentionOptions().need_weights(false)).weights.defined());
}

TEST_CASE("MultiheadAttention: the gradient reaching a future position or a padded key is exactly 0") {
    tg::manual_seed(7);
    const std::size_t E = 4, L = 4, N = 2;
    nn::MultiheadAttention<double> mha(E, 2, 0.0, true, true);
    const V x = input({N, L, E}, 1);
    const tg::Mask padding = {{false, false, false, false}, {false, false, true, true}};
    for (std::size_t t = 0; t < L; ++t) {
        const V xt = tg::parameter(x.value());
        const auto o = mha(xt, xt, xt, nn::AttentionOptions().is_causal(true).key_padding_mask(padding));
        tg::sum(tg::slice(o.output, 1, std::ptrdiff_t(t), std::ptrdiff_t(t) + 1)).backward();
        for (std::size_t n = 0; n < N; ++n)
            for (std::size_t s = 0; s < L; ++s) {
                double norm = 0;
                for (std::size_t e = 0; e < E; ++e) norm += std::abs(xt.grad()(n, s, e));
                const bool reachable = s <= t && !padding(n, s);
                if (s == t)
                    CHECK(norm > 0);  // the query itself always reaches
                else if (!reachable)
                    CHECK(norm == 0.0);
                else
                    CHECK(norm > 0);
            }
    }
    // a query whose keys are all padding: zero weights, zero output from attention, no NaN
    const tg::Mask all_padded = {{true, true, true, true}, {false, false, false, false}};
    const auto o = mha(x, x, x, nn::AttentionOptions().key_padding_mask(all_padded));
    CHECK(xt::all(xt::equal(xt::view(o.weights.value(), 0), 0.0)));
    CHECK(xt::all(xt::isfinite(o.output.value())));
}

TEST_CASE("MultiheadAttention: a float attn_mask is added to the scores; -inf leaves a key out exactly") {
    tg::manual_seed(9);
    const std::size_t E = 4, L = 3, N = 2;
    nn::MultiheadAttention<double> mha(E, 2);
    const V x = input({L, N, E}, 4, -1.0, 1.0);
    const double ninf = -std::numeric_limits<double>::infinity();
    // 0 / -inf as a float mask is the boolean mask
    const xt::xarray<double> causal = {{0, ninf, ninf}, {0, 0, ninf}, {0, 0, 0}};
    const auto b = mha(x, x, x, nn::AttentionOptions().is_causal(true));
    const auto f = mha(x, x, x, nn::AttentionOptions().attn_mask(causal));
    CHECK(close(f.output.value(), b.output.value()));
    CHECK(close(f.weights.value(), b.weights.value()));
    CHECK(close(mha(x, x, x, nn::AttentionOptions().attn_mask(xt::xarray<float>(causal))).output.value(),
                b.output.value()));
    // with the queries' projection zero every score is 0: the weights are softmax(mask) itself
    nn::MultiheadAttention<double> flat(E, 2);
    xt::view(flat.in_proj_weight().mutable_value(), xt::range(0, E), xt::all()) = 0.0;
    const xt::xarray<double> bias = {{0.5, -1.0, 2.0}, {0.0, ninf, 1.0}, {-3.0, 0.25, 0.0}};
    const auto o = flat(x, x, x, nn::AttentionOptions().attn_mask(bias));
    for (std::size_t i = 0; i < L; ++i) {
        double z = 0;
        for (std::size_t j = 0; j < L; ++j) z += std::exp(bias(i, j));
        for (std::size_t n = 0; n < N; ++n)
            for (std::size_t j = 0; j < L; ++j)
                CHECK(o.weights.value()(n, i, j) == doctest::Approx(std::exp(bias(i, j)) / z).epsilon(1e-12));
    }
    // a mask constant along the keys changes nothing (softmax is shift invariant); another does
    const xt::xarray<double> rows = {{3, 3, 3}, {-1, -1, -1}, {0.5, 0.5, 0.5}};
    const auto plain = mha(x, x, x);
    CHECK(close(mha(x, x, x, nn::AttentionOptions().attn_mask(rows)).output.value(), plain.output.value(), 1e-10));
    CHECK(!close(mha(x, x, x, nn::AttentionOptions().attn_mask(bias)).output.value(), plain.output.value(), 1e-6));
    // one mask per sequence and head (N*h, L, S): head 1 of sequence 0 sees only key 0
    xt::xarray<double> per_head = xt::zeros<double>({N * 2, L, L});
    xt::view(per_head, 1, xt::all(), xt::range(1, L)) = ninf;
    const auto ph = mha(x, x, x, nn::AttentionOptions().attn_mask(per_head));
    CHECK(!close(ph.output.value(), plain.output.value(), 1e-6));
    CHECK(close(xt::view(ph.output.value(), xt::all(), 1), xt::view(plain.output.value(), xt::all(), 1)));
    // gradients: gradcheck in double with a float mask, and none through a -inf entry
    std::vector<V> all{x};
    for (const auto& p : mha.parameters()) all.push_back(p);
    check_gradients(
        [&] {
            const auto r = mha(x, x, x, nn::AttentionOptions().attn_mask(bias));
            return tg::sum(r.output * r.output);
        },
        all);
    for (std::size_t t = 0; t < L; ++t) {
        const V xt = tg::parameter(x.value());
        const auto r = mha(xt, xt, xt, nn::AttentionOptions().attn_mask(causal));
        tg::sum(tg::slice(r.output, 0, std::ptrdiff_t(t), std::ptrdiff_t(t) + 1)).backward();
        for (std::size_t s = t + 1; s < L; ++s) CHECK(xt::all(xt::equal(xt::view(xt.grad(), s), 0.0)));
    }
    check_error(
        [&] {
            mha(x, x, x, nn::AttentionOptions().attn_mask(xt::xarray<double>{{0, 1}, {1, 0}}));
        },
        "MultiheadAttention(4, 2): expected a float attn_mask of shape (3,3) or (4,3,3), got (2,2)");
    check_error(
        [&] {
            mha(x, x, x,
                nn::AttentionOptions().attn_mask(xt::xarray<double>{{0, 0, 0}, {0, std::nan(""), 0}, {0, 0, 0}}));
        },
        "MultiheadAttention(4, 2): float attn_mask has nan at flat position 4 (expected finite values or -inf)");
    check_error([&] { mha(x, x, x, nn::AttentionOptions().attn_mask(xt::xarray<double>(-causal))); },
                "float attn_mask has inf at flat position 1");
}

TEST_CASE("MultiheadAttention: gradcheck in double, dropout only in training, errors") {
    tg::manual_seed(8);
    nn::MultiheadAttention<double> mha(4, 2);
    const V q = input({3, 2, 4}, 1, -1.0, 1.0), kv = input({5, 2, 4}, 2, -1.0, 1.0);
    std::vector<V> all{q, kv};
    for (const auto& p : mha.parameters()) all.push_back(p);
    const tg::Mask padding = {{false, false, false, true, true}, {false, false, false, false, false}};
    check_gradients(
        [&] {
            const auto o = mha(q, kv, kv, nn::AttentionOptions().key_padding_mask(padding));
            return tg::sum(o.output * o.output) + tg::sum(o.weights * o.weights);
        },
        all);
    nn::MultiheadAttention<double> drop(4, 2, 0.5);
    drop.eval();
    CHECK(close(drop(q, q, q).output.value(), drop(q, q, q).output.value()));
    drop.train();
    CHECK(!close(drop(q, q, q).output.value(), drop(q, q, q).output.value()));
    check_error([&] { nn::MultiheadAttention<double>(6, 4); },
                "MultiheadAttention: embed_dim must be a positive multiple of num_heads, got embed_dim=6 and "
                "num_heads=4");
    check_error(
        [&] {
            mha(q, kv, tg::zeros<double>({5, 2, 3}));
        },
        "MultiheadAttention(4, 2): expected value (L,N,E) with E = 4, got (5,2,3)");
    check_error([&] { mha(q, kv, kv, nn::AttentionOptions().attn_mask(tg::causal_mask(3))); },
                "MultiheadAttention(4, 2): expected attn_mask of shape (3,5), got (3,3)");
    check_error([&] { mha(q, kv, kv, nn::AttentionOptions().is_causal(true).key_padding_mask(tg::causal_mask(2))); },
                "expected key_padding_mask of shape (2,5), got (2,2)");
}

TEST_CASE("MultiheadAttention: self-attention without weights takes the packed path, with the same outputs") {
    const std::size_t E = 4, N = 2;
    nn::MultiheadAttention<double> mha(E, 2);
    set_pattern_weights(mha);
    const V x = x_of({3, N, E});
    const tg::Mask padding = {{false, false, false}, {false, false, true}};
    const auto opts = nn::AttentionOptions().is_causal(true).key_padding_mask(padding).need_weights(false);
    const auto o = mha(x, x, x, opts);
    // (L,N,E) output = transpose(out_proj(heads)): the op two steps down is the packed one
    CHECK(std::string(o.output.node()->inputs[0].node()->inputs[0].node()->op_name()) == "self_attention_heads");
    CHECK(matches(o.output, mha_self_output, {3, N, E}));
    CHECK(!o.weights.defined());
    tg::manual_seed(9);
    nn::MultiheadAttention<double> fresh(E, 2, 0.0, true, true);
    const V q = input({N, 3, E}, 3, -1.0, 1.0);
    std::vector<V> all{q};
    for (const auto& p : fresh.parameters()) all.push_back(p);
    for (const bool causal : {false, true})
        check_gradients(
            [&] {
                const V y = fresh(q, q, q, nn::AttentionOptions().is_causal(causal).need_weights(false)).output;
                return tg::sum(y * y);
            },
            all);
    // the packed path and the general one (weights asked for) agree
    const auto a = fresh(q, q, q, nn::AttentionOptions().is_causal(true).need_weights(false));
    const auto b = fresh(q, q, q, nn::AttentionOptions().is_causal(true));
    CHECK(close(a.output.value(), b.output.value(), 1e-13));
}
