// Anomaly mode: NaN/Inf in a forward or backward is reported with the op, the input or output, and the forward chain.
#include <thread>

#include "helpers.hpp"

using namespace tgtest;

namespace {
using Tn = tg::Tensor<double>;
}  // namespace

TEST_CASE("off by default: NaN passes silently, and nothing is checked") {
    CHECK_FALSE(tg::anomaly_enabled());
    const V x = tg::parameter(xt::xarray<double>{-1.0, 4.0});
    const V y = tg::log(x);
    CHECK(std::isnan(y.value()(0)));
    CHECK_NOTHROW(tg::sum(y).backward());
}

TEST_CASE("a forward NaN names the op, its output element and the chain of ops with shapes") {
    const V x = tg::parameter(xt::xarray<double>{{0.5, 1.0, 2.0}, {3.0, 4.0, 5.0}});
    const V w = tg::parameter(shaped({1.0, -1.0, 0.5}, {3, 1}));
    tg::DetectAnomalyGuard anomaly;
    const V h = tg::matmul(x, w);  // (2,1): [0.5 - 1 + 1, 3 - 4 + 2.5] = [0.5, 1.5]
    const V centred = h - 1.0;     // [-0.5, 0.5]
    CHECK_THROWS_WITH_AS(tg::sqrt(centred),
                         "anomaly: 'sqrt' produced NaN in its output of shape (2,1) (flat index 0); chain: "
                         "leaf (2,3) -> matmul (2,1) -> add_scalar (2,1) -> sqrt (2,1)",
                         tg::Error);
    CHECK_THROWS_WITH_AS(tg::div(tg::exp(centred), centred - centred),
                         "anomaly: 'div' produced Inf in its output of shape (2,1) (flat index 0); chain: "
                         "leaf (2,3) -> matmul (2,1) -> add_scalar (2,1) -> exp (2,1) -> div (2,1)",
                         tg::Error);
}

TEST_CASE("the chain follows the input that holds the NaN, not just the first one") {
    tg::DetectAnomalyGuard anomaly;
    const V a = tg::parameter(xt::xarray<double>{1.0, 2.0});
    V b;
    {
        tg::DetectAnomalyGuard off(false);  // let a NaN in unnoticed on the second input
        b = tg::log(tg::parameter(xt::xarray<double>{-1.0, 1.0}) * 1.0);
    }
    CHECK_THROWS_WITH_AS(tg::tanh(a) + b,
                         "anomaly: 'add' produced NaN in its output of shape (2,) (flat index 0); chain: "
                         "leaf (2,) -> mul_scalar (2,) -> log (2,) -> add (2,)",
                         tg::Error);
}

TEST_CASE("a backward Inf names the op, which input's gradient, and the forward chain") {
    tg::DetectAnomalyGuard anomaly;
    const V a = tg::parameter(xt::xarray<double>{1.0, 2.0});
    const V b = tg::parameter(xt::xarray<double>{1e-200, 1.0});
    const V y = tg::sum(tg::tanh(a) / b);  // finite: tanh(1) * 1e200; d/db = -y / b = -1e400 overflows
    CHECK_THROWS_WITH_AS(y.backward(),
                         "anomaly: backward of 'div' produced Inf in the gradient of its input 1 (shape (2,), flat "
                         "index 0); forward chain: leaf (2,) -> tanh (2,) -> div (2,)",
                         tg::Error);
    // Under create_graph the VJP's own ops are recorded, so they are checked as forward ops:
    // the Inf is found where sqrt's VJP divides by 2 sqrt(x), and the chain runs through sqrt.
    const V z = tg::sum(tg::sqrt(b * 0.0 + a - 1.0));  // sqrt(0) at element 0
    CHECK_THROWS_WITH_AS(tg::grad(z, {a}, tg::GradOptions().create_graph(true)),
                         "anomaly: 'div' produced Inf in its output of shape (2,) (flat index 0); chain: leaf (2,) -> "
                         "mul_scalar (2,) -> add (2,) -> add_scalar (2,) -> sqrt (2,) -> mul_scalar (2,) -> div (2,)",
                         tg::Error);
}

TEST_CASE("anomaly mode is thread-local and the guard restores what was there") {
    {
        tg::DetectAnomalyGuard anomaly;
        bool other_thread_sees_it = true;
        std::thread([&] { other_thread_sees_it = tg::anomaly_enabled(); }).join();
        CHECK_FALSE(other_thread_sees_it);
        {
            tg::DetectAnomalyGuard off(false);
            CHECK_FALSE(tg::anomaly_enabled());
        }
        CHECK(tg::anomaly_enabled());
    }
    CHECK_FALSE(tg::anomaly_enabled());
    std::string error;
    std::thread([&] {
        tg::DetectAnomalyGuard anomaly;
        try {
            tg::log(tg::parameter(xt::xarray<double>{-1.0}));
        } catch (const tg::Error& e) {
            error = e.what();
        }
    }).join();
    CHECK(error.find("anomaly: 'log' produced NaN") == 0);
    CHECK_FALSE(tg::anomaly_enabled());
    CHECK_NOTHROW(tg::log(tg::parameter(xt::xarray<double>{-1.0})));
}

TEST_CASE("a long chain is cut to its last 16 ops") {
    tg::DetectAnomalyGuard anomaly;
    V h = tg::parameter(xt::xarray<double>{0.5});
    for (int i = 0; i < 100; ++i) h = tg::tanh(h) * 1.0;
    std::string error;
    try {
        tg::log(h - 1.0);
    } catch (const tg::Error& e) {
        error = e.what();
    }
    CHECK(error.find("chain: ... -> ") != std::string::npos);
    CHECK(error.find("-> add_scalar (1,) -> log (1,)") != std::string::npos);
    CHECK(error.find("leaf") == std::string::npos);
}

TEST_CASE("nothing is left behind when anomaly mode throws") {
    const long before = tg::live_node_count();
    {
        tg::DetectAnomalyGuard anomaly;
        const V x = tg::parameter(xt::xarray<double>{0.0, 1.0});
        CHECK_THROWS_AS(tg::log(x * 2.0), tg::Error);
        CHECK_THROWS_AS(tg::sum(tg::sqrt(x)).backward(), tg::Error);
    }
    CHECK(tg::live_node_count() == before);
}
