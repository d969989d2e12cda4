// Threads: several threads run backward() and grad() at once, into shared leaves and through shared retained graphs.
//
// The contract (docs/threads.md): backward and grad may run concurrently on any number of
// threads; gradients reaching a shared leaf are added under a lock; a graph several threads go
// through must be kept with retain_graph (a pass that releases it consumes it). Every test here
// also runs under ThreadSanitizer (build-tsan/, see setup.sh), which must report no race.
#include <atomic>
#include <functional>
#include <thread>

#include "helpers.hpp"

using namespace tgtest;

namespace {

/// Runs body(t) on `threads` threads at once (released together, so that they overlap) and
/// rethrows the first exception any of them threw.
void run_together(int threads, const std::function<void(int)>& body) {
    std::atomic<int> ready{0};
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(threads));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            ready.fetch_add(1);
            while (ready.load() < threads) std::this_thread::yield();
            try {
                body(t);
            } catch (...) {
                errors[std::size_t(t)] = std::current_exception();
            }
        });
    }
    for (auto& th : pool) th.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

/// Every element of t equals `expected` (to rounding).
bool all_equal(const tg::Tensor<double>& t, double expected) {
    for (std::size_t i = 0; i < t.size(); ++i)
        if (!(std::abs(t.data()[i] - expected) <= 1e-9 * std::abs(expected))) return false;
    return true;
}

}  // namespace

TEST_CASE("two threads running backward 2,000 times each into one shared leaf lose no gradient") {
    // The reproducer, on a wider leaf so that the additions overlap more often. Without
    // a lock a trial lost updates in 5-90% of runs; ten trials make a miss very unlikely.
    for (int trial = 0; trial < 10; ++trial) {
        const V w = tg::parameter(xt::xarray<double>(xt::ones<double>({4096})));
        const V k = tg::constant(xt::xarray<double>(xt::ones<double>({4096}) * 1.5));
        run_together(2, [&](int) {
            for (int i = 0; i < 2000; ++i) tg::sum(w * k).backward();
        });
        INFO("trial " << trial << ": w.grad(0) = " << w.grad()(0));
        REQUIRE(all_equal(w.grad(), 2 * 2000 * 1.5));
    }
}

namespace {
/// A deep intermediate: 3 * depth ops over w.
V deep(const V& w, int depth) {
    V h = w;
    for (int i = 0; i < depth; ++i) h = tg::tanh(h) * 0.9 + h * 0.1;
    return h;
}
/// `extra` more ops on top of h (each thread puts the shared nodes at other places in its order).
V head(const V& h, int extra) {
    V y = h;
    for (int i = 0; i < extra; ++i) y = y * 1.0;
    return y;
}
}  // namespace

TEST_CASE("threads running backward through one shared retained graph each get the whole gradient") {
    // One graph, shared: every pass goes through the same nodes. The engine must keep each
    // pass's bookkeeping to itself (it used to keep it in the nodes, where passes clobbered it).
    const V w = input({64}, 11, -1.0, 1.0);
    const V h = deep(w, 40);
    const V y = tg::sum(h * h);
    const tg::Tensor<double> once = tg::grad(y, {w}, tg::GradOptions().retain_graph(true))[0].value();
    const int passes = 300;
    run_together(2, [&](int t) {
        // thread 1 starts from a root further up, so the shared nodes sit elsewhere in its order
        const V root = t == 0 ? y : tg::sum(head(y, 7) * 3.0);
        for (int i = 0; i < passes; ++i) root.backward(tg::BackwardOptions().retain_graph(true));
    });
    CHECK(close(w.grad(), once * (4.0 * passes), 1e-9));
}

TEST_CASE("threads backpropagating from their own outputs of a shared retained intermediate") {
    const V w = input({32}, 12, -1.0, 1.0);
    const V h = deep(w, 20);  // shared by every thread's loss
    const tg::Tensor<double> dh = tg::grad(tg::sum(h), {w}, tg::GradOptions().retain_graph(true))[0].value();
    const int passes = 200;
    const int threads = 3;
    run_together(threads, [&](int t) {
        const V c = tg::constant(xt::xarray<double>(xt::ones<double>({32}) * double(t + 1)));
        for (int i = 0; i < passes; ++i) tg::sum(head(h, 3 * t) * c).backward(tg::BackwardOptions().retain_graph(true));
    });
    // d/dw sum(h * c) = c dh/dw, c summed over the threads: 1 + 2 + 3
    CHECK(close(w.grad(), dh * (6.0 * passes), 1e-9));
}

TEST_CASE("graphs built on different threads from shared leaves: forward, backward, every gradient kept") {
    const V a = input({32, 32}, 13, -0.2, 0.2);
    const V b = input({32}, 14, -0.5, 0.5);
    const V x = input({16, 32}, 15);
    const int steps = 1000;
    run_together(2, [&](int) {
        for (int i = 0; i < steps; ++i) {
            const V y = tg::tanh(tg::matmul(x, a) + b);
            tg::sum(y * y).backward();
        }
    });
    const V y = tg::tanh(tg::matmul(x, a) + b);
    auto g = tg::grad(tg::sum(y * y), {a, b});
    CHECK(close(a.grad(), g[0].value() * (2.0 * steps), 1e-9));
    CHECK(close(b.grad(), g[1].value() * (2.0 * steps), 1e-9));
}

TEST_CASE("grad() on several threads at once, through one retained graph and into no leaf's grad") {
    // grad() used to mark the leaves it was asked about in the leaves themselves: two threads
    // asking about the same leaf picked up each other's input numbers.
    const V u = input({16}, 16, -1.0, 1.0);
    const V v = input({16}, 17, -1.0, 1.0);
    const V h = deep(u, 20) * v;
    const V y = tg::sum(h * h);
    const auto expected = tg::grad(y, {u, v, h}, tg::GradOptions().retain_graph(true));
    std::atomic<int> wrong{0};
    run_together(2, [&](int t) {
        for (int i = 0; i < 300; ++i) {
            // each thread asks for the inputs in another order
            const auto g = t == 0 ? tg::grad(y, {u, v, h}, tg::GradOptions().retain_graph(true))
                                  : tg::grad(y, {h, v, u}, tg::GradOptions().retain_graph(true));
            const std::size_t iu = t == 0 ? 0 : 2, iv = 1, ih = t == 0 ? 2 : 0;
            if (!close(g[iu].value(), expected[0].value()) || !close(g[iv].value(), expected[1].value()) ||
                !close(g[ih].value(), expected[2].value()))
                wrong.fetch_add(1);
        }
    });
    CHECK(wrong.load() == 0);
    CHECK_FALSE(u.has_grad());
    CHECK_FALSE(v.has_grad());
}

TEST_CASE("create_graph on several threads at once: Hessian-vector products through a shared graph") {
    const V x = input({6}, 18, -1.0, 1.0);
    const V f = tg::sum(tg::tanh(x) * x * x);  // shared first-order graph, retained by create_graph
    const auto reference_hvp = [&](const V& dir) {
        const auto g = tg::grad(f, {x}, tg::GradOptions().create_graph(true));
        return tg::grad(tg::sum(g[0] * dir), {x}, tg::GradOptions().retain_graph(true))[0].value();
    };
    std::vector<V> dirs{input({6}, 19), input({6}, 20)};
    std::vector<tg::Tensor<double>> expected{reference_hvp(dirs[0]), reference_hvp(dirs[1])};
    std::atomic<int> wrong{0};
    run_together(2, [&](int t) {
        for (int i = 0; i < 100; ++i) {
            const auto g = tg::grad(f, {x}, tg::GradOptions().create_graph(true));
            // g[0]'s graph runs through f's nodes: retained, since the other thread uses them too
            const auto hv = tg::grad(tg::sum(g[0] * dirs[std::size_t(t)]), {x}, tg::GradOptions().retain_graph(true));
            if (!close(hv[0].value(), expected[std::size_t(t)], 1e-10)) wrong.fetch_add(1);
            // and backward with create_graph into the shared leaf
            tg::sum(g[0] * dirs[std::size_t(t)]).backward(tg::BackwardOptions().retain_graph(true));
        }
    });
    CHECK(wrong.load() == 0);
    CHECK(close(x.grad(), (expected[0] + expected[1]) * 100.0, 1e-9));
}

TEST_CASE("threads doing their own unrelated work at once: gradients and release as on one thread") {
    const long before = tg::live_node_count();
    std::atomic<int> wrong{0};
    run_together(2, [&](int t) {
        const long mine = tg::live_node_count();
        for (int i = 0; i < 100; ++i) {
            const V x = input({5}, std::uint64_t(100 + t));
            V y = x;
            for (int k = 0; k < 50; ++k) y = tg::tanh(y) + y * 0.5;
            tg::sum(y).backward();
            const auto g = tg::grad(tg::sum(y.detach() * 0.0 + x * 2.0), {x});
            if (!all_equal(g[0].value(), 2.0)) wrong.fetch_add(1);
        }
        if (tg::live_node_count() != mine) wrong.fetch_add(1000);
    });
    CHECK(wrong.load() == 0);
    CHECK(tg::live_node_count() == before);
}

TEST_CASE("threads recording at once on one shared intermediate free the value under it once, and lose nothing") {
    const V x = input({64, 64}, 41, -0.5, 0.5), w = input({64, 64}, 42, 0.5, 1.0);
    auto grad_x = [&](const V& n) {
        const V s = tg::sum(tg::tanh(n) * w);
        return tg::grad(s, {x}, tg::GradOptions().retain_graph(true)).at(0).value();  // n is shared
    };
    tg::Tensor<double> expected;
    {
        tg::KeepValuesGuard keep;
        expected = grad_x((x * w) + w);
    }
    for (int round = 0; round < 50; ++round) {
        V n = x * w;
        n = n + w;  // the product (32 KiB) is now held by the add alone: the first tanh(n) may free it
        std::vector<tg::Tensor<double>> got(2);
        run_together(2, [&](int t) { got[std::size_t(t)] = grad_x(n); });
        CHECK(got[0] == expected);
        CHECK(got[1] == expected);
        CHECK(n.inputs().at(0).node()->value_freed.load());
    }
}

TEST_CASE("handles to one node copied and dropped on several threads while another locks a watcher free it once") {
    // The count of owners lives in the node's own block (NodeRef): its last owner on any thread frees it, once, and
    // a WeakNodeRef locked at the same time either gets an owner that keeps the node whole or nothing.
    for (int round = 0; round < 200; ++round) {
        V leaf = tg::parameter(xt::xarray<double>{1.0, 2.0, 3.0});
        const tg::WeakNodeRef<tg::Node<double>> watcher(leaf.node_ptr());
        std::vector<V> copies(3, leaf);
        leaf.reset();
        std::atomic<int> locked_whole{0}, wrong{0};
        run_together(3, [&](int t) {
            if (t == 2) {
                for (int k = 0; k < 50; ++k)
                    if (const tg::NodeRef<tg::Node<double>> owner = watcher.lock())
                        locked_whole += owner->value.size() == 3 && owner->value(2) == 3.0;
                copies[2].reset();
                return;
            }
            for (int k = 0; k < 100; ++k) {
                const V more = copies[std::size_t(t)];
                wrong += more.value()(1) != 2.0;
            }
            copies[std::size_t(t)].reset();
        });
        CHECK(watcher.expired());
        CHECK_FALSE(watcher.lock());
        CHECK(wrong.load() == 0);
        CHECK(locked_whole.load() <= 50);
    }
}
