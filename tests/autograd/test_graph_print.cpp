// Graph drawing: the DOT output and the tape listing show ops, shapes, values and backward order.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "external_tools.hpp"
#include "helpers.hpp"

using namespace tgtest;

TEST_CASE("backward_order lists ops from the output back to the leaves") {
    const V a = tg::parameter(xt::xarray<double>{2.0}), b = tg::parameter(xt::xarray<double>{-0.5});
    const V f = tg::sum(tg::tanh(a * b + b));
    const auto order = tg::backward_order(f);
    std::vector<std::string> names;
    for (const auto& v : order) names.push_back(v.op_name());
    CHECK(names == std::vector<std::string>{"sum", "tanh", "add", "mul"});
    CHECK(tg::backward_order(tg::constant(xt::xarray<double>{1.0})).empty());
}

TEST_CASE("tape_listing and to_dot describe every node") {
    const V a = tg::parameter(xt::xarray<double>{2.0}), b = tg::parameter(xt::xarray<double>{-0.5});
    const V f = tg::sum(tg::tanh(a * b + b));
    f.backward(tg::BackwardOptions().retain_graph(true));
    const std::string tape = tg::tape_listing(f);
    CHECK(tape.find("%2 = mul(%0, %1)") != std::string::npos);
    CHECK(tape.find("%4 = tanh(%3)") != std::string::npos);
    CHECK(tape.find("backward step 1") != std::string::npos);
    const std::string dot = tg::to_dot(f, "demo");
    CHECK(dot.rfind("digraph \"demo\" {", 0) == 0);
    CHECK(dot.find("tanh (1,)") != std::string::npos);
    CHECK(dot.find("grad [-0.09035]") != std::string::npos);
    CHECK(dot.find("n2 -> n3;") != std::string::npos);
    CHECK(tg::value_summary(tg::Tensor<double>(tg::Shape{10}, 1.0)) == "mean 1 min 1 max 1 (10 elements)");
    std::ostringstream os;
    os << tg::tanh(a) << "; " << V();
    CHECK(os.str() == "tanh (1,) [0.964]; Variable(empty)");
}

TEST_CASE("the DOT output parses with Graphviz" * doctest::test_suite("external")) {
    if (std::system("command -v dot > /dev/null 2>&1") != 0)
        return tgtest::missing_tool("Graphviz's dot (apt-get install graphviz)");
    const V x = tg::parameter(xt::xarray<double>{{1.0, 2.0}, {3.0, 4.0}});
    const V y = tg::mean(tg::softmax(tg::matmul(x, x), 1) * 2.0);
    const std::string path = "test_graph_print.dot";
    std::ofstream(path) << tg::to_dot(y);
    CHECK(std::system(("dot -Tsvg " + path + " -o /dev/null").c_str()) == 0);
    std::remove(path.c_str());
}

TEST_CASE("tape_order lists every value once, inputs first, numbered as tape_listing numbers them") {
    const V a = tg::parameter(xt::xarray<double>{2.0}), b = tg::parameter(xt::xarray<double>{-0.5});
    const V c = tg::constant(xt::xarray<double>{3.0});
    const V f = tg::sum(tg::tanh(a * b + b) * c);
    const auto order = tg::tape_order(f);
    std::vector<std::string> names;
    for (const auto& v : order) names.push_back(v.is_leaf() ? (v.requires_grad() ? "param" : "const") : v.op_name());
    CHECK(names == std::vector<std::string>{"param", "param", "mul", "add", "tanh", "const", "mul", "sum"});
    CHECK(order.front().node() == a.node());
    CHECK(order.back().node() == f.node());
    const std::string tape = tg::tape_listing(f);
    CHECK(tape.find("%6 = mul(%4, %5)") != std::string::npos);
    CHECK(tg::tape_order(c).size() == 1);
    check_error([] { tg::tape_order(V()); }, "tape_order: the Variable is empty");

    // No recursion: a chain far deeper than any stack would allow.
    V h = tg::parameter(xt::xarray<double>{0.5});
    for (int i = 0; i < 300000; ++i) h = h * 1.0;
    CHECK(tg::tape_order(h).size() == 300001);
}
