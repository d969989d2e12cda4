// Tests of Module and Sequential: registration, names and order, train/eval, zero_grad, copies, printout, errors.
#include <sstream>

#include "helpers.hpp"

using namespace tgtest;
namespace nn = tapegrad::nn;

namespace {

std::vector<std::string> names_of(const nn::NamedVariables<double>& named) {
    std::vector<std::string> out;
    for (const auto& [n, v] : named) out.push_back(n);
    return out;
}

/// A user module: children by shared_ptr, an own parameter and an own buffer.
struct Net : nn::Module<double> {
    std::shared_ptr<nn::Conv2d<double>> conv1 = register_module("conv1", nn::Conv2d<double>(1, 2, 3));
    std::shared_ptr<nn::BatchNorm2d<double>> bn = register_module("bn", nn::BatchNorm2d<double>(2));
    std::shared_ptr<nn::Linear<double>> fc = register_module("fc", std::make_shared<nn::Linear<double>>(8, 3, false));
    tg::Variable<double> scale = register_parameter("scale", tg::ones<double>({3}));
    tg::Variable<double> steps = register_buffer("steps", tg::zeros<double>({1}));

    tg::Variable<double> forward(const tg::Variable<double>& x) override {
        auto h = nn::MaxPool2d(2)(tg::relu((*bn)((*conv1)(x))));
        return (*fc)(nn::Flatten{}(h)) * scale;
    }
};

struct NoForward : nn::Module<double> {};

}  // namespace

TEST_CASE("Sequential from a brace list: the user code of DESIGN.md") {
    tg::manual_seed(0);
    // (DESIGN.md writes y = {{75}, {82}, {93}}, which xtensor 0.24 finds ambiguous.)
    xt::xarray<double> x = {{3, 5}, {5, 1}, {10, 2}}, y = {75, 82, 93};
    y.reshape({3, 1});
    auto X = tg::constant(x / xt::amax(x, {0})), Y = tg::constant(y / 100.0);
    nn::Sequential<double> net{nn::Linear<double>(2, 3), nn::Sigmoid{}, nn::Linear<double>(3, 1), nn::Sigmoid{}};
    auto loss = nn::mse_loss(net(X), Y);
    loss.backward();
    for (const auto& p : net.parameters()) CHECK(p.has_grad());
    auto report = tg::gradcheck<double>([&] { return nn::mse_loss(net(X), Y); }, net.parameters());
    INFO(report.summary());
    CHECK(report.passed);
    CHECK(names_of(net.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
    CHECK(net.num_parameters() == 13);
    CHECK(net.size() == 4);
    CHECK(std::dynamic_pointer_cast<nn::Linear<double>>(net[2])->in_features() == 3);
    check_error([&] { net[4]; }, "Sequential: index 4 is out of range for 4 layers");
}

TEST_CASE("Sequential accepts modules by value and by shared_ptr, callables and lambdas") {
    auto shared = std::make_shared<nn::Linear<double>>(4, 4);
    nn::Sequential<double> net{shared, nn::ReLU{}, [](const tg::Variable<double>& v) { return v * 2.0; }};
    net.push_back(nn::Linear<double>(4, 2, false)).push_back(nn::LogSoftmax{});
    CHECK(net.size() == 5);
    CHECK(net.parameters()[0].node() == shared->weight().node());  // the shared_ptr is held, not copied
    auto x = input({3, 4}, 1);
    auto y = net(x);
    CHECK(y.shape() == tg::Shape{3, 2});
    // by-value copies share their parameters with the original
    nn::Linear<double> lin(2, 2);
    nn::Sequential<double> holder{lin};
    CHECK(holder.parameters()[0].node() == lin.weight().node());
    // nesting
    nn::Sequential<double> outer{nn::Sequential<double>{nn::Linear<double>(2, 2)}, nn::Tanh{},
                                 nn::Linear<double>(2, 1)};
    CHECK(names_of(outer.named_parameters()) ==
          std::vector<std::string>{"0.0.weight", "0.0.bias", "2.weight", "2.bias"});
}

TEST_CASE("a user module: names in registration order, state, buffers, train/eval, zero_grad") {
    Net net;
    CHECK(names_of(net.named_parameters()) ==
          std::vector<std::string>{"scale", "conv1.weight", "conv1.bias", "bn.weight", "bn.bias", "fc.weight"});
    CHECK(names_of(net.named_buffers()) == std::vector<std::string>{"steps", "bn.running_mean", "bn.running_var"});
    CHECK(names_of(net.state()) == std::vector<std::string>{"scale", "steps", "conv1.weight", "conv1.bias", "bn.weight",
                                                            "bn.bias", "bn.running_mean", "bn.running_var",
                                                            "fc.weight"});
    for (const auto& p : net.parameters()) CHECK(p.requires_grad());
    for (const auto& b : net.buffers()) CHECK(!b.requires_grad());
    CHECK(net.named_children().size() == 3);

    auto x = input({2, 1, 6, 6}, 2);
    tg::sum(net(x)).backward();
    for (const auto& p : net.parameters()) CHECK(p.has_grad());
    net.zero_grad();
    for (const auto& p : net.parameters()) CHECK(!p.has_grad());

    CHECK(net.is_training());
    CHECK(net.bn->is_training());
    net.eval();
    CHECK(!net.is_training());
    CHECK(!net.bn->is_training());
    net.train();
    CHECK(net.bn->is_training());

    // copies share parameters, buffers and children
    Net copy = net;
    CHECK(copy.parameters()[1].node() == net.parameters()[1].node());
    CHECK(copy.fc.get() == net.fc.get());
}

TEST_CASE("load_state copies values and names what is missing, extra or mismatched") {
    tg::manual_seed(1);
    nn::Sequential<double> a{nn::Linear<double>(3, 2), nn::BatchNorm1d<double>(2)};
    tg::manual_seed(2);
    nn::Sequential<double> b{nn::Linear<double>(3, 2), nn::BatchNorm1d<double>(2)};
    CHECK(!close(a.parameters()[0].value(), b.parameters()[0].value()));
    b.load_state(a.state());
    for (std::size_t i = 0; i < a.state().size(); ++i) {
        CHECK(close(a.state()[i].second.value(), b.state()[i].second.value(), 0));
        CHECK(a.state()[i].second.node() != b.state()[i].second.node());  // values copied, not shared
    }
    auto state = a.state();
    state.pop_back();
    check_error([&] { b.load_state(state); },
                "load_state: '1.running_var' (shape (2,)) is missing: buffer 'running_var' of layer 1, "
                "BatchNorm1d(2, eps=1e-05, momentum=0.1, affine=true)");
    state = a.state();
    state.emplace_back("2.weight", tg::zeros<double>({1}));
    check_error([&] { b.load_state(state); },
                "load_state: unexpected '2.weight' (shape (1,)): Sequential() has no layer '2'");
    state = a.state();
    state[0].second = tg::zeros<double>({2, 2});
    check_error([&] { b.load_state(state); },
                "load_state: '0.weight' has shape (2,2), but parameter 'weight' of layer 0, "
                "Linear(in_features=3, out_features=2, bias=true), expects (2,3)");
    state = a.state();
    state.push_back(state[0]);
    check_error([&] { b.load_state(state); }, "load_state: '0.weight' is given twice");
}

TEST_CASE("load_state errors name the layer and the parameter or buffer, at any depth") {
    Net a, b;
    auto state = a.state();
    for (auto& [n, v] : state)
        if (n == "fc.weight") v = tg::zeros<double>({3, 7});
    check_error([&] { b.load_state(state); },
                "load_state: 'fc.weight' has shape (3,7), but parameter 'weight' of layer fc, "
                "Linear(in_features=8, out_features=3, bias=false), expects (3,8)");
    state = a.state();
    state.erase(state.begin() + 4);  // scale, steps, conv1.weight, conv1.bias, bn.weight, ...
    check_error([&] { b.load_state(state); },
                "load_state: 'bn.weight' (shape (2,)) is missing: parameter 'weight' of "
                "layer bn, BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=true)");
    state = a.state();
    state.emplace_back("bn.running_max", tg::zeros<double>({2}));
    check_error([&] { b.load_state(state); },
                "load_state: unexpected 'bn.running_max' (shape (2,)): layer bn, "
                "BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=true), has no "
                "parameter or buffer 'running_max'");
    state = a.state();
    state[0].second = tg::zeros<double>({4});  // the module's own parameter: no layer to name
    check_error([&] { b.load_state(state); },
                "load_state: 'scale' has shape (4,), but parameter 'scale' of Net() "
                "expects (3,)");

    // Nested Sequentials: the dotted path of the layer.
    nn::Sequential<double> outer{nn::Linear<double>(2, 2),
                                 nn::Sequential<double>{nn::Sigmoid{}, nn::Linear<double>(2, 4)}};
    nn::Sequential<double> other{nn::Linear<double>(2, 2),
                                 nn::Sequential<double>{nn::Sigmoid{}, nn::Linear<double>(2, 5)}};
    check_error([&] { other.load_state(outer.state()); },
                "load_state: '1.1.weight' has shape (4,2), but parameter 'weight' of layer 1.1, "
                "Linear(in_features=2, out_features=5, bias=true), expects (5,2)");
}

TEST_CASE("printout with parameter counts") {
    nn::Sequential<double> net{nn::Linear<double>(2, 3), nn::Sigmoid{}, nn::Linear<double>(3, 1, false),
                               nn::LeakyReLU{0.2}};
    const std::string expected =
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=true)  # 9 parameters\n"
        "  (1): Sigmoid()\n"
        "  (2): Linear(in_features=3, out_features=1, bias=false)  # 3 parameters\n"
        "  (3): LeakyReLU(negative_slope=0.2)\n"
        ")  # 12 parameters";
    CHECK(net.to_string() == expected);
    std::ostringstream os;
    os << net;
    CHECK(os.str() == expected + "\n");  // a printed module ends its line, as std::cout << net expects

    Net user;
    const std::string s = user.to_string();
    CHECK(s.rfind("Net(\n", 0) == 0);
    CHECK(s.find("  (conv1): Conv2d(1, 2, kernel_size=3, stride=1, bias=true)  # 20 parameters\n") !=
          std::string::npos);
    CHECK(s.find("  (bn): BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=true)  # 4 parameters\n") !=
          std::string::npos);
    nn::Sequential<float> cnn{nn::Conv2d<float>(1, 8, 5, tg::Conv2dOptions().padding(2).stride(2)),
                              nn::MaxPool2d(2),
                              nn::AvgPool2d(tg::Pool2dOptions(3).stride(1).padding(1)),
                              nn::LPPool2d(2),
                              nn::Flatten{},
                              nn::Dropout<float>(0.25),
                              nn::ELU{},
                              nn::Softplus{},
                              nn::GELU{},
                              nn::Softmax{1},
                              nn::Tanh{},
                              nn::ReLU{},
                              nn::LogSoftmax{}};
    const std::string c = cnn.to_string();
    for (const char* line :
         {"(0): Conv2d(1, 8, kernel_size=5, stride=2, padding=2, bias=true)  # 208 parameters",
          "(1): MaxPool2d(kernel_size=2, stride=2)", "(2): AvgPool2d(kernel_size=3, stride=1, padding=1)",
          "(3): LPPool2d(p=2, kernel_size=2, stride=2)", "(4): Flatten(start_axis=1, end_axis=-1)",
          "(5): Dropout(p=0.25)", "(6): ELU(alpha=1)", "(7): Softplus(beta=1)", "(8): GELU()", "(9): Softmax(axis=1)",
          "(10): Tanh()", "(11): ReLU()", "(12): LogSoftmax(axis=-1)"})
        CHECK_MESSAGE(c.find(line) != std::string::npos, line << "\n" << c);
}

TEST_CASE("Module errors name the module") {
    struct Bad : nn::Module<double> {
        void add_twice() {
            register_parameter("w", tg::zeros<double>({1}));
            register_buffer("w", tg::zeros<double>({1}));
        }
        void dotted() { register_parameter("a.b", tg::zeros<double>({1})); }
        void non_leaf() { register_parameter("p", tg::zeros<double>({1}, true) * 2.0); }
        void null_child() { register_module("c", std::shared_ptr<nn::Linear<double>>()); }
    };
    Bad bad;
    check_error([&] { bad.add_twice(); }, "Bad(): register_buffer: name 'w' is already used in this module");
    check_error([&] { bad.dotted(); }, "register_parameter: name 'a.b' must be non-empty and contain no '.'");
    check_error([&] { bad.non_leaf(); }, "register_parameter: 'p' must be a leaf Variable");
    check_error([&] { bad.null_child(); }, "register_module: 'c' is a null pointer");
    NoForward nf;
    check_error([&] { nf(input({1}, 1)); }, "NoForward(): forward(x) is not defined for this module");
}
