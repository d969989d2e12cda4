// matmul (2-D, batched, matrix-vector, dot) and the fused linear op: values, gradients, errors.
#include <tapegrad/autograd/kernels/detail/blas.hpp>
#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xview.hpp>

#include "helpers.hpp"

using namespace tgtest;

namespace {
V c(xt::xarray<double> x) { return tg::constant(x); }
xt::xarray<double> plain(const V& v) { return v.value(); }
}  // namespace

TEST_CASE("matmul: 2-D, matrix-vector, vector-matrix and dot against xtensor-blas") {
    const V a = input({3, 4}, 1), b = input({4, 2}, 2), v = input({4}, 3), w = input({3}, 4);
    CHECK(close(tg::matmul(a, b).value(), xt::linalg::dot(plain(a), plain(b))));
    CHECK(close(tg::matmul(a, v).value(), xt::linalg::dot(plain(a), plain(v))));
    CHECK(close(tg::matmul(w, a).value(), xt::linalg::dot(plain(w), plain(a))));
    const V d = tg::matmul(v, v);
    CHECK(d.dim() == 0);
    CHECK(d.item() == doctest::Approx(xt::linalg::vdot(plain(v), plain(v))));
    CHECK(close(tg::matmul(c({{1.0, 2.0}, {3.0, 4.0}}), c(shaped({5.0, 6.0}, {2, 1}))).value(),
                shaped({17, 39}, {2, 1})));
}

TEST_CASE("matmul: batched, with broadcast batch dimensions") {
    const V a = input({2, 3, 4}, 5), b = input({4, 5}, 6), bb = input({2, 4, 5}, 7), b1 = input({1, 4, 5}, 8);
    const auto ab = tg::matmul(a, bb).value();
    for (std::size_t i = 0; i < 2; ++i) {
        const xt::xarray<double> ai = xt::view(plain(a), i), bi = xt::view(plain(bb), i);
        const xt::xarray<double> yi = xt::view(ab, i);
        CHECK(close(yi, xt::linalg::dot(ai, bi)));
        const xt::xarray<double> y2 = xt::view(tg::matmul(a, b).value(), i);
        CHECK(close(y2, xt::linalg::dot(ai, plain(b))));
        const xt::xarray<double> y3 = xt::view(tg::matmul(a, b1).value(), i);
        CHECK(close(y3, xt::linalg::dot(ai, xt::xarray<double>(xt::view(plain(b1), 0)))));
    }
    CHECK(tg::matmul(input({2, 1, 3, 4}, 9), input({5, 4, 2}, 10)).shape() == tg::Shape{2, 5, 3, 2});
    CHECK(tg::matmul(input({2, 3, 4}, 11), input({4}, 12)).shape() == tg::Shape{2, 3});
    CHECK(tg::matmul(input({4}, 13), input({2, 4, 3}, 14)).shape() == tg::Shape{2, 3});
}

TEST_CASE("matmul: gradients for every form") {
    const V a = input({3, 4}, 1), b = input({4, 2}, 2), v = input({4}, 3), w = input({3}, 4);
    check_gradients([&] { return tg::matmul(a, b); }, {a, b});
    check_gradients([&] { return tg::matmul(a, v); }, {a, v});
    check_gradients([&] { return tg::matmul(w, a); }, {w, a});
    check_gradients([&] { return tg::matmul(v, v); }, {v});
    const V x = input({2, 3, 4}, 5), y = input({4, 2}, 6), z = input({1, 4, 2}, 7), u = input({2, 4, 2}, 8);
    check_gradients([&] { return tg::matmul(x, y); }, {x, y});
    check_gradients([&] { return tg::matmul(x, z); }, {x, z});
    check_gradients([&] { return tg::matmul(x, u); }, {x, u});
    check_gradients([&] { return tg::matmul(x, v); }, {x, v});
    check_gradients([&] { return tg::matmul(tg::transpose(x, 1, 2), x); }, {x});
}

TEST_CASE("linear: x W^T + b as one op") {
    const V x = input({5, 3}, 21), W = input({2, 3}, 22), b = input({2}, 23);
    const V y = tg::linear(x, W, b);
    CHECK(std::string(y.op_name()) == "linear");
    CHECK(close(y.value(), xt::linalg::dot(plain(x), xt::transpose(plain(W))) + plain(b)));
    CHECK(close(tg::linear(x, W).value(), xt::linalg::dot(plain(x), xt::transpose(plain(W)))));
    check_gradients([&] { return tg::linear(x, W, b); }, {x, W, b});
    check_gradients([&] { return tg::linear(x, W); }, {x, W});
    const V x3 = input({2, 4, 3}, 24);  // leading dimensions are rows
    CHECK(tg::linear(x3, W, b).shape() == tg::Shape{2, 4, 2});
    check_gradients([&] { return tg::linear(x3, W, b); }, {x3, W, b});
    const V x1 = input({3}, 25);
    check_gradients([&] { return tg::linear(x1, W, b); }, {x1, W, b});
}

TEST_CASE("float matmul and linear use sgemm") {
    // The BLAS wrapper counts its calls by precision: each float product (forward and both VJP
    // products) must be one sgemm and no dgemm.
    auto calls = [] { return tg::kernels::gemm_counts(); };
    const tg::Variable<float> a = tg::parameter(xt::xarray<float>{{1, 2}, {3, 4}});
    const tg::Variable<float> b = tg::parameter(xt::xarray<float>{{5, 6}, {7, 8}});
    auto before = calls();
    const auto y = tg::matmul(a, b);
    CHECK(calls().sgemm - before.sgemm == 1);
    CHECK(y.value() == xt::xarray<float>{{19, 22}, {43, 50}});
    before = calls();
    tg::sum(y).backward();
    CHECK(calls().sgemm - before.sgemm == 2);
    CHECK(a.grad() == xt::xarray<float>{{11, 15}, {11, 15}});
    CHECK(b.grad() == xt::xarray<float>{{4, 4}, {6, 6}});
    before = calls();
    const auto l = tg::linear(a, b, tg::parameter(xt::xarray<float>{1, -1}));
    CHECK(calls().sgemm - before.sgemm == 1);
    CHECK(l.value() == xt::xarray<float>{{18, 22}, {40, 52}});
    before = calls();
    tg::sum(l).backward();
    CHECK(calls().sgemm - before.sgemm == 2);
    CHECK(calls().dgemm == before.dgemm);  // no float product went through dgemm
    // and a double product is one dgemm
    before = calls();
    tg::matmul(input({3, 4}, 41), input({4, 2}, 42));
    CHECK(calls().dgemm - before.dgemm == 1);
    CHECK(calls().sgemm == before.sgemm);
}

TEST_CASE("matmul and linear: shape errors name the op and both shapes") {
    const V a = input({3, 2}, 31), b = input({3, 1}, 32);
    CHECK_THROWS_WITH_AS(tg::matmul(a, b), "matmul: shapes (3,2) and (3,1) do not align (2 != 3)", tg::Error);
    CHECK_THROWS_WITH_AS(tg::matmul(input({2, 3, 4}, 33), input({3, 4, 2}, 34)),
                         "matmul: shapes (2,) and (3,) do not broadcast (dimension 0: 2 vs 3)", tg::Error);
    CHECK_THROWS_WITH_AS(tg::matmul(tg::scalar(1.0), a), doctest::Contains("need at least one dimension"), tg::Error);
    CHECK_THROWS_WITH_AS(tg::linear(input({4, 5}, 35), input({2, 3}, 36)),
                         "linear: input of shape (4,5) does not match weight of shape (2,3): last dimension must be 3",
                         tg::Error);
    CHECK_THROWS_WITH_AS(tg::linear(input({4, 3}, 37), input({2, 3}, 38), input({3}, 39)),
                         "linear: bias of shape (3,) does not match weight of shape (2,3): expected (2,)", tg::Error);
    CHECK_THROWS_WITH_AS(tg::linear(input({4, 3}, 37), input({3}, 38)),
                         "linear: weight must be 2-D (out, in), got shape (3,)", tg::Error);
}

TEST_CASE("matmul and linear: an output that cannot be allocated is an error naming the op and the size") {
    const std::size_t big = std::size_t(1) << 31;
    // (2^31, 0) @ (0, 2^31): inputs with no elements, an output of 2^62 doubles (2^65 bytes)
    check_error(
        [&] {
            tg::matmul(tg::zeros<double>({big, 0}), tg::zeros<double>({0, big}));
        },
        "matmul: cannot allocate more than 2^64 bytes");
    check_error(
        [&] {
            tg::linear(tg::zeros<double>({big, 0}), tg::zeros<double>({big, 0}));
        },
        "linear: cannot allocate more than 2^64 bytes");
}
