// Shared test helpers: random inputs, and gradcheck + gradgradcheck with readable failures.
#pragma once

#include <cmath>
#include <cstddef>

#include <doctest/doctest.h>
#include <tapegrad/tapegrad.hpp>

namespace tgtest {

namespace tg = tapegrad;
using V = tg::Variable<double>;

/// A leaf requiring grad with values uniform in [lo, hi), from a seeded generator.
inline V input(const tg::Shape& shape, std::uint64_t seed, double lo = -2.0, double hi = 2.0) {
    tg::Generator gen(seed);
    tg::Tensor<double> t = tg::Tensor<double>::from_shape(shape);
    for (auto& v : t) v = gen.uniform(lo, hi);
    return V(std::move(t), true);
}

/// How many elements of a differ from b's, where equal means NaN where b is NaN, else the same value and sign
/// (bit-for-bit comparisons of fused ops against the ops they fuse).
template <class T>
std::size_t mismatches(const tg::Tensor<T>& a, const tg::Tensor<T>& b) {
    REQUIRE(a.shape() == b.shape());
    std::size_t bad = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const T u = a.data()[i], v = b.data()[i];
        bad += !(std::isnan(v) ? std::isnan(u) : u == v && std::signbit(u) == std::signbit(v));
    }
    return bad;
}

/// A tensor of `shape` with values uniform in [-1, 1), from a seeded generator.
template <class T>
tg::Tensor<T> random_tensor(const tg::Shape& shape, std::uint64_t seed) {
    tg::Generator gen(seed);
    tg::Tensor<T> t = tg::Tensor<T>::from_shape(shape);
    for (auto& v : t) v = T(gen.uniform(-1.0, 1.0));
    return t;
}

/// Values away from 0 by at least `gap` (for functions with a kink at 0).
inline V input_away_from_zero(const tg::Shape& shape, std::uint64_t seed, double gap = 0.1) {
    tg::Generator gen(seed);
    tg::Tensor<double> t = tg::Tensor<double>::from_shape(shape);
    for (auto& v : t) {
        const double u = gen.uniform(gap, 2.0);
        v = gen.uniform() < 0.5 ? -u : u;
    }
    return V(std::move(t), true);
}

/// gradcheck and gradgradcheck of f over the inputs; failures print the report.
template <class F>
void check_gradients(F f, const std::vector<V>& inputs, bool second_order = true) {
    const auto first = tg::gradcheck<double>(f, inputs);
    INFO(first.summary());
    CHECK(first.passed);
    if (second_order) {
        const auto second = tg::gradgradcheck<double>(f, inputs);
        INFO(second.summary());
        CHECK(second.passed);
    }
}

/// Checks that f throws tapegrad::Error with `expected` somewhere in its message.
template <class F>
void check_error(F f, const std::string& expected) {
    try {
        f();
        FAIL("no error thrown; expected: " << expected);
    } catch (const tg::Error& e) {
        CHECK_MESSAGE(std::string(e.what()).find(expected) != std::string::npos, e.what());
    }
}

/// x reshaped (xtensor's reshape works on lvalues only).
inline xt::xarray<double> shaped(xt::xarray<double> x, const std::vector<std::size_t>& shape) {
    x.reshape(shape);
    return x;
}

inline bool close(const tg::Tensor<double>& a, const xt::xarray<double>& b, double tol = 1e-12) {
    if (a.shape().size() != b.shape().size()) return false;
    for (std::size_t i = 0; i < a.shape().size(); ++i)
        if (a.shape()[i] != b.shape()[i]) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!(std::abs(a.data()[i] - b.data()[i]) <= tol * (1 + std::abs(b.data()[i])))) return false;
    return true;
}

}  // namespace tgtest
