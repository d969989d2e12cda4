// Misuse of the autograd API: every mistake ends in a tapegrad::Error whose whole message is checked.
#include <tapegrad/autograd/op.hpp>

#include "helpers.hpp"

using namespace tgtest;

namespace {

using Tn = tg::Tensor<double>;

/// An op (as a user might write one) whose VJP returns a gradient of the wrong shape.
struct WrongShapeGrad {
    static constexpr const char* name = "my_op";
    Tn forward(const Tn& x) const { return x; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        a.dx[0] = tg::vjp::constant<G>(Tn({1.0, 2.0, 3.0}));
    }
};

/// An op whose VJP forgets to fill its input's gradient.
struct NoGrad {
    static constexpr const char* name = "forgetful_op";
    Tn forward(const Tn& x) const { return x; }
    template <class G>
    void backward(tg::VjpArgs<G>&) const {}
};

template <class OpT>
V run(const V& x) {
    return tg::apply(OpT{}, x);
}

}  // namespace

TEST_CASE("backward on a non-scalar without an upstream gradient") {
    const V x = tg::parameter(xt::xarray<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
    CHECK_THROWS_WITH_AS(tg::tanh(x).backward(),
                         "backward: the output has shape (2,3), not one element; pass its upstream gradient, e.g. "
                         "y.backward(dL_dy)",
                         tg::Error);
    CHECK_THROWS_WITH_AS(tg::grad(x * 2.0, {x}),
                         "grad: the output has shape (2,3), not one element; pass its upstream gradient, e.g. "
                         "y.backward(dL_dy)",
                         tg::Error);
    CHECK_THROWS_WITH_AS(tg::backward<double>({tg::sum(x), x * 2.0}, {Tn(xt::xarray<double>(1.0))}),
                         "backward: 2 outputs but 1 gradients", tg::Error);
}

TEST_CASE("the gradient of a Variable that does not require grad") {
    const V c = tg::constant(xt::xarray<double>{1.0, 2.0});
    const V w = tg::parameter(xt::xarray<double>{3.0, 4.0});
    tg::sum(c * w).backward();
    CHECK_THROWS_WITH_AS(c.grad(),
                         "grad: this leaf of shape (2,) has no gradient yet: it does not require grad "
                         "(set_requires_grad(true) or parameter())",
                         tg::Error);
    CHECK_THROWS_WITH_AS(tg::grad(tg::sum(c * w), {c}), "grad: input 0 (shape (2,)) does not require grad", tg::Error);
    CHECK_THROWS_WITH_AS((c * 2.0).backward(),
                         "backward: output 0 (shape (2,)) does not require grad: nothing it was computed from "
                         "requires grad, or it was computed under NoGradGuard",
                         tg::Error);
    tg::NoGradGuard no_grad;
    CHECK_THROWS_WITH_AS(tg::sum(w * 2.0).backward(),
                         "backward: output 0 (shape ()) does not require grad: nothing it was computed from "
                         "requires grad, or it was computed under NoGradGuard",
                         tg::Error);
}

TEST_CASE("gradients of the wrong shape are refused, naming the op or the leaf") {
    const V x = tg::parameter(xt::xarray<double>{1.0, 2.0});
    CHECK_THROWS_WITH_AS(tg::sum(run<WrongShapeGrad>(x)).backward(),
                         "backward: 'my_op' gave a gradient of shape (3,) for its input 0 of shape (2,)", tg::Error);
    CHECK_THROWS_WITH_AS(tg::grad(tg::sum(run<WrongShapeGrad>(x)), {x}, tg::GradOptions().create_graph(true)),
                         "backward: 'my_op' gave a gradient of shape (3,) for its input 0 of shape (2,)", tg::Error);
    CHECK_THROWS_WITH_AS(tg::sum(run<NoGrad>(x)).backward(),
                         "backward: 'forgetful_op' gave no gradient for its input 0", tg::Error);
    // an upstream gradient of the wrong shape
    CHECK_THROWS_WITH_AS((x * 2.0).backward(Tn({1.0, 2.0, 3.0})),
                         "backward: gradient for output 0 has shape (3,), the output has shape (2,)", tg::Error);
    CHECK_THROWS_WITH_AS(tg::grad<double>({x * 2.0}, {x}, {tg::constant(Tn({1.0}))}),
                         "grad: gradient for output 0 has shape (1,), the output has shape (2,)", tg::Error);
    CHECK_THROWS_WITH_AS(x.set_grad(Tn({1.0})),
                         "set_grad: gradient of shape (1,) does not match the value's shape (2,)", tg::Error);
}

TEST_CASE("accumulating into a gradient of another shape (a leaf resized in place) is refused") {
    const V x = tg::parameter(xt::xarray<double>{1.0, 2.0});
    tg::sum(x * x).backward();
    x.mutable_value() = Tn({1.0, 2.0, 3.0});  // resized behind the gradient's back
    CHECK_THROWS_WITH_AS(tg::sum(x * x).backward(),
                         "backward: cannot add a gradient of shape (3,) to the existing gradient of shape (2,) (the "
                         "leaf's value changed shape; call zero_grad() first)",
                         tg::Error);
    x.zero_grad();
    tg::sum(x * x).backward();
    CHECK(close(x.grad(), {2, 4, 6}));
    // set_value() of another shape drops the stale gradient itself
    x.set_value(Tn({5.0}));
    CHECK_FALSE(x.has_grad());
}

TEST_CASE("a value changed in place after an op recorded it: backward names the op, the input and the versions") {
    const V a = tg::parameter(xt::xarray<double>{1.0, 2.0});
    const V b = tg::parameter(xt::xarray<double>{{3.0, 4.0}});
    const V y = tg::sum(tg::tanh(a) * b);
    b.mutable_value()(0, 0) = 10.0;
    CHECK_THROWS_WITH_AS(y.backward(),
                         "backward: input 1 of 'mul' (shape (1,2)) was modified in place after 'mul' recorded it "
                         "(version 0 when recorded, 1 now); backward needs the old value — modify a copy, or "
                         "recompute the forward pass after the change",
                         tg::Error);
    // the output a VJP needs (tanh's own output) changed in place
    const V t = tg::tanh(a);
    const V z = tg::sum(t);
    t.mutable_value()(1) = 0.0;
    t.mutable_value()(1) = 0.0;
    CHECK_THROWS_WITH_AS(z.backward(),
                         "backward: input 0 of 'sum' (shape (2,)) was modified in place after 'sum' recorded it "
                         "(version 0 when recorded, 2 now); backward needs the old value — modify a copy, or "
                         "recompute the forward pass after the change",
                         tg::Error);
    // under create_graph too
    const V u = tg::sum(a * a);
    a.set_value(Tn({0.5, 0.5}));
    CHECK_THROWS_WITH_AS(tg::grad(u, {a}, tg::GradOptions().create_graph(true)),
                         doctest::Contains("input 0 of 'mul' (shape (2,)) was modified in place"), tg::Error);
}

TEST_CASE("an op's own output changed in place before backward reaches the op is refused, not used") {
    // tanh's VJP reads its output y (dx = g (1 - y^2)): a changed y would give a wrong gradient.
    const V x = tg::parameter(xt::xarray<double>{0.5, -0.25});
    const V y = tg::tanh(x);
    y.mutable_value()(0) = 3.0;
    const V loss = tg::sum(y);  // recorded after the change: sum itself is fine
    CHECK_THROWS_WITH_AS(loss.backward(),
                         "backward: the output of 'tanh' (shape (2,)) was modified in place after 'tanh' computed it "
                         "(version 0 when computed, 1 now); its backward may need the value it computed — modify a "
                         "copy, or recompute the forward pass after the change",
                         tg::Error);
    CHECK_FALSE(x.has_grad());  // nothing wrong was written
    // the same through grad() and under create_graph
    const V z = tg::exp(x);
    z.mutable_value() *= 2.0;
    CHECK_THROWS_WITH_AS(tg::grad(tg::sum(z), {x}, tg::GradOptions().create_graph(true)),
                         doctest::Contains("the output of 'exp' (shape (2,)) was modified in place"), tg::Error);
}

TEST_CASE("backward through a graph an earlier backward freed") {
    const V x = tg::parameter(xt::xarray<double>{1.0});
    const V h = tg::exp(x);
    const V y = tg::sum(h * 2.0);
    y.backward();
    CHECK_THROWS_WITH_AS(y.backward(),
                         "backward: the graph through 'sum' (output shape ()) was already freed by an earlier "
                         "backward; pass BackwardOptions().retain_graph(true) to the first backward to go through a "
                         "graph twice",
                         tg::Error);
    CHECK_THROWS_WITH_AS(tg::grad(tg::sum(h), {x}), doctest::Contains("the graph through 'exp' (output shape (1,))"),
                         tg::Error);
}

TEST_CASE("empty Variables, missing inputs and leaf-only operations") {
    const V x = tg::parameter(xt::xarray<double>{1.0});
    CHECK_THROWS_WITH_AS(tg::grad(tg::sum(x), {V()}), "grad: input 0 is an empty Variable", tg::Error);
    CHECK_THROWS_WITH_AS(tg::grad<double>({V()}, {x}), "grad: output 0 is an empty Variable", tg::Error);
    CHECK_THROWS_WITH_AS(tg::grad(std::vector<V>{}, std::vector<V>{x}), "grad: no outputs given", tg::Error);
    CHECK_THROWS_WITH_AS(tg::grad(tg::sum(x), std::vector<V>{}), "grad: no inputs given", tg::Error);
    CHECK_THROWS_WITH_AS(V().backward(), "backward: output 0 is an empty Variable", tg::Error);
    const V y = x * 2.0;
    CHECK_THROWS_WITH_AS(y.set_value(Tn({1.0})),
                         "set_value: only a leaf's value can be replaced; this is the output of 'mul_scalar'",
                         tg::Error);
    CHECK_THROWS_WITH_AS(
        y.grad(),
        "grad: only leaves keep gradients; this value of shape (1,) is the output of 'mul_scalar' (use "
        "tapegrad::grad(output, {value}) for the gradient of an intermediate value)",
        tg::Error);
    CHECK_THROWS_WITH_AS(tg::gradcheck<double>([&] { return tg::sum(y); }, {y}),
                         "gradcheck: input 0 is the output of 'mul_scalar'; pass the leaves the function is computed "
                         "from",
                         tg::Error);
}
