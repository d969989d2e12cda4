// The forward frees an intermediate's value once no Variable holds it and no backward reads it
// (op.hpp: free_unneeded_values): gradients stay exactly those of a graph that keeps every value.
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>

#include "helpers.hpp"

using namespace tgtest;

namespace {

constexpr std::size_t side = 64;  // 64 x 64 doubles: 32 KiB, above the 16 KiB below which values are kept

/// True once the forward freed v's value.
bool freed(const V& v) { return v.node()->value_freed.load(); }

/// The input of the op that made `v` (its input `k`), as a Variable.
V input_of(const V& v, std::size_t k = 0) { return v.inputs().at(k); }

/// y*w, y+w, tanh(y), ..., each result replacing y as in a user's loop.
V chain(const V& x, const V& w, std::size_t length) {
    V y = x;
    for (std::size_t k = 0; k < length; ++k) {
        switch (k % 3) {
            case 0:
                y = y * w;
                break;
            case 1:
                y = y + w;
                break;
            default:
                y = tg::tanh(y);
        }
    }
    return y;
}

/// Gradients of sum(f(xs)) with respect to xs.
std::vector<tg::Tensor<double>> gradients(const std::function<V()>& f, const std::vector<V>& xs) {
    for (const V& x : xs) x.zero_grad();
    tg::sum(f()).backward();
    std::vector<tg::Tensor<double>> g;
    for (const V& x : xs) g.push_back(x.grad());
    return g;
}

/// The same gradients with every value kept and with values freed, bit for bit.
void check_same_gradients(const std::function<V()>& f, const std::vector<V>& xs) {
    std::vector<tg::Tensor<double>> kept;
    {
        tg::KeepValuesGuard keep;
        kept = gradients(f, xs);
    }
    const std::vector<tg::Tensor<double>> freed = gradients(f, xs);
    REQUIRE(kept.size() == freed.size());
    for (std::size_t i = 0; i < kept.size(); ++i) CHECK(freed[i] == kept[i]);
}

}  // namespace

TEST_CASE("free values: in a chain, the outputs of mul and add are freed and tanh's are kept") {
    const V x = input({side, side}, 1, -0.5, 0.5);
    const V w = input({side, side}, 2, 0.5, 1.0);
    const V y = chain(x, w, 9);  // mul add tanh mul add tanh mul add tanh
    // y = tanh(a3), a3 = m3 + w, m3 = t2 * w, t2 = tanh(a2), a2 = m2 + w, m2 = t1 * w, ...
    const V a3 = input_of(y), m3 = input_of(a3), t2 = input_of(m3), a2 = input_of(t2), m2 = input_of(a2);
    CHECK(std::string(a3.op_name()) == "add");
    CHECK(std::string(m2.op_name()) == "mul");
    // a3 was still held by the loop's y when tanh was recorded, and no op came after: kept.
    CHECK_FALSE(freed(a3));
    CHECK(freed(m3));
    CHECK_FALSE(freed(t2));  // tanh's VJP reads its output
    CHECK(freed(a2));
    CHECK(freed(m2));
    // The shape stays; the elements are gone, and reading them says why and what to do.
    CHECK(m2.shape() == tg::Shape{side, side});
    CHECK(m2.size() == side * side);
    CHECK_THROWS_WITH_AS(m2.value(), doctest::Contains("was freed during the forward pass"), tg::Error);
    CHECK_THROWS_WITH_AS(m2.mutable_value(), doctest::Contains("KeepValuesGuard"), tg::Error);
    CHECK_THROWS_AS(m2.item(), tg::Error);
    std::ostringstream printed;
    printed << m2;
    CHECK(printed.str().find("(value freed)") != std::string::npos);
}

TEST_CASE("free values: gradients equal those of a graph that keeps every value") {
    const V x = input({side, side}, 3, -0.5, 0.5);
    const V w = input({side, side}, 4, 0.5, 1.0);
    check_same_gradients([&] { return chain(x, w, 30); }, {x, w});

    // Ops whose VJPs read only shapes next to ones that read values, with broadcasting (add's VJP sums
    // back to the freed input's shape), reductions, reshapes, permutes, matmul and scalar ops.
    const V b = input({side}, 5);
    const V m = input({side, side}, 6, -0.2, 0.2);
    check_same_gradients(
        [&] {
            V y = tg::matmul(x, m);
            y = y + b;
            y = tg::relu(y);
            y = y * 2.0;
            y = y - w;
            y = -y;
            y = tg::sigmoid(y);
            y = tg::permute(y, {1, 0});
            y = y + 1.0;
            y = tg::reshape(y, {side * side / 2, 2});
            y = tg::exp(y * 0.1);
            y = tg::reshape(y, {side, side});
            y = tg::softmax(y, 1) * w;
            y = tg::sum(y, 1) / 3.0;
            return tg::broadcast_to(y, {side, side}) * x;
        },
        {x, w, b, m});
}

TEST_CASE("free values: retain_graph, create_graph and second derivatives still see the values they need") {
    const V x = input({side, side}, 7, -0.5, 0.5);
    const V w = input({side, side}, 8, 0.5, 1.0);
    V y = tg::sum(chain(x, w, 12));
    y.backward(tg::BackwardOptions().retain_graph(true));
    const tg::Tensor<double> first = x.grad();
    x.zero_grad();
    y.backward();
    CHECK(x.grad() == first);

    // d/dw of sum(dL/dx) through a graph whose intermediates were freed, against a kept one.
    auto second = [&] {
        const V s = tg::sum(chain(x, w, 9));
        const V gx = tg::grad(s, {x}, tg::GradOptions().create_graph(true)).at(0);
        w.zero_grad();
        tg::sum(gx * gx).backward();
        return w.grad();
    };
    tg::Tensor<double> kept;
    {
        tg::KeepValuesGuard keep;
        kept = second();
    }
    CHECK(second() == kept);
}

TEST_CASE("free values: kept when a Variable holds them, when small, and inside KeepValuesGuard") {
    const V x = input({side, side}, 9, -0.5, 0.5);
    const V w = input({side, side}, 10, 0.5, 1.0);
    const V m = x * w;  // held by the user
    V y = m + w;
    y = tg::tanh(y);
    y = y * w;
    CHECK_FALSE(freed(m));
    CHECK(m.value()(0, 0) == x.value()(0, 0) * w.value()(0, 0));

    const V xs = input({8, 8}, 11), ws = input({8, 8}, 12);  // 512 bytes: not worth freeing
    const V small = chain(xs, ws, 9);
    CHECK_FALSE(freed(input_of(input_of(input_of(input_of(small))))));

    tg::KeepValuesGuard keep;
    const V kept = chain(x, w, 9);
    const V m2 = input_of(input_of(input_of(input_of(input_of(kept)))));
    CHECK(std::string(m2.op_name()) == "mul");
    CHECK_FALSE(freed(m2));
    CHECK_NOTHROW(m2.value());
    CHECK(tg::keep_values_enabled());
}

TEST_CASE("free values: a long chain holds the values of its tanh ops only") {
    const V x = input({side, side}, 13, -0.5, 0.5);
    const V w = input({side, side}, 14, 0.5, 1.0);
    const V y = chain(x, w, 30);
    // 30 ops: the outputs of all 10 muls and of 9 adds (the last is still y's input) are freed.
    std::size_t count = 0, held = 0;
    std::vector<V> stack{y};
    while (!stack.empty()) {
        const V v = stack.back();
        stack.pop_back();
        if (v.is_leaf()) continue;
        count += freed(v);
        held += v.node()->value.storage().size();
        stack.push_back(input_of(v));
    }
    CHECK(count == 19);
    CHECK(held == 11 * side * side);
}

TEST_CASE("free values: printouts and the tape explorer show a freed value as freed") {
    const V x = input({side, side}, 15, -0.5, 0.5);
    const V w = input({side, side}, 16, 0.5, 1.0);
    const V y = tg::sum(chain(x, w, 6));
    CHECK(tg::to_dot(y).find("value freed") != std::string::npos);
    const std::string path = "test_free_values_page.html";
    tg::write_html(path, y);
    std::ifstream in(path);
    const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::remove(path.c_str());
    CHECK(html.find("freed in the forward pass") != std::string::npos);
}
