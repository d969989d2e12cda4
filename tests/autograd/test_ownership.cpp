// Ownership without leaks: weak references and the live-node counter show every node is freed.
//
// The rule (DESIGN.md): an output owns its inputs, never the reverse, and a VJP gets its own
// output as an argument instead of capturing it. These tests would catch a node that keeps
// itself alive (a cycle through its saved output), a closure that pins a graph, and graphs
// left behind by higher-order gradients or by errors.
#include <functional>
#include <memory>

#include <tapegrad/autograd/op.hpp>

#include "helpers.hpp"

using namespace tgtest;

namespace {

using Weak = tg::WeakNodeRef<tg::Node<double>>;

/// Ops whose VJP needs the op's own output (y), each applied to x.
std::vector<std::pair<const char*, std::function<V(const V&)>>> output_users() {
    return {
        {"tanh", [](const V& x) { return tg::tanh(x); }},
        {"sigmoid", [](const V& x) { return tg::sigmoid(x); }},
        {"exp", [](const V& x) { return tg::exp(x); }},
        {"sqrt", [](const V& x) { return tg::sqrt(x * x + 1.0); }},
        {"div", [](const V& x) { return x / (x * x + 1.0); }},
        {"pow", [](const V& x) { return tg::pow(x * x + 1.0, x); }},
        {"softmax", [](const V& x) { return tg::softmax(x, 0); }},
        {"log_softmax", [](const V& x) { return tg::log_softmax(x, 0); }},
        {"logsumexp", [](const V& x) { return tg::logsumexp(x); }},
        {"max", [](const V& x) { return tg::max(x); }},
        {"elu", [](const V& x) { return tg::elu(x); }},
    };
}

/// What the design forbids: an op that keeps a strong handle to its own output (say, to
/// read y in its VJP). Used only to show that the checks below would see the cycle.
struct SelfKeeping {
    static constexpr const char* name = "self_keeping";
    tg::Tensor<double> forward(const tg::Tensor<double>& x) const { return x; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        a.dx[0] = G(a.g);
    }
    V self;
};
using SelfKeepingNode = tg::detail::OpNode<SelfKeeping, double, 1>;

}  // namespace

TEST_CASE("the checks see a node that keeps itself alive") {
    const long before = tg::live_node_count();
    Weak out;
    {
        const V x = tg::parameter(xt::xarray<double>{1.0});
        const V y = tg::apply(SelfKeeping{}, x);
        static_cast<SelfKeepingNode*>(y.node())->op().self = y;  // the cycle
        out = y.node_ptr();
    }
    CHECK_FALSE(out.expired());
    CHECK(tg::live_node_count() == before + 2);                          // the op and its input leaf
    static_cast<SelfKeepingNode*>(out.lock().get())->op().self.reset();  // break it, or LeakSanitizer reports it
    CHECK(out.expired());
    CHECK(tg::live_node_count() == before);
}

TEST_CASE("a node whose VJP needs its own output does not keep itself alive") {
    const long before = tg::live_node_count();
    for (const auto& [name, f] : output_users()) {
        for (int mode = 0; mode < 4; ++mode) {  // no backward, backward, retain_graph, create_graph
            CAPTURE(name);
            CAPTURE(mode);
            Weak out, in;
            {
                const V x = tg::parameter(xt::xarray<double>{0.5, -1.5, 2.0});
                V y = f(x);
                CHECK(std::string(y.op_name()) != "leaf");
                out = y.node_ptr();
                if (!y.inputs().empty()) in = y.inputs()[0].node_ptr();
                const V loss = tg::sum(y * y);
                if (mode == 1) loss.backward();
                if (mode == 2) loss.backward(tg::BackwardOptions().retain_graph(true));
                if (mode == 3) {
                    const V g = tg::grad(loss, {x}, tg::GradOptions().create_graph(true))[0];
                    tg::sum(g).backward();
                }
                y.reset();
                if (mode == 0 || mode == 2) CHECK_FALSE(out.expired());  // the loss still holds it
            }
            CHECK(out.expired());
            CHECK(in.expired());
            CHECK(tg::live_node_count() == before);
        }
    }
}

TEST_CASE("closures that capture Variables do not pin the graph once they are gone") {
    const long before = tg::live_node_count();
    Weak w_node;
    {
        const V w = tg::parameter(xt::xarray<double>{{0.3, -0.2}, {0.1, 0.4}});
        const V b = tg::parameter(xt::xarray<double>{0.05, -0.05});
        const V x = tg::constant(xt::xarray<double>{{1.0, 2.0}, {3.0, 4.0}});
        w_node = w.node_ptr();
        // A "model" as a closure, the way gradcheck and optimizers take one.
        std::function<V()> model = [w, b, x] { return tg::sum(tg::tanh(tg::linear(x, w, b))); };
        std::function<V()> loss_of_model = [model] { return model() * model(); };
        loss_of_model().backward();
        CHECK(w.has_grad());
        CHECK(tg::gradcheck<double>(loss_of_model, {w, b}).passed);
        CHECK(tg::gradgradcheck<double>(loss_of_model, {w, b}).passed);
        // A closure that keeps a recorded result alive holds that graph, and only while it lives.
        const V kept = model();
        std::function<double()> reader = [kept] { return kept.item(); };
        CHECK(tg::live_node_count() > before + 3);
        reader = nullptr;
    }
    CHECK(w_node.expired());
    CHECK(tg::live_node_count() == before);
}

TEST_CASE("higher-order gradients keep nothing alive after they are dropped") {
    const long before = tg::live_node_count();
    {
        const V x = tg::parameter(xt::xarray<double>{0.2, -0.4, 0.9});
        const V y = tg::sum(tg::tanh(x) * tg::exp(x));
        // backward(create_graph) stores plain gradients in leaves: no graph is kept through them
        y.backward(tg::BackwardOptions().create_graph(true));
        CHECK(x.has_grad());
        // a Hessian-vector product, then a third derivative
        const V g = tg::grad(y, {x}, tg::GradOptions().create_graph(true))[0];
        const V hv = tg::grad(tg::sum(g * 2.0), {x}, tg::GradOptions().create_graph(true))[0];
        const V third = tg::grad(tg::sum(hv), {x})[0];
        CHECK(third.is_leaf());
    }
    CHECK(tg::live_node_count() == before);
}

TEST_CASE("many training-like steps on the same parameters do not grow the number of live nodes") {
    const V w = tg::parameter(xt::xarray<double>{{0.1, 0.2}, {0.3, 0.4}});
    const V x = tg::constant(xt::xarray<double>{{1.0, -1.0}, {0.5, 2.0}});
    const long start = tg::live_node_count();
    for (int step = 0; step < 200; ++step) {
        w.zero_grad();
        const V loss = tg::mean(tg::sigmoid(tg::matmul(x, w)) * 3.0);
        loss.backward();
        tg::NoGradGuard no_grad;  // the update, as an optimizer does it
        w.mutable_value() -= 0.1 * w.grad();
    }
    CHECK(tg::live_node_count() == start);
}

TEST_CASE("node handles: counts, watchers and moves") {
    const long before = tg::live_node_count();
    {
        V a = tg::parameter(xt::xarray<double>{1.0});
        const tg::NodeRef<tg::Node<double>>& ref = a.node_ptr();
        CHECK(ref.use_count() == 1);
        V b = a;
        CHECK(ref.use_count() == 2);
        Weak w(a.node_ptr());
        CHECK_FALSE(w.expired());
        {
            const tg::NodeRef<tg::Node<double>> locked = w.lock();
            REQUIRE(locked);
            CHECK(locked.get() == a.node());
            CHECK(ref.use_count() == 3);
        }
        b = std::move(a);  // the same node on both sides: one owner less, the node stays
        CHECK_FALSE(a.defined());
        CHECK(b.node_ptr().use_count() == 1);
        V& alias = b;
        b = std::move(alias);  // moved onto itself: nothing changes
        CHECK(b.defined());
        CHECK(b.value()(0) == 1.0);
        Weak copy = w;
        b.reset();
        CHECK(w.expired());
        CHECK(copy.expired());
        CHECK_FALSE(w.lock());
        CHECK(tg::live_node_count() == before);  // destroyed at once; the watchers keep only its counts
    }
    CHECK(tg::live_node_count() == before);
    CHECK(Weak().expired());
    CHECK_FALSE(tg::NodeRef<tg::Node<double>>());
}
