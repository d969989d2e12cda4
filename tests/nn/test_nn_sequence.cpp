// Sequence layers: Embedding, LayerNorm, RMSNorm (and the recurrent cells and layers): forward values,
// PyTorch's parameter names, gradcheck through the module, errors naming the layer.
#include <cmath>
#include <limits>

#include <xtensor/xview.hpp>

#include "helpers.hpp"

using namespace tgtest;
namespace nn = tapegrad::nn;

namespace {

template <class M>
std::vector<V> with_params(const V& x, const M& layer) {
    std::vector<V> all{x};
    for (const auto& p : layer.parameters()) all.push_back(p);
    return all;
}

tg::Tensor<std::size_t> idx_of(xt::xarray<std::size_t> i) { return tg::Tensor<std::size_t>(std::move(i)); }

template <class M>
std::vector<std::string> names(const M& m) {
    std::vector<std::string> out;
    for (const auto& [n, v] : m.named_parameters()) out.push_back(n);
    return out;
}

// Printed by tests/fixtures/rnn_reference.py (PyTorch, float64; its output is tests/fixtures/rnn_reference.txt).
const std::vector<double> lstm_output = {
    -0.0962359543078881,  -0.23203391937767284, -0.11894431572341228, -0.30211293109779497,
    -0.11412062889795664, -0.3029323509359081,  -0.11400683564443423, -0.3524278061336349,
    -0.12067311012247717, -0.339113603774086,   -0.12357061690234099, -0.3672837027160609,
    -0.12673496478930937, -0.3556457149911032,  -0.13444258259793251, -0.37440671873876286};
const std::vector<double> lstm_h_n = {0.24080012167410753,  0.10573204593305882,  0.025233254105307443,
                                      0.1287960029686916,   -0.12673496478930937, -0.3556457149911032,
                                      -0.13444258259793251, -0.37440671873876286};
const std::vector<double> lstm_c_n = {0.530150734302442,   0.2969960954335406, 0.05725510120537744, 0.5528097548627944,
                                      -0.2957987930915666, -0.556271843947197, -0.3102542423033056, -0.60661217187344};
const std::vector<double> gru_output = {
    -0.3266957243258874,  -0.40965410499231303, -0.20366180712911192,  -0.4723270678023637,
    -0.13274989545393528, -0.5073346859728464,  -0.051561005752437605, -0.5536067522930604,
    0.011993018878621649, 0.041143501026841944, 0.030012684504561474,  -0.21690133420202312,
    0.045546037016070476, -0.36134171157603756, 0.04079693794831351,   -0.4512264136444543};
const std::vector<double> gru_h_n = {0.2679634115817498,  0.6360698429461243,    -0.008781758231270115,
                                     0.4582854404801579,  -0.051561005752437605, -0.5536067522930604,
                                     0.04079693794831351, -0.4512264136444543};
const std::vector<double> rnn_output = {
    0.8480468186869771, -0.28993046746135964, 0.2790320412243007, 0.05572774319684539,
    0.8099193101221507, 0.20010413353079065,  0.6557063721555533, -0.41735252075369594,
    0.6797503401429096, 0.3375890334520958,   0.8197069339308488, -0.4302614092028014,
    0.4815572918199101, 0.2636456495692351,   0.871649773198065,  -0.22949079695829588};
const std::vector<double> rnn_h_n = {0.4815572918199101, 0.2636456495692351, 0.871649773198065, -0.22949079695829588};
const std::vector<double> lstm_nobias_output = {
    -0.15305994129347703, 0.05563255518637152,  0.002007672323354553,  -0.023294235873422747,
    -0.1054892085774814,  -0.03176476077696451, -0.015463395506381988, 0.05044150782381888,
    0.03864062141510382,  -0.11474761024187312, -0.06523568652200948,  0.022090700781573765,
    0.056295137548079986, -0.14575982080475566, -0.13405960881452622,  -0.009587603632331345};
const std::vector<double> lstm_nobias_c_n = {-0.04227488636954288, 0.0812343807127889, -0.2673529302878798,
                                             -0.024428481263021662};
const std::vector<double> lstm_cell_h = {-0.0399060384286398, 0.12226821764576505, 0.1952166768022661,
                                         0.10569764350708218};
const std::vector<double> lstm_cell_c = {-0.09846514028743773, 0.48504912101611014, 0.5038630065219667,
                                         0.26107561235999877};
const std::vector<double> gru_cell_h = {-0.008062432622694793, 0.5276968450360898, 0.4210377242361714,
                                        0.14217763929033897};
const std::vector<double> rnn_cell_h = {0.9074537564718266, -0.4533661524802135, 0.1539050170428717,
                                        0.20193145675731078};
const std::vector<double> mha_self_output = {
    -0.20057217381760467, -0.6373224142379483,  -0.3402092281685487, 0.4787325124780728,  0.5060780425312602,
    0.2394521558698467,   -0.22529243838196664, -0.2903611939750534, -0.5838331871887001, -0.770475543845984,
    -0.08171713691182259, 0.8541013503922579,   0.6871001701934674,  0.2391454669329801,  -0.4066019438038246,
    -0.45994755694891987, -0.6746913816447762,  -0.7073871362223493, 0.06825699901918691, 0.9315437086637168,
    0.6645011935242389,   0.23955758723734177,  -0.3836167966682465, -0.4388218280026607};
const std::vector<double> mha_self_weights = {1.0,
                                              0.0,
                                              0.0,
                                              0.38491316104759044,
                                              0.6150868389524096,
                                              0.0,
                                              0.2599700772571092,
                                              0.31597059196546307,
                                              0.42405933077742786,
                                              1.0,
                                              0.0,
                                              0.0,
                                              0.4982115722271728,
                                              0.5017884277728273,
                                              0.0,
                                              0.5623198769481745,
                                              0.43768012305182535,
                                              0.0};
const std::vector<double> mha_cross_output = {
    0.272121139546896,    -0.09146734388488462, -0.30141814038454806, -0.030774015225629663, -0.04446375970346006,
    -0.28431015445222385, -0.16553338451662997, 0.2893973423411123,   0.3042497010455542,    -0.09907711933206005,
    -0.34067731520691424, -0.05995139559000334, 0.0665506597296272,   -0.1777492614241993,   -0.17669669416514588,
    0.17237605595865163,  0.20071648172478107,  -0.14173641181362717, -0.2771172753131272,   0.04226577352907633,
    0.2188254150885574,   -0.07048011045757245, -0.2284566784358728,  0.01660607391786305};
const std::vector<double> mha_cross_weights = {
    0.3363301543598194,  0.10715521606009212, 0.23954214418416847, 0.1778158889512655,  0.13915659644465442,
    0.18705762891477823, 0.22740247029220562, 0.17335347856450223, 0.231924563937936,   0.18026185829057803,
    0.3010887285993011,  0.10441615169172948, 0.27401265487034615, 0.14301230888070776, 0.17747015595791565,
    0.2709749824971189,  0.14982360897496833, 0.2194624475371501,  0.20112598599331905, 0.1586129749974437,
    0.18500412390083826, 0.1682321118351796,  0.24288458457728232, 0.1402236983289989,  0.2636554813577009,
    0.3032872982048943,  0.10615803293179032, 0.2752276584426554,  0.13994024433834246, 0.1753867660823175};

/// The fixture's patterns: parameter k, element i: 0.4 sin(1.3 i + 0.7 k + 0.1).
template <class M>
void set_pattern_weights(M& m) {
    std::size_t k = 0;
    for (auto& [name, p] : m.named_parameters()) {
        auto& v = tg::Variable<double>(p).mutable_value();
        for (std::size_t i = 0; i < v.size(); ++i)
            v.data()[i] = 0.4 * std::sin(1.3 * double(i) + 0.7 * double(k) + 0.1);
        ++k;
    }
}
template <class F>
V pattern(const tg::Shape& shape, F f, bool requires_grad = false) {
    tg::Tensor<double> t = tg::Tensor<double>::from_shape(shape);
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = f(double(i));
    return V(std::move(t), requires_grad);
}
V x_of(const tg::Shape& s) {
    return pattern(s, [](double i) { return std::sin(0.9 * i + 0.3); });
}
V h_of(const tg::Shape& s) {
    return pattern(s, [](double i) { return 0.5 * std::cos(0.8 * i); });
}
V c_of(const tg::Shape& s) {
    return pattern(s, [](double i) { return 0.3 * std::sin(0.6 * i + 1.0); });
}

bool matches(const V& v, const std::vector<double>& ref, const tg::Shape& shape) {
    if (v.shape() != shape || v.size() != ref.size()) return false;
    for (std::size_t i = 0; i < ref.size(); ++i)
        if (!(std::abs(v.value().data()[i] - ref[i]) <= 1e-12)) return false;
    return true;
}

}  // namespace

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
