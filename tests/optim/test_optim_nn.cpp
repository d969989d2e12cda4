// optim with nn: an nn model trained by optimizers, resumed from nn and optim checkpoint files.
#include "test_optim_common.hpp"

#include <cstring>
#include <filesystem>

#include <stdlib.h>

using namespace tgtest;
namespace nn = tapegrad::nn;

namespace {

/// The test-score data and a 2-3-1 sigmoid network with biases, weights from `seed`.
struct Model {
    V X, Y;
    nn::Sequential<double> net;
    explicit Model(std::uint64_t seed) : net(make(seed)) {
        xt::xarray<double> x = {{3, 5}, {5, 1}, {10, 2}};
        xt::xarray<double> y = {75., 82., 93.};
        y.reshape({3, 1});
        X = tg::constant(xt::xarray<double>(x / xt::amax(x, {0})));
        Y = tg::constant(xt::xarray<double>(y / 100.0));
    }
    static nn::Sequential<double> make(std::uint64_t seed) {
        tg::Generator gen(seed);
        return nn::Sequential<double>{nn::Linear<double>(2, 3, true, gen), nn::Sigmoid{},
                                      nn::Linear<double>(3, 1, true, gen), nn::Sigmoid{}};
    }
    V loss() { return nn::mse_loss(net(X), Y); }
};

bool bit_equal(const tg::Tensor<double>& a, const tg::Tensor<double>& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

TEST_CASE("an nn model trains with Adam and with BFGS on its parameters()") {
    Model a(1), b(1);
    opt::Adam<double> adam(a.net.parameters(), opt::AdamOptions(0.1));
    const double before = a.loss().item();
    for (int t = 0; t < 200; ++t) {
        adam.zero_grad();
        a.loss().backward();
        adam.step();
    }
    CHECK(a.loss().item() < before / 10);
    opt::BFGS<double> bfgs(b.net.parameters(), opt::BFGSOptions().max_iter(100).max_eval(200));
    bfgs.step([&] {
        bfgs.zero_grad();
        V l = b.loss();
        l.backward();
        return l.item();
    });
    CHECK(b.loss().item() < 1e-6);
}

TEST_CASE("resume from files: nn::save + optim::save after 5 steps, then 5 more, equals 10 steps") {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tapegrad-optim-nn-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    const std::filesystem::path dir = tmpl;
    auto train = [](Model& m, opt::Optimizer<double>& o, int steps) {
        for (int t = 0; t < steps; ++t) {
            o.zero_grad();
            m.loss().backward();
            o.step();
        }
    };
    Model straight(2), first(2), resumed(3);
    opt::SGD<double> sgd_straight(straight.net.parameters(), opt::SGDOptions(0.5).momentum(0.9));
    train(straight, sgd_straight, 10);

    opt::SGD<double> sgd_first(first.net.parameters(), opt::SGDOptions(0.5).momentum(0.9));
    train(first, sgd_first, 5);
    nn::save(first.net, (dir / "model.npz").string());
    opt::save(sgd_first, (dir / "optimizer.npz").string());

    nn::load(resumed.net, (dir / "model.npz").string());
    opt::SGD<double> sgd_resumed(resumed.net.parameters(), opt::SGDOptions(0.5).momentum(0.9));
    opt::load(sgd_resumed, (dir / "optimizer.npz").string());
    train(resumed, sgd_resumed, 5);

    const auto p = straight.net.parameters(), q = resumed.net.parameters();
    REQUIRE(p.size() == q.size());
    for (std::size_t i = 0; i < p.size(); ++i) CHECK(bit_equal(p[i].value(), q[i].value()));
    std::filesystem::remove_all(dir);
}
