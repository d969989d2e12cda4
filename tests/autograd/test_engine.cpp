// The engine: accumulation, retain/release, grad(), higher order, grad mode, detach, versions.
#include <tapegrad/autograd/op.hpp>
#include <tapegrad/autograd/vjp.hpp>

#include "helpers.hpp"

using namespace tgtest;

namespace {
V leaf(xt::xarray<double> x) { return tg::parameter(x); }

/// y = a + b, whose VJP writes both gradients whether they are wanted or not.
template <class T>
struct Eager {
    static constexpr const char* name = "eager";
    tg::Tensor<T> forward(const tg::Tensor<T>& a, const tg::Tensor<T>& b) const { return a + b; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        a.dx[0] = a.g;
        a.dx[1] = a.g;
    }
};

/// y = a + b, whose VJP forgets the gradient of a.
template <class T>
struct Forgetful {
    static constexpr const char* name = "forgetful";
    tg::Tensor<T> forward(const tg::Tensor<T>& a, const tg::Tensor<T>& b) const { return a + b; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        if (a.want(1)) a.dx[1] = a.g;
    }
};

/// y = 2a, counting how often its VJP runs.
int doubled_vjps = 0;
template <class T>
struct CountedDouble {
    static constexpr const char* name = "counted_double";
    tg::Tensor<T> forward(const tg::Tensor<T>& a) const { return a + a; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        ++doubled_vjps;
        G twice = a.g + a.g;
        a.dx[0] = std::move(twice);
    }
};
V counted_double(const V& a) { return tg::apply(CountedDouble<double>{}, a); }

/// y = a, whose VJP adds g into a's gradient where one is already summed, counting how often it can.
int added_to_sum = 0;
template <class T>
struct Pass {
    static constexpr const char* name = "pass";
    tg::Tensor<T> forward(const tg::Tensor<T>& a) const { return a; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        if (tg::vjp::add_to_sum(a, 0, a.g))
            ++added_to_sum;
        else
            a.dx[0] = a.g;
    }
};
V pass(const V& a) { return tg::apply(Pass<double>{}, a); }

/// y = a, whose VJP gives b (not a scalar) a gradient of a's shape: wrong unless their shapes agree.
template <class T>
struct WrongSecond {
    static constexpr const char* name = "wrong_second";
    tg::Tensor<T> forward(const tg::Tensor<T>& a, const tg::Tensor<T>&) const { return a; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        if (a.want(0)) a.dx[0] = a.g;
        if (a.want(1)) a.dx[1] = a.g;
    }
};

template <class OpT>
V apply2(const V& a, const V& b) {
    return tg::apply(OpT{}, a, b);
}
}  // namespace

TEST_CASE("a value used twice (diamond) gets both contributions") {
    const V x = leaf({3.0});
    const V a = x * 2.0, b = x * x;  // y = 2x * x^2 = 2x^3, dy/dx = 6x^2 = 54
    (a * b).backward();
    CHECK(x.grad()(0) == doctest::Approx(54.0));

    const V w = leaf({1.0, 2.0});
    const V h = tg::tanh(w);
    tg::sum(h + h * h).backward();  // d/dw (t + t^2) = (1 + 2t)(1 - t^2)
    const auto t = xt::tanh(xt::xarray<double>{1.0, 2.0});
    CHECK(close(w.grad(), (1.0 + 2.0 * t) * (1.0 - t * t)));
}

TEST_CASE("gradients accumulate over backward calls until zero_grad") {
    const V x = leaf({1.0, 2.0});
    (tg::sum(x) * 2.0).backward();
    CHECK(close(x.grad(), {2, 2}));
    (tg::sum(x) * 3.0).backward();
    CHECK(close(x.grad(), {5, 5}));
    x.zero_grad();
    CHECK_FALSE(x.has_grad());
    CHECK_THROWS_WITH_AS(x.grad(), doctest::Contains("has no gradient yet"), tg::Error);
    (tg::sum(x) * 3.0).backward();
    CHECK(close(x.grad(), {3, 3}));
}

TEST_CASE("the first gradient reaching a leaf is taken over, not copied into a zeroed buffer") {
    const V x = leaf({1.0, 2.0, 3.0});
    tg::sum(x * 4.0).backward();
    CHECK(close(x.grad(), {4, 4, 4}));
}

TEST_CASE("backward twice through the same graph needs retain_graph") {
    const V x = leaf({2.0});
    const V y = tg::sum(tg::exp(x) * x);
    y.backward(tg::BackwardOptions().retain_graph(true));
    y.backward();
    CHECK(x.grad()(0) == doctest::Approx(2 * 3 * std::exp(2.0)));
    CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("was already freed by an earlier backward"), tg::Error);
    // an intermediate of a released graph cannot be backpropagated through either
    const V h = tg::tanh(x);
    tg::sum(h).backward();
    CHECK_THROWS_WITH_AS(tg::sum(h).backward(), doctest::Contains("'tanh'"), tg::Error);
}

TEST_CASE("backward from a non-scalar needs an upstream gradient") {
    const V x = leaf({1.0, 2.0});
    const V y = x * 3.0;
    CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("the output has shape (2,), not one element"), tg::Error);
    y.backward(tg::Tensor<double>({10.0, 100.0}));
    CHECK(close(x.grad(), {30, 300}));
    CHECK_THROWS_WITH_AS((x * 3.0).backward(tg::Tensor<double>({1.0, 2.0, 3.0})),
                         "backward: gradient for output 0 has shape (3,), the output has shape (2,)", tg::Error);
}

TEST_CASE("backward on a result that does not require grad is an error") {
    const V c = tg::constant(xt::xarray<double>{1.0});
    CHECK_THROWS_WITH_AS((c * 2.0).backward(), doctest::Contains("does not require grad"), tg::Error);
}

TEST_CASE("no-grad mode records nothing; detach stops gradients") {
    const V x = leaf({1.0, 2.0});
    {
        tg::NoGradGuard guard;
        CHECK_FALSE(tg::grad_enabled());
        const V y = x * 2.0;
        CHECK_FALSE(y.requires_grad());
        CHECK(y.is_leaf());
        CHECK(close(y.value(), {2, 4}));
    }
    CHECK(tg::grad_enabled());
    const V d = x.detach();
    CHECK(d.is_leaf());
    CHECK_FALSE(d.requires_grad());
    tg::sum(x * d).backward();  // d is a constant: dy/dx = d
    CHECK(close(x.grad(), {1, 2}));
}

TEST_CASE("grad() returns gradients without touching .grad(), also for intermediate values") {
    const V x = leaf({1.0, 2.0});
    const V h = x * x;
    const V y = tg::sum(h * 3.0);
    auto g = tg::grad(y, {x, h}, tg::GradOptions().retain_graph(true));
    CHECK(close(g[0].value(), {6, 12}));
    CHECK(close(g[1].value(), {3, 3}));
    CHECK_FALSE(x.has_grad());
    CHECK_FALSE(g[0].requires_grad());
    // the same input twice gets the same gradient
    auto twice = tg::grad(y, {x, x}, tg::GradOptions().retain_graph(true));
    CHECK(close(twice[1].value(), {6, 12}));
    // an input the output does not depend on
    const V unused = leaf({5.0});
    CHECK_THROWS_WITH_AS(tg::grad(y, {unused}, tg::GradOptions().retain_graph(true)),
                         doctest::Contains("input 0 (shape (1,)) is not used to compute the outputs"), tg::Error);
    auto z = tg::grad(y, {x, unused}, tg::GradOptions().allow_unused(true));
    CHECK(close(z[1].value(), {0}));
}

TEST_CASE("each input of an op gets its own gradient when constants and repeated inputs are mixed") {
    // The sweep finds an op's inputs by their position in the ordering's table: a constant in
    // front, a node used twice, a leaf grad() was not asked about and an intermediate target
    // must each land in the right place.
    const V c = tg::constant(xt::xarray<double>{2.0, 3.0});
    const V x = leaf({1.0, -1.0});
    const V w = leaf({0.5, 4.0});
    const V h = c * x;  // input 0 needs no gradient
    const V y = tg::sum(h * h + x * c + w * x);
    y.backward(tg::BackwardOptions().retain_graph(true));
    // dy/dx = 2 c^2 x + c + w, dy/dw = x
    CHECK(close(x.grad(), {2 * 4 * 1.0 + 2 + 0.5, 2 * 9 * -1.0 + 3 + 4}));
    CHECK(close(w.grad(), {1.0, -1.0}));
    auto g = tg::grad(y, {h, x});  // dy/dh = 2 h
    CHECK(close(g[0].value(), {4.0, -6.0}));
    CHECK(close(g[1].value(), {10.5, -11.0}));
}

TEST_CASE("grad() with several outputs and weights") {
    const V x = leaf({1.0, 2.0});
    const V a = x * 2.0, b = x * x;
    auto g = tg::grad<double>(
        {a, b}, {x}, {tg::constant(xt::xarray<double>{1.0, 1.0}), tg::constant(xt::xarray<double>{10.0, 0.0})});
    CHECK(close(g[0].value(), {22, 2}));
}

TEST_CASE("create_graph: second derivatives and Hessian-vector products") {
    const V x = leaf({1.5, -0.5});
    // f = sum(x^3): gradient 3x^2, Hessian diag(6x)
    const V f = tg::sum(x * x * x);
    auto g = tg::grad(f, {x}, tg::GradOptions().create_graph(true));
    CHECK(g[0].requires_grad());
    CHECK(close(g[0].value(), {6.75, 0.75}));
    const V v = tg::constant(xt::xarray<double>{1.0, 2.0});
    auto hv = tg::grad(tg::sum(g[0] * v), {x});
    CHECK(close(hv[0].value(), {9.0, -6.0}));
    // third derivative of x^4 at 2: 24x = 48
    const V s = leaf({2.0});
    const V d1 = tg::grad(tg::sum(tg::pow(s, 4.0)), {s}, tg::GradOptions().create_graph(true))[0];
    const V d2 = tg::grad(tg::sum(d1), {s}, tg::GradOptions().create_graph(true))[0];
    const V d3 = tg::grad(tg::sum(d2), {s})[0];
    CHECK(d1.item() == doctest::Approx(32.0));
    CHECK(d2.item() == doctest::Approx(48.0));
    CHECK(d3.item() == doctest::Approx(48.0));
}

TEST_CASE("backward with create_graph fills leaf gradients too") {
    const V x = leaf({3.0});
    tg::sum(x * x).backward(tg::BackwardOptions().create_graph(true));
    CHECK(x.grad()(0) == doctest::Approx(6.0));
}

TEST_CASE("the gradient of a gradient, w.r.t. the upstream gradient") {
    const V x = leaf({0.3, -1.2}), v = leaf({0.7, 2.0});
    auto g = tg::grad<double>({tg::tanh(x)}, {x}, {v}, tg::GradOptions().create_graph(true));
    // g = v (1 - tanh^2 x): dg/dv = 1 - tanh^2 x
    auto dv = tg::grad(tg::sum(g[0]), {v});
    const auto t = xt::tanh(xt::xarray<double>{0.3, -1.2});
    CHECK(close(dv[0].value(), 1.0 - t * t));
}

TEST_CASE("changing a value in place after it was recorded is caught at backward") {
    const V w = leaf({1.0, 2.0});
    const V y = tg::sum(w * w);
    w.mutable_value()(0) = 5.0;
    CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("input 0 of 'mul' (shape (2,)) was modified in place"),
                         tg::Error);
    const V w2 = leaf({1.0});
    const V t = tg::tanh(w2);
    const V y2 = tg::sum(t * 2.0);
    V(t).mutable_value()(0) = 0.0;  // the output a VJP needs
    CHECK_THROWS_WITH_AS(y2.backward(), doctest::Contains("'mul_scalar'"), tg::Error);
}

TEST_CASE("Variable basics: shape, item, leaf-only operations") {
    const V x = leaf({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
    CHECK(x.shape() == tg::Shape{2, 3});
    CHECK(x.dim() == 2);
    CHECK(x.size() == 6);
    CHECK(x.is_leaf());
    CHECK(std::string(x.op_name()) == "leaf");
    CHECK(tg::sum(x).item() == 21.0);
    CHECK_THROWS_WITH_AS(x.item(), "item: expected a one-element value, got shape (2,3)", tg::Error);
    const V y = x * 2.0;
    CHECK(std::string(y.op_name()) == "mul_scalar");
    CHECK(y.inputs().size() == 1);
    CHECK_THROWS_WITH_AS(V(y).set_requires_grad(false), doctest::Contains("only a leaf can be marked"), tg::Error);
    CHECK_THROWS_WITH_AS(y.grad(), doctest::Contains("only leaves keep gradients"), tg::Error);
    CHECK_THROWS_WITH_AS(V().value(), doctest::Contains("this Variable is empty"), tg::Error);
    CHECK_THROWS_WITH_AS(V(x).set_grad(tg::Tensor<double>({1.0})),
                         "set_grad: gradient of shape (1,) does not match the value's shape (2,3)", tg::Error);
    V s = tg::scalar(4.0, true);
    CHECK(s.dim() == 0);
    CHECK(s.item() == 4.0);
}

TEST_CASE("factories") {
    CHECK(close(tg::zeros({2}).value(), {0, 0}));
    CHECK(close(tg::ones<double>({2}, true).value(), {1, 1}));
    CHECK(tg::ones<double>({2}, true).requires_grad());
    CHECK(close(tg::full<double>({2}, 7.0).value(), {7, 7}));
    CHECK(close(tg::arange<double>(0.0, 1.0, 0.25).value(), {0, 0.25, 0.5, 0.75}));
    CHECK(tg::arange<double>(3.0, 1.0).size() == 0);
    CHECK_THROWS_WITH_AS(tg::arange<double>(0.0, 1.0, 0.0), doctest::Contains("non-zero step"), tg::Error);
    tg::manual_seed(42);
    const auto a = tg::randn<double>({3, 4});
    tg::manual_seed(42);
    const auto b = tg::randn<double>({3, 4});
    CHECK(a.value() == b.value());
    const auto u = tg::rand<float>({1000});
    CHECK(xt::amin(u.value())() >= 0.0f);
    CHECK(xt::amax(u.value())() < 1.0f);
    tg::Generator gen(7);
    const double m = xt::mean(tg::randn<double>({20000}, gen).value())();
    CHECK(std::abs(m) < 0.03);
}

TEST_CASE("anomaly mode names the op and the chain that made a NaN") {
    const V x = leaf({1.0, -1.0});
    {
        tg::DetectAnomalyGuard anomaly;
        CHECK_THROWS_WITH_AS(tg::log(x * 2.0), doctest::Contains("anomaly: 'log' produced NaN in its output"),
                             tg::Error);
        CHECK_THROWS_WITH_AS(tg::log(x * 2.0), doctest::Contains("leaf (2,) -> mul_scalar (2,) -> log (2,)"),
                             tg::Error);
        const V y = tg::sum(tg::sqrt(x * x));  // finite forward; backward divides by sqrt(0) = 0 nowhere...
        CHECK_NOTHROW(y.backward());
        const V z = leaf({0.0});
        const V s = tg::sum(tg::sqrt(z));  // d sqrt / dz at 0 is Inf
        CHECK_THROWS_WITH_AS(s.backward(), doctest::Contains("anomaly: backward of 'sqrt' produced Inf"), tg::Error);
    }
    CHECK_FALSE(tg::anomaly_enabled());
    CHECK_NOTHROW(tg::log(x * 2.0));
}

TEST_CASE("every node is freed once the last handle goes, with or without backward") {
    const long before = tg::live_node_count();
    {
        const V x = leaf({0.5, -0.25});
        const V y = tg::sum(tg::tanh(x) * tg::sigmoid(x) + tg::exp(x));  // tanh, sigmoid, exp need their outputs
        CHECK(tg::live_node_count() > before);
        y.backward(tg::BackwardOptions().retain_graph(true));
        const V z = tg::sum(tg::softmax(x * 3.0, 0));
        (void)z;
    }
    CHECK(tg::live_node_count() == before);
    {
        const V x = leaf({1.0, 2.0});
        auto g = tg::grad(tg::sum(tg::pow(x, 3.0)), {x}, tg::GradOptions().create_graph(true));
        auto h = tg::grad(tg::sum(g[0]), {x});
        CHECK(close(h[0].value(), {6, 12}));
    }
    CHECK(tg::live_node_count() == before);
}

TEST_CASE("a recorded op takes at most 65,535 inputs: more is a clear error, not a wrapped count") {
    // Nodes keep their input count in 16 bits (a two-input node then fits a smaller allocation).
    const V x = leaf({1.0});
    std::vector<V> many(65536, x);
    CHECK_THROWS_WITH_AS(tg::concat(many, 0),
                         "concat: got 65536 inputs; a recorded op takes at most 65535 (join them in groups, e.g. a "
                         "concat of concats)",
                         tg::Error);
    many.pop_back();
    const V y = tg::concat(many, 0);
    CHECK(y.size() == 65535);
    tg::sum(y).backward();
    CHECK(x.grad()(0) == 65535.0);
    tg::NoGradGuard no_grad;  // nothing recorded: no limit
    many.push_back(x);
    CHECK(tg::concat(many, 0).size() == 65536);
}

TEST_CASE("a VJP's error leaves its op's inputs in place: the graph can be gone through again") {
    // The sweep hands an op's inputs over to its own bookkeeping as it releases the op, and only
    // once every gradient the op gave has been checked.
    const V x = leaf({1.0, 2.0}), w = leaf({1.0, 2.0, 3.0});
    const V z = apply2<WrongSecond<double>>(x * x, w);
    const std::string error = "backward: 'wrong_second' gave a gradient of shape (2,) for its input 1 of shape (3,)";
    CHECK_THROWS_WITH_AS(tg::sum(z).backward(), error.c_str(), tg::Error);
    const std::vector<V> order = tg::backward_order(z);
    REQUIRE(order.size() == 2);
    CHECK(std::string(order[1].node()->op_name()) == "mul");
    CHECK(order[1].node()->num_inputs == 2);
    CHECK_THROWS_WITH_AS(z.backward(tg::Tensor<double>({1.0, 1.0})), error.c_str(), tg::Error);
    const std::vector<V> gx = tg::grad(tg::sum(z), {x});  // no gradient for w is wanted: no error
    CHECK(close(gx[0].value(), {2.0, 4.0}));
}

TEST_CASE("a gradient a VJP wrote for an input nobody wanted does not stand in for a later op's missing one") {
    // Sweep order: add, eager, forgetful. eager writes a gradient for the constant c; forgetful
    // then owes one for x, which already has one (from add), and gives none: that is an error.
    const V x = leaf({1.0}), w = leaf({2.0});
    const V c = tg::constant(xt::xarray<double>{3.0});
    const V y = tg::sum(apply2<Eager<double>>(c, apply2<Forgetful<double>>(x, w)) + x);
    CHECK_THROWS_WITH_AS(y.backward(), "backward: 'forgetful' gave no gradient for its input 0", tg::Error);
}

TEST_CASE("a node is swept once however many handles reach it, whether or not the caller holds it") {
    // The ordering numbers a node held by nothing but the edge it was reached through without
    // looking it up; any node with a second owner (another edge, the caller) is looked up.
    const V x = leaf({1.5, -2.0});
    doubled_vjps = 0;
    tg::sum(counted_double(counted_double(x)) * 3.0).backward();  // a chain: one owner each
    CHECK(doubled_vjps == 2);
    CHECK(close(x.grad(), {12.0, 12.0}));

    x.zero_grad();
    doubled_vjps = 0;
    {
        V u = counted_double(x);
        const V y = tg::sum(u * u);  // two edges own u once the caller lets go: d/dx (2x)^2 = 8x
        u.reset();
        y.backward();
    }
    CHECK(doubled_vjps == 1);
    CHECK(close(x.grad(), {12.0, -16.0}));

    x.zero_grad();
    doubled_vjps = 0;
    {
        V u = counted_double(x);
        const V y = tg::sum(tg::concat({u, u, u}, 0));  // three edges
        u.reset();
        y.backward();
    }
    CHECK(doubled_vjps == 1);
    CHECK(close(x.grad(), {6.0, 6.0}));

    doubled_vjps = 0;
    const V u = counted_double(x);               // one edge and the caller, who asks grad() about u
    const V y = tg::sum(counted_double(u) * u);  // 2u * u, d/du = 4u = 8x
    const auto g = tg::grad(y, {u, x}, tg::GradOptions().retain_graph(true));
    CHECK(close(g[0].value(), {12.0, -16.0}));
    CHECK(close(g[1].value(), {24.0, -32.0}));
    CHECK(doubled_vjps == 2);
    x.zero_grad();
    y.backward();  // the graph was kept: a second sweep, each VJP once more
    CHECK(doubled_vjps == 4);
    CHECK(close(x.grad(), {24.0, -32.0}));
}

TEST_CASE("a VJP adds its gradient into the one already summed for an input, in a plain backward only") {
    const V x = leaf({1.0, 2.0, 3.0});
    const V y = tg::sum(pass(x) * 2.0) + tg::sum(pass(x) * 3.0) + tg::sum(pass(x));
    added_to_sum = 0;
    y.backward(tg::BackwardOptions().retain_graph(true));
    CHECK(close(x.grad(), {6.0, 6.0, 6.0}));
    CHECK(added_to_sum == 2);  // the first gradient to reach x is its sum; the other two are added to it

    added_to_sum = 0;
    const auto g = tg::grad(y, {x}, tg::GradOptions().create_graph(true));  // recorded: no sums offered
    CHECK(close(g[0].value(), {6.0, 6.0, 6.0}));
    CHECK(added_to_sum == 0);

    x.zero_grad();
    {
        tg::DetectAnomalyGuard anomaly;  // anomaly mode checks each VJP's own gradient: no sums either
        y.backward(tg::BackwardOptions().retain_graph(true));
    }
    CHECK(close(x.grad(), {6.0, 6.0, 6.0}));
    CHECK(added_to_sum == 0);
}

TEST_CASE("gradients added into a sum by add and mul are the engine's own sums, to the bit") {
    // A weight used by every op of a float chain: its gradient is summed from ~2n contributions,
    // which the plain backward adds in place and a create_graph backward adds as recorded ops.
    for (const std::size_t size : {std::size_t(1), std::size_t(7), std::size_t(255)}) {
        xt::xarray<float> x0 = xt::linspace<float>(-1.3f, 0.9f, size), w0 = xt::linspace<float>(0.7f, 1.1f, size);
        const tg::Variable<float> x = tg::parameter(x0), w = tg::parameter(w0);
        tg::Variable<float> h = x;
        for (int i = 0; i < 40; ++i) h = tg::tanh(h * w + w);
        const tg::Variable<float> loss = tg::sum(h * h);
        const auto recorded = tg::grad(loss, {x, w}, tg::GradOptions().create_graph(true));
        loss.backward();
        CAPTURE(size);
        CHECK(x.grad() == recorded[0].value());
        CHECK(w.grad() == recorded[1].value());
    }
}
