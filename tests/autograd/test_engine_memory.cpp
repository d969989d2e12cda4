// Memory of backward: the sweep frees each node once it has passed it, so backward's peak stays near forward's.
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include <tapegrad/autograd/op.hpp>

#include "helpers.hpp"

using namespace tgtest;

namespace {

/// y = x, whose VJP first calls a hook: lets a test look at the graph in the middle of a sweep.
template <class T>
struct Probe {
    static constexpr const char* name = "probe";
    tg::Tensor<T> forward(const tg::Tensor<T>& x) const { return x; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        hook();
        a.dx[0] = std::move(a.g);
    }
    std::function<void()> hook;
};

V probe(const V& x, std::function<void()> hook) { return tg::apply(Probe<double>{std::move(hook)}, x); }

/// Weak references to every node of a chain of `n` ops on top of `bottom`; returns the top.
V chain_above(const V& bottom, std::size_t n, std::vector<tg::WeakNodeRef<tg::Node<double>>>& nodes) {
    V y = bottom;
    for (std::size_t i = 0; i < n; ++i) {
        y = i % 2 ? tg::tanh(y) : y * 1.001;
        nodes.push_back(y.node_ptr());
    }
    return y;
}

std::size_t expired(const std::vector<tg::WeakNodeRef<tg::Node<double>>>& nodes) {
    std::size_t n = 0;
    for (const auto& w : nodes) n += w.expired();
    return n;
}

}  // namespace

TEST_CASE("backward frees every node it has passed before it reaches the nodes below") {
    const long before = tg::live_node_count();
    std::vector<tg::WeakNodeRef<tg::Node<double>>> above;
    std::size_t freed_at_probe = 0;
    long live_at_probe = -1;
    {
        const V x = tg::parameter(xt::xarray<double>{0.3, -0.2});
        const V p = probe(x * 2.0, [&] {
            freed_at_probe = expired(above);
            live_at_probe = tg::live_node_count() - before;
        });
        V y = tg::sum(chain_above(p, 1000, above));
        CHECK(tg::live_node_count() - before > 1000);
        y.backward();
        CHECK(x.grad()(0) != 0.0);
    }
    // Nothing above the probe is held by the test: the sweep had freed all of it when it got there.
    CHECK(freed_at_probe == above.size());
    // Left at that moment: x, x * 2, the probe itself, the root and a few gradients' worth.
    CHECK(live_at_probe >= 0);
    CHECK(live_at_probe <= 5);
    CHECK(tg::live_node_count() == before);
}

TEST_CASE("a node the caller still holds loses its inputs and saved values as soon as the sweep passes it") {
    std::vector<tg::WeakNodeRef<tg::Node<double>>> above;
    std::size_t inputs_of_held = 99;
    const V x = tg::parameter(xt::xarray<double>{0.5});
    V held;
    const V p = probe(tg::relu(x), [&] { inputs_of_held = held.inputs().size(); });
    held = tg::relu(p * 3.0);  // relu saves a mask for its VJP
    V y = tg::sum(chain_above(held, 10, above));
    y.backward();
    CHECK(inputs_of_held == 0);
    CHECK(expired(above) == above.size());
    // held is released: a second backward through it is the usual clear error
    CHECK_THROWS_WITH_AS(tg::sum(held).backward(), doctest::Contains("was already freed by an earlier backward"),
                         tg::Error);
}

TEST_CASE("with retain_graph nothing is freed during the sweep, and the graph can be swept again") {
    std::vector<tg::WeakNodeRef<tg::Node<double>>> above;
    std::size_t freed_at_probe = 99;
    const V x = tg::parameter(xt::xarray<double>{0.3});
    const V p = probe(x * 2.0, [&] { freed_at_probe = expired(above); });
    const V y = tg::sum(chain_above(p, 100, above));
    y.backward(tg::BackwardOptions().retain_graph(true));
    CHECK(freed_at_probe == 0);
    const double first = x.grad()(0);
    y.backward();  // without retain_graph this time: it frees as it goes
    CHECK(freed_at_probe == above.size());
    CHECK(x.grad()(0) == doctest::Approx(2 * first));
}

TEST_CASE("grad() frees passed nodes too, also those that lead to no requested input") {
    std::vector<tg::WeakNodeRef<tg::Node<double>>> above, side;
    std::size_t freed_at_probe = 0, side_freed_at_probe = 0;
    const V x = tg::parameter(xt::xarray<double>{0.3, 0.1});
    const V c = tg::parameter(xt::xarray<double>{1.5, 2.0});  // not asked for
    const V p = probe(x * 2.0, [&] {
        freed_at_probe = expired(above);
        side_freed_at_probe = expired(side);
    });
    const V s = chain_above(c, 20, side);  // a branch that does not lead to x
    V y = tg::sum(chain_above(p, 50, above) * s);
    const auto g = tg::grad(y, {x});
    CHECK(g[0].value()(0) != 0.0);
    CHECK(freed_at_probe == above.size());
    y.reset();
    CHECK(expired(side) == side.size() - 1);  // s is still held here
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
namespace {
long status_bytes(const char* key) {
    std::ifstream f("/proc/self/status");
    const std::string prefix = std::string(key) + ":";
    for (std::string line; std::getline(f, line);)
        if (line.rfind(prefix, 0) == 0) return std::atol(line.c_str() + prefix.size()) * 1024;
    return -1;
}
}  // namespace

TEST_CASE("backward's resident-memory peak over a 300,000-op chain stays within 100 bytes per op above forward's") {
    // Before: gradient slots for every node (248 B each) and nothing freed until the end made
    // the peak 37% higher than the graph (~210 B per op). The bound leaves room for the sweep's own
    // tables (~67 B per op: the order, the ids, the index). It is in bytes per op, not a share of the
    // graph, since the graph itself shrinks as nodes and values get smaller (574 B per op with every
    // value allocated, ~425 with a 1-element value inside its Tensor).
    const std::size_t ops = 300000;
    const auto w = tg::parameter(tg::Tensor<float>({1}, 0.9f));
    const long base = status_bytes("VmRSS");
    tg::Variable<float> y = tg::parameter(tg::Tensor<float>({1}, 0.5f));
    for (std::size_t k = 0; k < ops; ++k) y = k % 3 == 0 ? y * w : k % 3 == 1 ? y + w : tg::tanh(y);
    const long forward = status_bytes("VmRSS");
    {
        std::ofstream clear("/proc/self/clear_refs");
        clear << "5";  // VmHWM restarts from VmRSS: what follows measures backward alone
        clear.flush();
        REQUIRE_MESSAGE(bool(clear), "cannot reset the peak through /proc/self/clear_refs");
    }
    tg::sum(y).backward();
    const long peak = status_bytes("VmHWM");
    const double graph = double(forward - base);
    INFO("graph " << graph / double(ops) << " B/op; backward peak above forward "
                  << double(peak - forward) / double(ops) << " B/op");
    CHECK(graph > 100.0 * double(ops));  // the measurement sees the graph at all
    CHECK(double(peak - forward) <= 100.0 * double(ops));
}
#endif
