// Deep graphs: a million-op chain runs backward and is released without recursion, on a small stack too.
#include <pthread.h>

#include <functional>

#include "helpers.hpp"

using namespace tgtest;

namespace {

/// y = y + y * 1e-6, n times (2n ops); returns dy/dx, which is (1 + 1e-6)^n.
double chain_gradient(std::size_t n) {
    const V x = tg::parameter(xt::xarray<double>{1.0});
    V y = x;
    for (std::size_t i = 0; i < n; ++i) y = y + y * 1e-6;
    tg::sum(y).backward();
    y.reset();  // the graph is already released; dropping the last handle frees the nodes
    return x.grad()(0);
}

/// Runs f on a thread with a `stack_bytes` stack and reports whether it finished.
bool run_on_small_stack(std::size_t stack_bytes, const std::function<void()>& f) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, stack_bytes);
    pthread_t thread;
    auto trampoline = [](void* p) -> void* {
        (*static_cast<const std::function<void()>*>(p))();
        return nullptr;
    };
    const bool started = pthread_create(&thread, &attr, trampoline, const_cast<std::function<void()>*>(&f)) == 0;
    pthread_attr_destroy(&attr);
    if (started) pthread_join(thread, nullptr);
    return started;
}

}  // namespace

TEST_CASE("a chain of 1,000,000 ops runs backward and is released") {
    const std::size_t n = 500000;  // two ops per step
    CHECK(chain_gradient(n) == doctest::Approx(std::pow(1 + 1e-6, double(n))).epsilon(1e-9));
}

TEST_CASE("a chain of 1,000,000 ops kept alive after backward is released when dropped") {
    const V x = tg::parameter(xt::xarray<double>{1.0});
    V y = x;
    for (int i = 0; i < 500000; ++i) y = y + y * 1e-6;
    tg::sum(y).backward(tg::BackwardOptions().retain_graph(true));
    y.reset();  // the retained graph is freed here, node by node
    CHECK(x.grad()(0) > 1.0);
}

TEST_CASE("the same on a thread with a 256 KiB stack") {
    double g = 0;
    const bool ran = run_on_small_stack(256 * 1024, [&] { g = chain_gradient(500000); });
    CHECK(ran);
    CHECK(g == doctest::Approx(std::pow(1 + 1e-6, 500000.0)).epsilon(1e-9));
    bool released = false;
    run_on_small_stack(256 * 1024, [&] {
        const V x = tg::parameter(xt::xarray<double>{1.0});
        V y = x;
        for (int i = 0; i < 200000; ++i) y = tg::tanh(y) + y;
        y.reset();  // never backpropagated: the whole recorded graph is dropped at once
        released = true;
    });
    CHECK(released);
}
