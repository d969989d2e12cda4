// Tests of nn::summary: the exact table for an MLP and a CNN, nested Sequentials, frozen parameters, the model's
// state left as it was, and bad input shapes named by layer.
#include <sstream>

#include <tapegrad/nn/summary.hpp>

#include "helpers.hpp"

using namespace tgtest;
namespace nn = tapegrad::nn;

namespace {

/// A user module: not a Sequential, so it is one row.
struct Net : nn::Module<double> {
    std::shared_ptr<nn::Linear<double>> fc = register_module("fc", nn::Linear<double>(3, 2));
    std::string name() const override { return "Net"; }
    tg::Variable<double> forward(const tg::Variable<double>& x) override { return tg::relu((*fc)(x)); }
};

}  // namespace

TEST_CASE("summary of an MLP: every layer, its output shape, its parameters and the totals") {
    nn::Sequential<float> net{nn::Linear<float>(4, 8), nn::ReLU{}, nn::Linear<float>(8, 3)};
    std::ostringstream os;
    os << nn::summary(net, {2, 4});
    CHECK(os.str() ==
          "Layer (type)                                           Output shape  Param #\n"
          "============================================================================\n"
          "Sequential()                                           (2,3)              --\n"
          "  0: Linear(in_features=4, out_features=8, bias=true)  (2,8)              40\n"
          "  1: ReLU()                                            (2,8)               0\n"
          "  2: Linear(in_features=8, out_features=3, bias=true)  (2,3)              27\n"
          "============================================================================\n"
          "Total params: 67\n"
          "Trainable params: 67\n"
          "Non-trainable params: 0\n"
          "Input shape: (2,4)\n");
}

TEST_CASE("summary of a CNN") {
    nn::Sequential<double> net{nn::Conv2d<double>(1, 4, 3), nn::MaxPool2d(2), nn::Flatten{},
                               nn::Linear<double>(4 * 3 * 3, 10)};
    const nn::ModelSummary s = nn::summary(net, {5, 1, 8, 8});
    CHECK(s.to_string() ==
          "Layer (type)                                             Output shape  Param #\n"
          "==============================================================================\n"
          "Sequential()                                             (5,10)             --\n"
          "  0: Conv2d(1, 4, kernel_size=3, stride=1, bias=true)    (5,4,6,6)          40\n"
          "  1: MaxPool2d(kernel_size=2, stride=2)                  (5,4,3,3)           0\n"
          "  2: Flatten(start_axis=1, end_axis=-1)                  (5,36)              0\n"
          "  3: Linear(in_features=36, out_features=10, bias=true)  (5,10)            370\n"
          "==============================================================================\n"
          "Total params: 410\n"
          "Trainable params: 410\n"
          "Non-trainable params: 0\n"
          "Input shape: (5,1,8,8)");
    REQUIRE(s.rows.size() == 5);
    CHECK(s.rows[4].path == "3");
    CHECK(s.rows[4].output_shape == tg::Shape{5, 10});
    CHECK(s.total_parameters == net.num_parameters());
}

TEST_CASE("summary: nested Sequentials are listed layer by layer, a user module is one row, frozen ones counted") {
    auto net = std::make_shared<Net>();
    nn::Sequential<double> outer{nn::Sequential<double>{nn::Linear<double>(1000, 3), nn::Tanh{}}, net};
    const auto inner = std::dynamic_pointer_cast<nn::Sequential<double>>(outer[0]);
    (*inner)[0]->parameters()[1].set_requires_grad(false);  // the bias (3) is frozen
    const nn::ModelSummary s = nn::summary(outer, {1, 1000});
    CHECK(s.to_string() ==
          "Layer (type)                                                  Output shape  Param #\n"
          "===================================================================================\n"
          "Sequential()                                                  (1,2)              --\n"
          "  0: Sequential()                                             (1,3)              --\n"
          "    0.0: Linear(in_features=1000, out_features=3, bias=true)  (1,3)           3,003\n"
          "    0.1: Tanh()                                               (1,3)               0\n"
          "  1: Net()                                                    (1,2)               8\n"
          "===================================================================================\n"
          "Total params: 3,011\n"
          "Trainable params: 3,008\n"
          "Non-trainable params: 3\n"
          "Input shape: (1,1000)");
    // A module that is not a Sequential alone: one row.
    CHECK(nn::summary(*net, {4, 3}).rows.size() == 1);
    CHECK(nn::summary(*net, {4, 3}).rows[0].output_shape == tg::Shape{4, 2});
}

TEST_CASE("summary leaves the model as it was: no running statistic, counter, mode or tape changes") {
    nn::Sequential<double> net{nn::Linear<double>(3, 4), nn::BatchNorm1d<double>(4), nn::Dropout<double>(0.5)};
    net[2]->eval();  // mixed modes: the summary must give each module its own flag back
    auto bn = std::dynamic_pointer_cast<nn::BatchNorm1d<double>>(net[1]);
    const xt::xarray<double> var_before = bn->running_var().value();
    tg::manual_seed(7);
    const double next_draw_before = tg::default_generator().uniform();
    tg::manual_seed(7);
    nn::summary(net, {6, 3});
    CHECK(tg::default_generator().uniform() == next_draw_before);
    CHECK(bn->num_batches_tracked() == 0);
    CHECK(bn->running_var().value() == var_before);
    CHECK(net.is_training());
    CHECK(net[0]->is_training());
    CHECK(net[1]->is_training());
    CHECK(!net[2]->is_training());
    for (const auto& p : net.parameters()) CHECK(!p.has_grad());
}

TEST_CASE("summary: a bad input shape is an Error naming the layer, and the modes are restored") {
    nn::Sequential<double> net{nn::Conv2d<double>(1, 4, 3), nn::MaxPool2d(2), nn::Flatten{},
                               nn::Linear<double>(4 * 3 * 3, 10)};
    check_error(
        [&] {
            nn::summary(net, {5, 1, 10, 10});
        },
        "summary: layer 3 (Linear(in_features=36, out_features=10, bias=true)) does not take an input of "
        "shape (5,64): ");
    check_error([&] { nn::summary(net, {5, 2, 8, 8}); }, "summary: layer 0 (Conv2d(1, 4, kernel_size=3, stride=1");
    CHECK(net.is_training());
    CHECK(net[3]->is_training());
    Net user;
    check_error([&] { nn::summary(user, {4, 5}); }, "summary: Net() does not take an input of shape (4,5): ");
}
