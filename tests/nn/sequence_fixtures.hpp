// Fixtures shared by the sequence-layer tests (test_nn_sequence, test_nn_attention): reference outputs printed by
// tests/fixtures/rnn_reference.py, the fixture's weight patterns and inputs, and small helpers.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "helpers.hpp"

namespace tgtest::sequence_fixtures {

namespace nn = tapegrad::nn;

template <class M>
std::vector<V> with_params(const V& x, const M& layer) {
    std::vector<V> all{x};
    for (const auto& p : layer.parameters()) all.push_back(p);
    return all;
}

inline tg::Tensor<std::size_t> idx_of(xt::xarray<std::size_t> i) { return tg::Tensor<std::size_t>(std::move(i)); }

template <class M>
std::vector<std::string> names(const M& m) {
    std::vector<std::string> out;
    for (const auto& [n, v] : m.named_parameters()) out.push_back(n);
    return out;
}

// Printed by tests/fixtures/rnn_reference.py (PyTorch, float64; its output is tests/fixtures/rnn_reference.txt).
inline const std::vector<double> lstm_output = {
    -0.0962359543078881,  -0.23203391937767284, -0.11894431572341228, -0.30211293109779497,
    -0.11412062889795664, -0.3029323509359081,  -0.11400683564443423, -0.3524278061336349,
    -0.12067311012247717, -0.339113603774086,   -0.12357061690234099, -0.3672837027160609,
    -0.12673496478930937, -0.3556457149911032,  -0.13444258259793251, -0.37440671873876286};
inline const std::vector<double> lstm_h_n = {0.24080012167410753,  0.10573204593305882,  0.025233254105307443,
                                             0.1287960029686916,   -0.12673496478930937, -0.3556457149911032,
                                             -0.13444258259793251, -0.37440671873876286};
inline const std::vector<double> lstm_c_n = {0.530150734302442,   0.2969960954335406,  0.05725510120537744,
                                             0.5528097548627944,  -0.2957987930915666, -0.556271843947197,
                                             -0.3102542423033056, -0.60661217187344};
inline const std::vector<double> gru_output = {
    -0.3266957243258874,  -0.40965410499231303, -0.20366180712911192,  -0.4723270678023637,
    -0.13274989545393528, -0.5073346859728464,  -0.051561005752437605, -0.5536067522930604,
    0.011993018878621649, 0.041143501026841944, 0.030012684504561474,  -0.21690133420202312,
    0.045546037016070476, -0.36134171157603756, 0.04079693794831351,   -0.4512264136444543};
inline const std::vector<double> gru_h_n = {0.2679634115817498,  0.6360698429461243,    -0.008781758231270115,
                                            0.4582854404801579,  -0.051561005752437605, -0.5536067522930604,
                                            0.04079693794831351, -0.4512264136444543};
inline const std::vector<double> rnn_output = {
    0.8480468186869771, -0.28993046746135964, 0.2790320412243007, 0.05572774319684539,
    0.8099193101221507, 0.20010413353079065,  0.6557063721555533, -0.41735252075369594,
    0.6797503401429096, 0.3375890334520958,   0.8197069339308488, -0.4302614092028014,
    0.4815572918199101, 0.2636456495692351,   0.871649773198065,  -0.22949079695829588};
inline const std::vector<double> rnn_h_n = {0.4815572918199101, 0.2636456495692351, 0.871649773198065,
                                            -0.22949079695829588};
inline const std::vector<double> lstm_nobias_output = {
    -0.15305994129347703, 0.05563255518637152,  0.002007672323354553,  -0.023294235873422747,
    -0.1054892085774814,  -0.03176476077696451, -0.015463395506381988, 0.05044150782381888,
    0.03864062141510382,  -0.11474761024187312, -0.06523568652200948,  0.022090700781573765,
    0.056295137548079986, -0.14575982080475566, -0.13405960881452622,  -0.009587603632331345};
inline const std::vector<double> lstm_nobias_c_n = {-0.04227488636954288, 0.0812343807127889, -0.2673529302878798,
                                                    -0.024428481263021662};
inline const std::vector<double> lstm_cell_h = {-0.0399060384286398, 0.12226821764576505, 0.1952166768022661,
                                                0.10569764350708218};
inline const std::vector<double> lstm_cell_c = {-0.09846514028743773, 0.48504912101611014, 0.5038630065219667,
                                                0.26107561235999877};
inline const std::vector<double> gru_cell_h = {-0.008062432622694793, 0.5276968450360898, 0.4210377242361714,
                                               0.14217763929033897};
inline const std::vector<double> rnn_cell_h = {0.9074537564718266, -0.4533661524802135, 0.1539050170428717,
                                               0.20193145675731078};
inline const std::vector<double> mha_self_output = {
    -0.20057217381760467, -0.6373224142379483,  -0.3402092281685487, 0.4787325124780728,  0.5060780425312602,
    0.2394521558698467,   -0.22529243838196664, -0.2903611939750534, -0.5838331871887001, -0.770475543845984,
    -0.08171713691182259, 0.8541013503922579,   0.6871001701934674,  0.2391454669329801,  -0.4066019438038246,
    -0.45994755694891987, -0.6746913816447762,  -0.7073871362223493, 0.06825699901918691, 0.9315437086637168,
    0.6645011935242389,   0.23955758723734177,  -0.3836167966682465, -0.4388218280026607};
inline const std::vector<double> mha_self_weights = {1.0,
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
inline const std::vector<double> mha_cross_output = {
    0.272121139546896,    -0.09146734388488462, -0.30141814038454806, -0.030774015225629663, -0.04446375970346006,
    -0.28431015445222385, -0.16553338451662997, 0.2893973423411123,   0.3042497010455542,    -0.09907711933206005,
    -0.34067731520691424, -0.05995139559000334, 0.0665506597296272,   -0.1777492614241993,   -0.17669669416514588,
    0.17237605595865163,  0.20071648172478107,  -0.14173641181362717, -0.2771172753131272,   0.04226577352907633,
    0.2188254150885574,   -0.07048011045757245, -0.2284566784358728,  0.01660607391786305};
inline const std::vector<double> mha_cross_weights = {
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
inline V x_of(const tg::Shape& s) {
    return pattern(s, [](double i) { return std::sin(0.9 * i + 0.3); });
}
inline V h_of(const tg::Shape& s) {
    return pattern(s, [](double i) { return 0.5 * std::cos(0.8 * i); });
}
inline V c_of(const tg::Shape& s) {
    return pattern(s, [](double i) { return 0.3 * std::sin(0.6 * i + 1.0); });
}

inline bool matches(const V& v, const std::vector<double>& ref, const tg::Shape& shape) {
    if (v.shape() != shape || v.size() != ref.size()) return false;
    for (std::size_t i = 0; i < ref.size(); ++i)
        if (!(std::abs(v.value().data()[i] - ref[i]) <= 1e-12)) return false;
    return true;
}

}  // namespace tgtest::sequence_fixtures
