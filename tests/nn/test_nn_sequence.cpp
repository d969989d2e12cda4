// Sequence layers: Embedding, LayerNorm, RMSNorm (and the recurrent cells and layers): forward values,
// PyTorch's parameter names, gradcheck through the module, errors naming the layer.
#include <cmath>
#include <limits>

#include <xtensor/xview.hpp>

#include "helpers.hpp"
#include "sequence_fixtures.hpp"

using namespace tgtest;
namespace nn = tapegrad::nn;
using namespace tgtest::sequence_fixtures;

TEST_CASE("Embedding: rows of weight, PyTorch's name and initialisation, gradient into the rows used") {
    tg::manual_seed(1);
    nn::Embedding<double> emb(5, 3);
    CHECK(names(emb) == std::vector<std::string>{"weight"});
    CHECK(emb.weight().shape() == tg::Shape{5, 3});
    const double m = xt::mean(emb.weight().value())();
    CHECK(std::abs(m) < 1.5);  // N(0, 1): not the uniform init of Linear
    const auto y = emb(tg::Tensor<std::size_t>(xt::xarray<std::size_t>{{4, 0}, {4, 4}}));
    CHECK(y.shape() == tg::Shape{2, 2, 3});
    for (std::size_t k = 0; k < 3; ++k) {
        CHECK(y.value()(0, 0, k) == emb.weight().value()(4, k));
        CHECK(y.value()(0, 1, k) == emb.weight().value()(0, k));
    }
    const xt::xarray<double> row2 = xt::view(emb.weight().value(), xt::range(2, 3), xt::all());
    CHECK(close(emb(tg::Indices{2}).value(), row2));
    // ids stored as numbers (a loader's batch)
    CHECK(close(emb(tg::constant(xt::xarray<double>{1.0, 3.0})).value(), emb(tg::Indices{1, 3}).value()));
    tg::sum(emb(tg::Indices{1, 1, 3})).backward();
    CHECK(emb.weight().grad()(1, 0) == 2.0);
    CHECK(emb.weight().grad()(3, 2) == 1.0);
    CHECK(emb.weight().grad()(0, 0) == 0.0);
    const tg::Tensor<std::size_t> ids(xt::xarray<std::size_t>{{0, 2, 2}, {1, 4, 3}});
    const std::vector<V> params = emb.parameters();
    check_gradients([&] { return tg::sum(tg::tanh(emb(ids)) * emb(ids)); }, params);
    check_error([&] { emb(tg::Indices{5}); }, "Embedding(5, 3): index 5 out of range (expected < 5)");
    check_error([&] { emb(tg::constant(xt::xarray<double>{1.5})); },
                "Embedding(5, 3): token id 1.5 is not a whole number in [0, 5)");
    check_error([&] { nn::Embedding<double>(0, 3); }, "Embedding: num_embeddings and embedding_dim must be at least 1");
}

TEST_CASE("Embedding padding_idx: that row starts at zeros and gets no gradient (PyTorch's padding_idx)") {
    tg::manual_seed(2);
    nn::Embedding<double> emb(5, 3, nn::EmbeddingOptions().padding_idx(1));
    CHECK(emb.padding_idx() == 1);
    CHECK(emb.settings() == "num_embeddings=5, embedding_dim=3, padding_idx=1");
    CHECK(xt::all(xt::equal(xt::view(emb.weight().value(), 1), 0.0)));
    CHECK(!xt::all(xt::equal(xt::view(emb.weight().value(), 2), 0.0)));
    CHECK(nn::Embedding<double>(5, 3, nn::EmbeddingOptions().padding_idx(-1)).padding_idx() == 4);
    CHECK(nn::Embedding<double>(5, 3).padding_idx() == -1);
    // the row is looked up as it is (a loaded, nonzero padding row shows), but learns nothing
    emb.weight().mutable_value()(1, 0) = 0.5;
    emb.weight().mutable_value()(1, 1) = -0.3;
    emb.weight().mutable_value()(1, 2) = 0.2;
    const tg::Tensor<std::size_t> ids(xt::xarray<std::size_t>{{1, 2, 1}, {3, 1, 2}});
    const V y = emb(ids);
    CHECK(y.value()(0, 0, 0) == 0.5);
    const V w = tg::parameter(emb.weight().value());
    tg::sum(tg::embedding(w, ids) * tg::embedding(w, ids)).backward();  // the same function without padding
    tg::sum(y * y).backward();
    for (std::size_t k = 0; k < 3; ++k) {
        CHECK(emb.weight().grad()(1, k) == 0.0);
        CHECK(w.grad()(1, k) != 0.0);  // without padding_idx it would learn
        for (std::size_t r : {0, 2, 3, 4}) CHECK(emb.weight().grad()(r, k) == w.grad()(r, k));
    }
    // second order: the gradient of the (padded) gradient is the unpadded one's with the padding rows left out
    const V q = input({4, 3}, 3);
    const tg::Tensor<std::size_t> j(xt::xarray<std::size_t>{0, 2, 2, 3});  // no padding used: plain gradients
    check_gradients([&] { return tg::sum(tg::tanh(tg::embedding(q, j, 1)) * 0.7); }, {q});
    const V g = tg::grad({tg::sum(tg::tanh(tg::embedding(q, idx_of({0, 1, 1, 3}), 1)))}, {q},
                         tg::GradOptions().create_graph(true))[0];
    CHECK(xt::all(xt::equal(xt::view(g.value(), 1), 0.0)));
    CHECK(g.requires_grad());
    check_error([&] { nn::Embedding<double>(5, 3, nn::EmbeddingOptions().padding_idx(5)); },
                "Embedding: padding_idx must be in [-5, 5) for 5 embeddings, got 5");
    check_error([&] { tg::embedding(q, tg::Indices{0}, 4); },
                "embedding: padding_idx 4 out of range for 4 embeddings (expected < 4)");
}

TEST_CASE("LayerNorm: normalized over the last dimensions, weight and bias, gradients") {
    nn::LayerNorm<double> ln(3);
    CHECK(names(ln) == std::vector<std::string>{"weight", "bias"});
    const V x = tg::constant(xt::xarray<double>{{1.0, 2.0, 3.0}, {-1.0, 0.0, 5.0}});
    // row 0: mean 2, var 2/3; row 1: mean 4/3, var (49/9 + 16/9 + 121/9)/3 = 186/27
    const double s0 = std::sqrt(2.0 / 3.0 + 1e-5), s1 = std::sqrt(186.0 / 27.0 + 1e-5);
    CHECK(close(ln(x).value(), {{-1 / s0, 0, 1 / s0}, {(-1 - 4.0 / 3) / s1, (-4.0 / 3) / s1, (5 - 4.0 / 3) / s1}}));
    tg::Variable<double>(ln.weight()).mutable_value() = xt::xarray<double>{1.0, 2.0, -1.0};
    tg::Variable<double>(ln.bias()).mutable_value() = xt::xarray<double>{0.5, 0.0, 0.0};
    CHECK(ln(x).value()(0, 0) == doctest::Approx(0.5 - 1 / s0));
    CHECK(ln(x).value()(1, 2) == doctest::Approx(-(5 - 4.0 / 3) / s1));
    const V a = input({2, 4, 3}, 1);
    check_gradients([&] { return tg::sum(ln(a) * ln(a) * a); }, with_params(a, ln));
    // over the last two dimensions, no affine
    nn::LayerNorm<double> ln2(tg::Shape{4, 3}, 1e-5, false);
    CHECK(ln2.parameters().empty());
    const auto y2 = ln2(a).value();
    CHECK(std::abs(xt::mean(xt::view(y2, 0))()) < 1e-12);
    CHECK(xt::mean(xt::view(y2, 1) * xt::view(y2, 1))() == doctest::Approx(1.0).epsilon(1e-4));
    check_gradients([&] { return tg::sum(ln2(a) * a); }, {a});
    // a constant row gives 0 (not NaN): eps keeps the division finite
    CHECK(close(ln2(tg::constant(xt::xarray<double>(xt::ones<double>({4, 3})))).value(), xt::zeros<double>({4, 3})));
    check_error(
        [&] {
            ln(tg::constant(xt::xarray<double>{1.0, 2.0}));
        },
        "LayerNorm((3,)): expected input (...,3), got (2,)");
    check_error([&] { nn::LayerNorm<double>(tg::Shape{}); }, "LayerNorm: normalized_shape must be non-empty");
}

TEST_CASE("RMSNorm: x / sqrt(mean(x^2) + eps) * weight, PyTorch's default eps") {
    nn::RMSNorm<double> rms(3);
    CHECK(names(rms) == std::vector<std::string>{"weight"});
    CHECK(rms.eps() == std::numeric_limits<double>::epsilon());
    CHECK(nn::RMSNorm<float>(3).eps() == double(std::numeric_limits<float>::epsilon()));
    const V x = tg::constant(xt::xarray<double>{{1.0, 2.0, 2.0}, {0.0, 0.0, 0.0}});
    const double r = std::sqrt(3.0 + rms.eps());                       // mean of squares (1 + 4 + 4) / 3 = 3
    CHECK(close(rms(x).value(), {{1 / r, 2 / r, 2 / r}, {0, 0, 0}}));  // zeros stay zeros
    nn::RMSNorm<double> rms2(tg::Shape{3}, 0.5);
    tg::Variable<double>(rms2.weight()).mutable_value() = xt::xarray<double>{2.0, 1.0, 1.0};
    CHECK(rms2(x).value()(0, 0) == doctest::Approx(2.0 / std::sqrt(3.5)));
    const V a = input({2, 2, 3}, 2);
    check_gradients([&] { return tg::sum(rms2(a) * a); }, with_params(a, rms2));
    check_error(
        [&] {
            rms(tg::constant(xt::xarray<double>{{1.0, 2.0}}));
        },
        "RMSNorm((3,)): expected input (...,3), got (1,2)");
}

TEST_CASE("LSTM, GRU, RNN and their cells: PyTorch's names, and its outputs for the same weights") {
    const std::size_t I = 3, H = 2, L = 4, N = 2;
    nn::LSTM<double> lstm(I, H, nn::RecurrentOptions().num_layers(2));
    CHECK(names(lstm) == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                                  "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"});
    CHECK(lstm.named_parameters()[0].second.shape() == tg::Shape{4 * H, I});
    CHECK(lstm.named_parameters()[5].second.shape() == tg::Shape{4 * H, H});
    set_pattern_weights(lstm);
    const auto lo = lstm(x_of({L, N, I}), {h_of({2, N, H}), c_of({2, N, H})});
    CHECK(matches(lo.output, lstm_output, {L, N, H}));
    CHECK(matches(lo.h_n, lstm_h_n, {2, N, H}));
    CHECK(matches(lo.c_n, lstm_c_n, {2, N, H}));
    CHECK(close(lstm.forward(x_of({L, N, I})).value(), lstm(x_of({L, N, I})).output.value()));

    nn::GRU<double> gru(I, H, nn::RecurrentOptions().num_layers(2).batch_first(true));
    CHECK(gru.named_parameters()[0].second.shape() == tg::Shape{3 * H, I});
    set_pattern_weights(gru);
    const auto go = gru(x_of({N, L, I}), h_of({2, N, H}));
    CHECK(matches(go.output, gru_output, {N, L, H}));
    CHECK(matches(go.h_n, gru_h_n, {2, N, H}));

    nn::RNN<double> rnn(I, H);
    set_pattern_weights(rnn);
    const auto ro = rnn(x_of({L, N, I}));
    CHECK(matches(ro.output, rnn_output, {L, N, H}));
    CHECK(matches(ro.h_n, rnn_h_n, {1, N, H}));

    nn::LSTM<double> nobias(I, H, nn::RecurrentOptions().bias(false).batch_first(true));
    CHECK(names(nobias) == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0"});
    set_pattern_weights(nobias);
    const auto no = nobias(x_of({N, L, I}));
    CHECK(matches(no.output, lstm_nobias_output, {N, L, H}));
    CHECK(matches(no.c_n, lstm_nobias_c_n, {1, N, H}));

    nn::LSTMCell<double> lcell(I, H);
    CHECK(names(lcell) == std::vector<std::string>{"weight_ih", "weight_hh", "bias_ih", "bias_hh"});
    set_pattern_weights(lcell);
    const auto ls = lcell(x_of({N, I}), {h_of({N, H}), c_of({N, H})});
    CHECK(matches(ls.h, lstm_cell_h, {N, H}));
    CHECK(matches(ls.c, lstm_cell_c, {N, H}));
    nn::GRUCell<double> gcell(I, H);
    set_pattern_weights(gcell);
    CHECK(matches(gcell(x_of({N, I}), h_of({N, H})), gru_cell_h, {N, H}));
    nn::RNNCell<double> rcell(I, H);
    set_pattern_weights(rcell);
    CHECK(matches(rcell(x_of({N, I}), h_of({N, H})), rnn_cell_h, {N, H}));
}

TEST_CASE("recurrent layers: gradcheck through a step and through time, the initial state gets its gradient") {
    tg::manual_seed(5);
    const V x = input({2, 3}, 1, -1.0, 1.0), h = input({2, 2}, 2, -1.0, 1.0), c = input({2, 2}, 3, -1.0, 1.0);
    nn::LSTMCell<double> lcell(3, 2);
    check_gradients(
        [&] {
            const auto s = lcell(x, {h, c});
            return tg::sum(s.h * s.c);
        },
        [&] {
            std::vector<V> all{x, h, c};
            for (const auto& p : lcell.parameters()) all.push_back(p);
            return all;
        }());
    nn::GRUCell<double> gcell(3, 2);
    check_gradients([&] { return tg::sum(tg::tanh(gcell(x, h)) * gcell(x, h)); },
                    [&] {
                        std::vector<V> all{x, h};
                        for (const auto& p : gcell.parameters()) all.push_back(p);
                        return all;
                    }());
    nn::RNNCell<double> rcell(3, 2, false);
    check_gradients([&] { return tg::sum(rcell(x, h) * rcell(x, h)); }, with_params(x, rcell));
    // through time: two layers, three steps, from a given state
    const V xs = input({3, 2, 3}, 4, -1.0, 1.0);
    const V h0 = input({2, 2, 2}, 5, -1.0, 1.0), c0 = input({2, 2, 2}, 6, -1.0, 1.0);
    nn::LSTM<double> lstm(3, 2, nn::RecurrentOptions().num_layers(2));
    std::vector<V> all{xs, h0, c0};
    for (const auto& p : lstm.parameters()) all.push_back(p);
    check_gradients(
        [&] {
            const auto o = lstm(xs, {h0, c0});
            return tg::sum(o.output * o.output) + tg::sum(o.c_n);
        },
        all, false);
    nn::GRU<double> gru(3, 2, nn::RecurrentOptions().batch_first(true));
    const V g0 = input({1, 3, 2}, 7, -1.0, 1.0);  // batch_first: xs is (N=3, L=2, 3)
    std::vector<V> gall = with_params(xs, gru);
    gall.push_back(g0);
    check_gradients([&] { return tg::sum(gru(xs, g0).output) + tg::sum(gru(xs, g0).h_n); }, gall, false);
}

TEST_CASE("recurrent layers through time: second derivatives (the fused cells' VJPs record under create_graph)") {
    tg::manual_seed(9);
    // five steps: the input is cut into spans of two steps, then steps (and the last span is short)
    const V xs = input({5, 2, 3}, 8, -1.0, 1.0), h0 = input({1, 2, 2}, 9, -1.0, 1.0);
    const V c0 = input({1, 2, 2}, 10, -1.0, 1.0);
    nn::LSTM<double> lstm(3, 2);
    std::vector<V> all = with_params(xs, lstm);
    all.push_back(h0);
    all.push_back(c0);
    check_gradients(
        [&] {
            const auto o = lstm(xs, {h0, c0});
            return tg::sum(o.output * o.output) + tg::sum(o.c_n * o.h_n);
        },
        all);
    nn::GRU<double> gru(3, 2, nn::RecurrentOptions().batch_first(true));  // xs is then (N=5, L=2, 3)
    const V g0 = input({1, 5, 2}, 11, -1.0, 1.0);
    std::vector<V> gall = with_params(xs, gru);
    gall.push_back(g0);
    check_gradients([&] { return tg::sum(tg::tanh(gru(xs, g0).output)); }, gall);
}

TEST_CASE("bidirectional recurrent layers: PyTorch's _reverse names and layout; the backward half reads backwards") {
    tg::manual_seed(11);
    const std::size_t I = 3, H = 2, L = 4, N = 2;
    nn::LSTM<double> bi(I, H, nn::RecurrentOptions().num_layers(2).bidirectional(true));
    CHECK(names(bi) == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                                "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
                                                "bias_hh_l0_reverse", "weight_ih_l1", "weight_hh_l1", "bias_ih_l1",
                                                "bias_hh_l1", "weight_ih_l1_reverse", "weight_hh_l1_reverse",
                                                "bias_ih_l1_reverse", "bias_hh_l1_reverse"});
    CHECK(bi.named_parameters()[8].second.shape() == tg::Shape{4 * H, 2 * H});  // layer 1 reads both halves
    const V x = input({L, N, I}, 12, -1.0, 1.0);
    const auto o = bi(x);
    CHECK(o.output.shape() == tg::Shape{L, N, 2 * H});
    CHECK(o.h_n.shape() == tg::Shape{4, N, H});
    CHECK(o.c_n.shape() == tg::Shape{4, N, H});
    // layer 0 alone, each direction against a one-directional LSTM with the same weights (the
    // backward one over the reversed sequence)
    nn::LSTM<double> one(I, H, nn::RecurrentOptions().bidirectional(true)), fwd(I, H), bwd(I, H);
    for (std::size_t i = 0; i < 4; ++i) {
        fwd.parameters()[i].mutable_value() = one.parameters()[i].value();
        bwd.parameters()[i].mutable_value() = one.parameters()[i + 4].value();
    }
    const auto b = one(x);
    const auto f = fwd(x);
    const auto r = bwd(tg::constant(xt::xarray<double>(xt::flip(x.value(), 0))));
    const xt::xarray<double> r_back = xt::flip(r.output.value(), 0);
    CHECK(close(xt::view(b.output.value(), xt::all(), xt::all(), xt::range(0, H)), f.output.value()));
    CHECK(close(xt::view(b.output.value(), xt::all(), xt::all(), xt::range(H, 2 * H)), r_back));
    CHECK(close(xt::view(b.h_n.value(), xt::range(0, 1)), f.h_n.value()));
    CHECK(close(xt::view(b.h_n.value(), xt::range(1, 2)), r.h_n.value()));
    CHECK(close(xt::view(b.c_n.value(), xt::range(1, 2)), r.c_n.value()));
    // the backward half at time 0 has read the whole sequence: the last input reaches it
    const V xp = tg::parameter(x.value());
    tg::sum(tg::slice(tg::slice(one(xp).output, 0, 0, 1), 2, std::ptrdiff_t(H), std::ptrdiff_t(2 * H))).backward();
    CHECK(xt::any(xt::not_equal(xt::view(xp.grad(), L - 1), 0.0)));
    // gradcheck through both directions, two layers, a given state, batch first
    nn::GRU<double> gru(I, H, nn::RecurrentOptions().num_layers(2).bidirectional(true).batch_first(true));
    const V xb = input({N, 3, I}, 13, -1.0, 1.0), h0 = input({4, N, H}, 14, -1.0, 1.0);
    std::vector<V> all{xb, h0};
    for (const auto& p : gru.parameters()) all.push_back(p);
    check_gradients(
        [&] {
            const auto g = gru(xb, h0);
            return tg::sum(g.output * g.output) + tg::sum(g.h_n);
        },
        all, false);
    check_error([&] { gru(xb, input({2, N, H}, 15)); }, "expected h0 of shape (4,2,2), got (2,2,2)");
}

TEST_CASE("recurrent dropout between layers: training only, never after the last layer") {
    tg::manual_seed(12);
    const V x = input({4, 2, 3}, 16);
    nn::LSTM<double> lstm(3, 5, nn::RecurrentOptions().num_layers(2).dropout(0.5));
    CHECK(lstm.settings() == "3, 5, num_layers=2, bias=true, batch_first=false, dropout=0.5");
    CHECK(!close(lstm(x).output.value(), lstm(x).output.value(), 1e-9));
    lstm.eval();
    CHECK(close(lstm(x).output.value(), lstm(x).output.value(), 0.0));
    // one layer: nothing between layers, so training mode changes nothing
    nn::GRU<double> single(3, 5, nn::RecurrentOptions().dropout(0.5));
    CHECK(close(single(x).output.value(), single(x).output.value(), 0.0));
    // with dropout 0 training and evaluation agree
    nn::RNN<double> none(3, 5, nn::RecurrentOptions().num_layers(3));
    const xt::xarray<double> y = none(x).output.value();
    none.eval();
    CHECK(close(none(x).output.value(), y, 0.0));
    check_error([&] { nn::LSTM<double>(3, 5, nn::RecurrentOptions().dropout(1.5)); },
                "LSTM: dropout must be in [0, 1], got 1.5");
}

TEST_CASE("recurrent layers: errors name the layer, the shape got and the shape expected") {
    nn::LSTM<double> lstm(3, 2, nn::RecurrentOptions().num_layers(2));
    check_error(
        [&] {
            lstm(tg::zeros<double>({4, 2, 5}));
        },
        "LSTM(3, 2, num_layers=2): expected input (L,N,3) with L >= 1, got (4,2,5)");
    check_error([&] { lstm(tg::zeros<double>({4, 3})); }, "got (4,3)");
    check_error(
        [&] {
            lstm(tg::zeros<double>({4, 2, 3}), {tg::zeros<double>({1, 2, 2}), {}});
        },
        "LSTM(3, 2, num_layers=2): expected h0 of shape (2,2,2), got (1,2,2)");
    nn::GRU<double> gru(3, 2, nn::RecurrentOptions().batch_first(true));
    check_error([&] { gru(tg::zeros<double>({2, 0, 3})); }, "expected input (N,L,3) (batch_first) with L >= 1");
    nn::LSTMCell<double> cell(3, 2);
    check_error([&] { cell(tg::zeros<double>({2, 4})); }, "LSTMCell(3, 2): expected input (N,3), got (2,4)");
    check_error(
        [&] {
            cell(tg::zeros<double>({2, 3}), {{}, tg::zeros<double>({2, 3})});
        },
        "LSTMCell(3, 2): expected c of shape (2,2), got (2,3)");
    check_error([&] { nn::RNN<double>(3, 2, nn::RecurrentOptions().num_layers(0)); },
                "RNN: num_layers must be at least 1, got 0");
    check_error([&] { nn::GRUCell<double>(0, 2); },
                "GRUCell: input_size and hidden_size must be at least 1, got 0 and 2");
}
