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

template <class M>
std::vector<std::string> names(const M& m) {
    std::vector<std::string> out;
    for (const auto& [n, v] : m.named_parameters()) out.push_back(n);
    return out;
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
    CHECK(close(emb(tg::Indices{2}).value(), xt::xarray<double>(xt::view(emb.weight().value(), xt::range(2, 3), xt::all()))));
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
    check_error([&] { ln(tg::constant(xt::xarray<double>{1.0, 2.0})); }, "LayerNorm((3,)): expected input (...,3), got (2,)");
    check_error([&] { nn::LayerNorm<double>(tg::Shape{}); }, "LayerNorm: normalized_shape must be non-empty");
}

TEST_CASE("RMSNorm: x / sqrt(mean(x^2) + eps) * weight, PyTorch's default eps") {
    nn::RMSNorm<double> rms(3);
    CHECK(names(rms) == std::vector<std::string>{"weight"});
    CHECK(rms.eps() == std::numeric_limits<double>::epsilon());
    CHECK(nn::RMSNorm<float>(3).eps() == double(std::numeric_limits<float>::epsilon()));
    const V x = tg::constant(xt::xarray<double>{{1.0, 2.0, 2.0}, {0.0, 0.0, 0.0}});
    const double r = std::sqrt(3.0 + rms.eps());  // mean of squares (1 + 4 + 4) / 3 = 3
    CHECK(close(rms(x).value(), {{1 / r, 2 / r, 2 / r}, {0, 0, 0}}));  // zeros stay zeros
    nn::RMSNorm<double> rms2(tg::Shape{3}, 0.5);
    tg::Variable<double>(rms2.weight()).mutable_value() = xt::xarray<double>{2.0, 1.0, 1.0};
    CHECK(rms2(x).value()(0, 0) == doctest::Approx(2.0 / std::sqrt(3.5)));
    const V a = input({2, 2, 3}, 2);
    check_gradients([&] { return tg::sum(rms2(a) * a); }, with_params(a, rms2));
    check_error([&] { rms(tg::constant(xt::xarray<double>{{1.0, 2.0}})); }, "RMSNorm((3,)): expected input (...,3), got (1,2)");
}
