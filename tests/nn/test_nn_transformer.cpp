// Transformer modules: PositionalEmbedding, the pre-LN TransformerBlock, TransformerStack and GPT: PyTorch's
// names, the block's equations, gradcheck + gradgradcheck in double, causality proven, errors.
#include <cmath>

#include <xtensor/xview.hpp>

#include "helpers.hpp"

using namespace tgtest;
namespace nn = tapegrad::nn;

namespace {

template <class M>
std::vector<std::string> names(const M& m) {
    std::vector<std::string> out;
    for (const auto& [n, v] : m.named_parameters()) out.push_back(n);
    return out;
}

nn::TransformerOptions small(bool causal) {
    return nn::TransformerOptions()
        .dim_feedforward(6)
        .dropout(0.0)
        .activation(nn::TransformerActivation::gelu)
        .batch_first(true)
        .causal(causal);
}

// |d (c . out[:, t]) / d x[:, s]| summed, for every s: which input positions reach output position t
// (c: fixed weights, as a plain sum of a LayerNorm's output is constant).
template <class F>
std::vector<double> reach(F f, const V& x, std::size_t t) {
    const V xp = tg::parameter(x.value());
    const V y = tg::slice(f(xp), 1, std::ptrdiff_t(t), std::ptrdiff_t(t) + 1);
    tg::sum(y * tg::constant(input(y.shape(), 99).value())).backward();
    std::vector<double> r(x.shape()[1], 0.0);
    for (std::size_t n = 0; n < x.shape()[0]; ++n)
        for (std::size_t s = 0; s < x.shape()[1]; ++s)
            for (std::size_t e = 0; e < x.shape()[2]; ++e) r[s] += std::abs(xp.grad()(n, s, e));
    return r;
}

}  // namespace

TEST_CASE("PositionalEmbedding: x + weight[:L], PyTorch's Embedding name, errors") {
    tg::manual_seed(1);
    nn::PositionalEmbedding<double> pe(5, 3);
    CHECK(names(pe) == std::vector<std::string>{"weight"});
    const V x = input({2, 4, 3}, 1);
    const V y = pe(x);
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t l = 0; l < 4; ++l)
            for (std::size_t e = 0; e < 3; ++e)
                CHECK(y.value()(n, l, e) == x.value()(n, l, e) + pe.weight().value()(l, e));
    nn::PositionalEmbedding<double> seq_first(5, 3, false);
    const V z = seq_first(input({4, 2, 3}, 2));
    CHECK(z.shape() == tg::Shape{4, 2, 3});
    check_gradients([&] { return tg::sum(tg::tanh(pe(x))); }, {x, pe.weight()});
    check_error(
        [&] {
            pe(input({1, 6, 3}, 3));
        },
        "PositionalEmbedding(5, 3): sequence length 6 out of range (expected 1 to max_len = 5)");
    check_error(
        [&] {
            pe(input({1, 2, 4}, 3));
        },
        "PositionalEmbedding(5, 3): expected input (N,L,E) with E = 3, got (1,2,4)");
    check_error([&] { nn::PositionalEmbedding<double>(0, 3); },
                "PositionalEmbedding: max_len and dim must be at least 1");
}

TEST_CASE("TransformerBlock: PyTorch's TransformerEncoderLayer names, the pre-LN equations") {
    tg::manual_seed(2);
    nn::TransformerBlock<double> block(4, 2, small(false));
    CHECK(names(block) == std::vector<std::string>{"self_attn.in_proj_weight", "self_attn.in_proj_bias",
                                                   "self_attn.out_proj.weight", "self_attn.out_proj.bias",
                                                   "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                                                   "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"});
    CHECK(block.linear1().weight().shape() == tg::Shape{6, 4});
    // norms with weights other than 1: the equations, term by term, from the sub-modules
    tg::Generator g(3);
    for (const auto& p : block.parameters())
        for (auto& v : p.mutable_value()) v = g.uniform(-0.8, 0.8);
    const V x = input({2, 3, 4}, 4);
    auto ln = [](const V& v, const nn::LayerNorm<double>& n) {
        const V c = v - tg::mean(v, {2}, true);
        return c / tg::sqrt(tg::mean(c * c, {2}, true) + 1e-5) * n.weight() + n.bias();
    };
    auto lin = [](const V& v, const nn::Linear<double>& l) { return tg::linear(v, l.weight(), l.bias()); };
    const V h = ln(x, block.norm1());
    const V x1 = x + block.self_attn()(h, h, h).output;
    const V expected = x1 + lin(tg::gelu(lin(ln(x1, block.norm2()), block.linear1())), block.linear2());
    CHECK(close(block(x).value(), expected.value(), 1e-12));
    // relu, sequence first
    nn::TransformerBlock<double> relu_block(4, 2, nn::TransformerOptions().dim_feedforward(5).dropout(0.0));
    const V xs = input({3, 2, 4}, 5);
    const V hs = relu_block.norm1()(xs);
    const V xs1 = xs + relu_block.self_attn()(hs, hs, hs).output;
    const V es = xs1 + relu_block.linear2()(tg::relu(relu_block.linear1()(relu_block.norm2()(xs1))));
    CHECK(close(relu_block(xs).value(), es.value(), 1e-12));
    CHECK(block.settings() ==
          "d_model=4, nhead=2, dim_feedforward=6, dropout=0, activation=gelu, batch_first=true, causal=false");
}

TEST_CASE("TransformerBlock and TransformerStack: gradcheck and gradgradcheck in double, with masks") {
    tg::manual_seed(4);
    nn::TransformerBlock<double> block(4, 2, small(true));
    const V x = input({2, 3, 4}, 6, -1.0, 1.0);
    std::vector<V> all{x};
    for (const auto& p : block.parameters()) all.push_back(p);
    check_gradients([&] { return tg::sum(tg::tanh(block(x))); }, all);
    const tg::Mask padding = {{false, false, true}, {false, false, false}};
    check_gradients([&] { return tg::sum(block(x, nn::AttentionOptions().key_padding_mask(padding)) * x); }, {x},
                    false);
    nn::TransformerStack<double> stack(2, 4, 2, small(true));
    CHECK(names(stack).front() == "layers.0.self_attn.in_proj_weight");
    CHECK(names(stack)[12] == "layers.1.self_attn.in_proj_weight");
    CHECK(names(stack).back() == "norm.bias");
    CHECK(nn::TransformerStack<double>(2, 4, 2, small(true), false).norm() == nullptr);
    std::vector<V> sp{x};
    for (const auto& p : stack.parameters()) sp.push_back(p);
    check_gradients([&] { return tg::sum(stack(x) * x); }, sp, false);
}

TEST_CASE("causal blocks, stacks and GPT: the gradient reaching a future position is exactly 0") {
    tg::manual_seed(5);
    const std::size_t L = 5;
    nn::TransformerStack<double> stack(2, 4, 2, small(true));
    nn::TransformerStack<double> open(2, 4, 2, small(false));
    const V x = input({2, L, 4}, 7);
    for (std::size_t t = 0; t < L; ++t) {
        const auto r = reach([&](const V& v) { return stack(v); }, x, t);
        const auto o = reach([&](const V& v) { return open(v); }, x, t);
        for (std::size_t s = 0; s < L; ++s) {
            CAPTURE(t);
            CAPTURE(s);
            if (s > t)
                CHECK(r[s] == 0.0);
            else
                CHECK(r[s] > 0.0);
            CHECK(o[s] > 0.0);  // without the mask every position reaches: the check can fail
        }
    }
    // GPT: logits at position t do not change when a later token does
    nn::GPTConfig c;
    c.vocab_size = 7;
    c.context = 6;
    c.d_model = 8;
    c.num_heads = 2;
    c.num_layers = 2;
    c.dim_feedforward = 16;
    nn::GPT<double> gpt(c);
    tg::Tensor<std::size_t> a(xt::xarray<std::size_t>{{1, 2, 3, 4, 5, 6}}), b = a;
    b(0, 4) = 0;
    const V la = gpt(a), lb = gpt(b);
    CHECK(la.shape() == tg::Shape{1, 6, 7});
    CHECK(close(xt::view(la.value(), 0, xt::range(0, 4)), xt::view(lb.value(), 0, xt::range(0, 4)), 0.0));
    CHECK(!close(xt::view(la.value(), 0, 4), xt::view(lb.value(), 0, 4), 1e-6));
}

TEST_CASE("GPT: names, ids as numbers or integers, a training step lowers the loss, errors") {
    tg::manual_seed(6);
    nn::GPTConfig c;
    c.vocab_size = 5;
    c.context = 4;
    c.d_model = 8;
    c.num_heads = 2;
    c.num_layers = 1;
    c.dim_feedforward = 8;
    nn::GPT<double> gpt(c);
    const auto n = names(gpt);
    CHECK(n.front() == "tok_emb.weight");
    CHECK(n[1] == "pos_emb.weight");
    CHECK(n[2] == "blocks.layers.0.self_attn.in_proj_weight");
    CHECK(n[n.size() - 3] == "blocks.norm.bias");
    CHECK(n.back() == "head.bias");
    const tg::Tensor<std::size_t> ids(xt::xarray<std::size_t>{{0, 1, 2, 3}, {4, 3, 2, 1}});
    const V as_numbers = gpt(tg::constant(xt::xarray<double>{{0, 1, 2, 3}, {4, 3, 2, 1}}));
    CHECK(close(as_numbers.value(), gpt(ids).value(), 0.0));
    const tg::Indices next{1, 2, 3, 4, 3, 2, 1, 0};
    auto loss = [&] { return tg::cross_entropy(tg::reshape(gpt(ids), tg::Shape{8, 5}), next); };
    const double before = loss().item();
    for (int step = 0; step < 5; ++step) {
        gpt.zero_grad();
        loss().backward();
        for (const auto& p : gpt.parameters()) p.mutable_value() -= 0.1 * p.grad();
    }
    CHECK(loss().item() < before);
    check_error(
        [&] {
            gpt(tg::Tensor<std::size_t>(xt::xarray<std::size_t>{{0, 1, 2, 3, 4}}));
        },
        "PositionalEmbedding(4, 8): sequence length 5 out of range (expected 1 to max_len = 4)");
    check_error(
        [&] {
            gpt(tg::Tensor<std::size_t>(xt::xarray<std::size_t>{0, 1}));
        },
        "GPT: expected token ids (N,L), got (2,)");
    check_error([&] { gpt(tg::Tensor<std::size_t>(xt::xarray<std::size_t>{{0, 5}})); }, "index 5 out of range");
}

TEST_CASE("TransformerBlock: dropout only in training; errors name the block") {
    tg::manual_seed(7);
    nn::TransformerBlock<double> block(4, 2, nn::TransformerOptions().dropout(0.5).batch_first(true));
    const V x = input({2, 3, 4}, 8);
    CHECK(!close(block(x).value(), block(x).value(), 1e-9));
    block.eval();
    CHECK(close(block(x).value(), block(x).value(), 0.0));
    check_error(
        [&] {
            block(input({2, 3, 5}, 9));
        },
        "TransformerBlock(4, 2): expected input (N,L,E) with E = 4, got (2,3,5)");
    check_error([&] { nn::TransformerBlock<double>(4, 3); },
                "MultiheadAttention: embed_dim must be a positive multiple of num_heads");
    check_error([&] { nn::TransformerBlock<double>(4, 2, nn::TransformerOptions().dropout(1.0)); },
                "TransformerBlock: dropout must be in [0, 1), got 1");
    check_error([&] { nn::TransformerStack<double>(0, 4, 2); },
                "TransformerStack: num_layers must be at least 1, got 0");
}
