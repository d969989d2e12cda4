// Models end to end: a CNN, an optimizer, training steps and checkpoints leave no node behind; misuse is refused whole.
#include <memory>

#include <tapegrad/nn/activation.hpp>
#include <tapegrad/nn/conv.hpp>
#include <tapegrad/nn/dropout.hpp>
#include <tapegrad/nn/flatten.hpp>
#include <tapegrad/nn/linear.hpp>
#include <tapegrad/nn/loss.hpp>
#include <tapegrad/nn/normalization.hpp>
#include <tapegrad/nn/pooling.hpp>
#include <tapegrad/nn/sequential.hpp>
#include <tapegrad/nn/serialize.hpp>
#include <tapegrad/optim/adam.hpp>
#include <tapegrad/optim/lbfgs.hpp>
#include <tapegrad/optim/serialize.hpp>
#include <tapegrad/optim/sgd.hpp>

#include "helpers.hpp"
#include "test_data_helpers.hpp"

using namespace tgtest;
namespace nn = tapegrad::nn;
namespace optim = tapegrad::optim;

namespace {

/// A small CNN with every kind of state: conv and linear weights, batch-norm buffers, dropout.
nn::Sequential<double> small_cnn(std::size_t hidden) {
    return nn::Sequential<double>{nn::Conv2d<double>(1, 2, 3),
                                  nn::BatchNorm2d<double>(2),
                                  nn::ReLU{},
                                  nn::MaxPool2d(2),
                                  nn::Flatten{},
                                  nn::Dropout<double>(0.25, 7),
                                  nn::Linear<double>(8, hidden),
                                  nn::Tanh{},
                                  nn::Linear<double>(hidden, 3)};
}

V images(std::uint64_t seed) {
    tg::Generator gen(seed);
    tg::Tensor<double> t = tg::Tensor<double>::from_shape({4, 1, 6, 6});
    for (auto& v : t) v = gen.normal();
    return tg::constant(t);
}

}  // namespace

TEST_CASE("a model, an optimizer, training steps and checkpoints free every node once out of scope") {
    data_test::TempDir dir;
    const long before = tg::live_node_count();
    tg::WeakNodeRef<tg::Node<double>> a_parameter, a_loss;
    double first_loss = 0, last_loss = 0;
    {
        auto model = small_cnn(5);
        a_parameter = model.parameters()[0].node_ptr();
        optim::Adam<double> adam(model.parameters(), optim::AdamOptions(0.02));
        const tg::Indices labels{0, 1, 2, 1};
        for (int step = 0; step < 20; ++step) {
            adam.zero_grad();
            const V loss = tg::cross_entropy(model(images(1)), labels);
            if (step == 0) first_loss = loss.item(), a_loss = loss.node_ptr();
            last_loss = loss.item();
            loss.backward();
            adam.step();
        }
        CHECK(a_loss.expired());  // the graph of a finished step is gone already
        // LBFGS steps through a closure that captures the model, the data and the labels
        model.eval();
        optim::LBFGS<double> lbfgs(model.parameters(), optim::LBFGSOptions(0.5).max_iter(5));
        const V x = images(1);
        const optim::Closure closure = [&model, x, labels, &lbfgs] {
            lbfgs.zero_grad();
            const V loss = tg::cross_entropy(model(x), labels);
            loss.backward();
            return loss.item();
        };
        for (int step = 0; step < 3; ++step) last_loss = lbfgs.step(closure);
        // checkpoints of both, reloaded into fresh copies
        nn::save(model, dir / "cnn.npz");
        optim::save(adam, dir / "adam.npz");
        auto copy = small_cnn(5);
        nn::load(copy, dir / "cnn.npz");
        optim::Adam<double> adam_copy(copy.parameters(), optim::AdamOptions(0.02));
        optim::load(adam_copy, dir / "adam.npz");
        copy.eval();
        CHECK(close(copy(images(2)).value(), model(images(2)).value()));
    }
    CHECK(last_loss < first_loss);
    CHECK(a_parameter.expired());
    CHECK(tg::live_node_count() == before);
}

TEST_CASE("an optimizer given a non-leaf, or a parameter that does not require grad") {
    auto model = small_cnn(5);
    const V w = model.parameters()[0];
    const V scaled = w * 2.0;
    CHECK_THROWS_WITH_AS(optim::SGD<double>({w, scaled}, optim::SGDOptions(0.1)),
                         "SGD: parameter 1 of shape (2,1,3,3) is the output of 'mul_scalar', not a leaf; optimizers "
                         "update leaves (parameter(), or detach() and set_requires_grad(true))",
                         tg::Error);
    CHECK_THROWS_WITH_AS(optim::Adam<double>({model.buffers()[0]}),
                         "Adam: parameter 0 of shape (2,) does not require grad (make it with parameter() or call "
                         "set_requires_grad(true))",
                         tg::Error);
}

TEST_CASE("loading a checkpoint into a model of another shape names the tensor and changes nothing") {
    data_test::TempDir dir;
    const std::string path = dir / "cnn.npz";
    auto trained = small_cnn(5);
    nn::save(trained, path);
    auto other = small_cnn(4);  // hidden layer 4 wide instead of 5
    const auto state_before = other.state();
    std::vector<tg::Tensor<double>> values_before;
    for (const auto& [name, v] : state_before) values_before.push_back(v.value());
    CHECK_THROWS_WITH_AS(nn::load(other, path),
                         ("load('" + path + "'): '6.weight' has shape (5,8), but parameter 'weight' of layer 6, " +
                          "Linear(in_features=8, out_features=4, bias=true), expects (4,8)")
                             .c_str(),
                         tg::Error);
    // nothing was loaded, not even the tensors before the one that did not fit
    const auto state_after = other.state();
    REQUIRE(state_after.size() == values_before.size());
    for (std::size_t i = 0; i < values_before.size(); ++i) {
        CAPTURE(state_after[i].first);
        CHECK(state_after[i].second.value() == values_before[i]);
    }
    // and a model with fewer layers: the first name it lacks is reported
    nn::Sequential<double> shorter{nn::Conv2d<double>(1, 2, 3)};
    CHECK_THROWS_WITH_AS(
        nn::load(shorter, path),
        ("load('" + path + "'): unexpected '1.weight' (shape (2,)): Sequential() has no layer '1'").c_str(), tg::Error);
}
