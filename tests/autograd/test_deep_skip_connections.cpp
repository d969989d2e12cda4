// Deep graphs with skip connections: 100,000 ops forward, backward (plain and create_graph) and released on a 256 KiB
// stack.
//
// test_deep.cpp covers the straight million-op chain. Here every step also reads a value from
// up to 97 steps back, so the graph is a DAG with long edges: the topological order, the
// accumulation of several gradients into one node and the release all see shared inputs.
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>

#include "helpers.hpp"

using namespace tgtest;

namespace {

/// Runs f on a thread with a `stack_bytes` stack; rethrows what it threw.
void run_on_small_stack(std::size_t stack_bytes, const std::function<void()>& f) {
    struct Job {
        const std::function<void()>* f;
        std::exception_ptr error;
    } job{&f, nullptr};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, stack_bytes);
    pthread_t thread;
    auto trampoline = [](void* p) -> void* {
        auto* j = static_cast<Job*>(p);
        try {
            (*j->f)();
        } catch (...) {
            j->error = std::current_exception();
        }
        return nullptr;
    };
    const int rc = pthread_create(&thread, &attr, trampoline, &job);
    pthread_attr_destroy(&attr);
    REQUIRE(rc == 0);
    pthread_join(thread, nullptr);
    if (job.error) std::rethrow_exception(job.error);
}

constexpr std::size_t stack_256k = 256 * 1024;
constexpr double c = 1e-3;

/// Distance of the skip connection of step i: 2..97 steps back, varying.
std::size_t skip_of(std::size_t i) { return 2 + (i * 37) % 96; }

/// h[0] = x; h[i] = h[i-1] + c * tanh(h[i - skip]) (h[0] where that is before the start):
/// three ops per step. Returns the last value; `steps` steps make 3 * steps ops.
V skip_chain(const V& x, std::size_t steps) {
    std::vector<V> h;
    h.reserve(steps + 1);
    h.push_back(x);
    for (std::size_t i = 1; i <= steps; ++i) {
        const std::size_t s = skip_of(i);
        const V& back = h[i >= s ? i - s : 0];
        h.push_back(h[i - 1] + tg::tanh(back) * c);
    }
    return h.back();
}

/// The same recurrence in plain doubles, with its forward-mode derivative dh[i]/dx
/// alongside: the reference for the gradient backward computes.
std::pair<double, double> skip_chain_reference(double x, std::size_t steps) {
    std::vector<double> h{x}, d{1.0};
    h.reserve(steps + 1);
    d.reserve(steps + 1);
    for (std::size_t i = 1; i <= steps; ++i) {
        const std::size_t s = skip_of(i), j = i >= s ? i - s : 0;
        const double t = std::tanh(h[j]);
        h.push_back(h[i - 1] + c * t);
        d.push_back(d[i - 1] + c * (1 - t * t) * d[j]);
    }
    return {h.back(), d.back()};
}

constexpr std::size_t steps = 33334;  // 100,002 ops

}  // namespace

TEST_CASE("a 100,000-op chain with skip connections runs forward, backward and is released on a 256 KiB stack") {
    const auto [value, derivative] = skip_chain_reference(0.3, steps);
    double got_value = 0, got_grad = 0;
    long left_over = -1;
    std::size_t ops = 0;
    run_on_small_stack(stack_256k, [&] {
        const long before = tg::live_node_count();
        {
            const V x = tg::parameter(xt::xarray<double>{0.3});
            V y = skip_chain(x, steps);
            ops = tg::backward_order(y).size();
            got_value = y.item();
            tg::sum(y).backward();
            got_grad = x.grad()(0);
        }
        left_over = tg::live_node_count() - before;
    });
    CHECK(ops == 3 * steps);
    CHECK(got_value == doctest::Approx(value).epsilon(1e-12));
    CHECK(got_grad == doctest::Approx(derivative).epsilon(1e-10));
    CHECK(got_grad > 1.5);  // the skips matter: a plain chain of these steps would give ~1
    CHECK(left_over == 0);
}

TEST_CASE("the same graph kept by retain_graph, backpropagated twice, then dropped at once on a 256 KiB stack") {
    const double derivative = skip_chain_reference(-0.7, steps).second;
    double first = 0, second = 0;
    long left_over = -1;
    run_on_small_stack(stack_256k, [&] {
        const long before = tg::live_node_count();
        {
            const V x = tg::parameter(xt::xarray<double>{-0.7});
            const V y = tg::sum(skip_chain(x, steps));
            y.backward(tg::BackwardOptions().retain_graph(true));
            first = x.grad()(0);
            y.backward();
            second = x.grad()(0);
        }  // y, the last handle of the retained graph, goes here: 100,000 nodes freed iteratively
        left_over = tg::live_node_count() - before;
    });
    CHECK(first == doctest::Approx(derivative).epsilon(1e-10));
    CHECK(second == doctest::Approx(2 * derivative).epsilon(1e-10));
    CHECK(left_over == 0);
}

TEST_CASE("create_graph through 100,000 skip-connected ops: a second derivative on a 256 KiB stack") {
    // d2y/dx2 by central differences of the reference derivative.
    const double h = 1e-4;
    const double second_ref =
        (skip_chain_reference(0.2 + h, steps).second - skip_chain_reference(0.2 - h, steps).second) / (2 * h);
    double first = 0, second = 0;
    long left_over = -1;
    run_on_small_stack(stack_256k, [&] {
        const long before = tg::live_node_count();
        {
            const V x = tg::parameter(xt::xarray<double>{0.2});
            const V y = tg::sum(skip_chain(x, steps));
            const V g = tg::grad(y, {x}, tg::GradOptions().create_graph(true))[0];  // a recorded graph as deep again
            first = g.item();
            second = tg::grad(tg::sum(g), {x})[0].item();
        }
        left_over = tg::live_node_count() - before;
    });
    CHECK(first == doctest::Approx(skip_chain_reference(0.2, steps).second).epsilon(1e-10));
    CHECK(second == doctest::Approx(second_ref).epsilon(1e-5));
    CHECK(left_over == 0);
}

TEST_CASE("a graph whose backward throws half-way is released on a 256 KiB stack too") {
    long left_over = -1;
    std::string error;
    run_on_small_stack(stack_256k, [&] {
        const long before = tg::live_node_count();
        {
            const V x = tg::parameter(xt::xarray<double>{0.1, 0.2});
            const V y = tg::sum(skip_chain(x, steps));
            x.mutable_value()(0) = 0.5;  // the ops that read x find out when backward reaches them, at the very end
            try {
                y.backward();
            } catch (const tg::Error& e) {
                error = e.what();
            }
        }
        left_over = tg::live_node_count() - before;
    });
    CHECK(error.find("was modified in place after") != std::string::npos);
    CHECK(left_over == 0);
}

TEST_CASE("a deep graph held by a thread_local Variable is released at thread exit without recursion") {
    // Thread-local objects die in the reverse order of their construction. `keep` is made
    // before anything on this thread releases a node, so the engine's own per-thread state is
    // made after it and would be gone first: the graph must still be released iteratively.
    bool done = false;
    run_on_small_stack(stack_256k, [&] {
        thread_local V keep;
        const V x = tg::parameter(xt::xarray<double>{0.5});
        { const V t = tg::tanh(x); }  // the first node this thread frees
        keep = skip_chain(x, steps);
        done = true;
    });  // `keep` and its 100,000 nodes go when the thread exits
    CHECK(done);
}

/// A global that outlives main(), e.g. the last prediction kept for a report at exit (set
/// only in the child process of the test below).
V last_output;

TEST_CASE("a deep graph held by a global Variable is released at program exit without recursion") {
    // A child process: exit() runs the destructors of statics after the main thread's
    // thread-local objects are gone. A million-op chain must not overflow the stack there.
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        {
            const V x = tg::parameter(xt::xarray<double>{0.5});
            { const V t = tg::tanh(x); }  // the first node this process frees
            V y = x;
            for (int i = 0; i < 500000; ++i) y = y + y * 1e-6;
            last_output = y;
        }  // exit() does not unwind: only last_output may hold the graph then
        std::exit(0);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_FALSE(WIFSIGNALED(status));
    if (WIFSIGNALED(status)) MESSAGE("the child died of signal " << WTERMSIG(status));
}
