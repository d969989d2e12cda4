// The vectorised unary kernels (exp, log, tanh, erf, sqrt, x ** 0.5) on xsimd's widest batch for the
// flags of the file that includes this: math.cpp (baseline x86-64) and math_avx2.cpp (-mavx2 -mfma).
// Internal (not installed). Everything is in an unnamed namespace, so the two copies never meet at link time.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include <xsimd/xsimd.hpp>

namespace tapegrad::kernels {
namespace {

using std::size_t;
template <class T>
using Batch = xsimd::batch<T>;

template <class T>
constexpr T min_normal = std::numeric_limits<T>::min();
template <class T>
constexpr T max_finite = std::numeric_limits<T>::max();

/// x in [lo, hi], for a batch (NaN fails).
template <class B, class T>
auto within(const B& x, T lo, T hi) {
    return (x >= B(lo)) & (x <= B(hi));
}

// Each kernel: fast (xsimd on a batch), ok (on a batch and on one value: the inputs `fast` is
// known to get right, where std:: agrees within a few ulp), exact (std::), and pad (an ordinary
// input that fills the tail batch).

template <class T>
struct Exp {
    // Results that would overflow or be subnormal are left to std:: (xsimd's float exp gives inf
    // from 88.5 on, and both flush subnormal results to 0).
    static constexpr T lo = sizeof(T) == 8 ? T(-708) : T(-87), hi = sizeof(T) == 8 ? T(709) : T(88);
    static constexpr T pad = T(0);
    static Batch<T> fast(const Batch<T>& x) { return xsimd::exp(x); }
    static auto ok(const Batch<T>& x) { return within(x, lo, hi); }
    static bool ok(T x) { return x >= lo && x <= hi; }
    static T exact(T x) { return std::exp(x); }
};

template <class T>
struct Log {
    // xsimd's log treats subnormals as normal numbers (log(1e-310) = -746.5, not -713.8).
    static constexpr T pad = T(1);
    static Batch<T> fast(const Batch<T>& x) { return xsimd::log(x); }
    static auto ok(const Batch<T>& x) { return within(x, min_normal<T>, max_finite<T>); }
    static bool ok(T x) { return x >= min_normal<T> && x <= max_finite<T>; }
    static T exact(T x) { return std::log(x); }
};

template <class T>
struct Tanh {
    static constexpr T pad = T(1);
    static Batch<T> fast(const Batch<T>& x) { return xsimd::tanh(x); }
    static auto ok(const Batch<T>& x) { return within(xsimd::abs(x), min_normal<T>, max_finite<T>); }
    static bool ok(T x) { return std::abs(x) >= min_normal<T> && std::abs(x) <= max_finite<T>; }
    static T exact(T x) { return std::tanh(x); }
};

template <class T>
struct Erf {
    // xsimd's erf is NaN once x * x overflows; erf is +-1 to the last bit beyond 6 anyway.
    static constexpr T pad = T(1);
    static Batch<T> fast(const Batch<T>& x) { return xsimd::erf(x); }
    static auto ok(const Batch<T>& x) { return within(xsimd::abs(x), min_normal<T>, T(6)); }
    static bool ok(T x) { return std::abs(x) >= min_normal<T> && std::abs(x) <= T(6); }
    static T exact(T x) { return std::erf(x); }
};

/// Correctly rounded everywhere (one instruction), -0 and negatives included: nothing to fix.
template <class T>
struct Sqrt {
    static constexpr T pad = T(1);
    static Batch<T> fast(const Batch<T>& x) { return xsimd::sqrt(x); }
    static auto ok(const Batch<T>&) { return xsimd::batch_bool<T>(true); }
    static bool ok(T) { return true; }
    static T exact(T x) { return std::sqrt(x); }
};

/// x ** 0.5: the square root, with pow's own values at -0 (+0) and -inf (+inf).
template <class T>
struct PowHalf {
    static constexpr T pad = T(1);
    static Batch<T> fast(const Batch<T>& x) {
        const Batch<T> inf(std::numeric_limits<T>::infinity());
        return xsimd::select(x == -inf, inf, xsimd::sqrt(x) + Batch<T>(T(0)));
    }
    static auto ok(const Batch<T>&) { return xsimd::batch_bool<T>(true); }
    static bool ok(T) { return true; }
    static T exact(T x) { return std::pow(x, T(0.5)); }
};

/// y = K::fast(x) in full batches (the tail padded into one), lanes that fail K::ok redone with K::exact.
template <class K, class T>
void unary(const T* x, T* y, size_t n) {
    constexpr size_t W = Batch<T>::size;
    alignas(64) T in[W], out[W];
    auto fix = [&](size_t m) {  // in[0, m) holds the inputs, out the fast results
        for (size_t k = 0; k < m; ++k)
            if (!K::ok(in[k])) out[k] = K::exact(in[k]);
    };
    size_t i = 0;
    for (; i + W <= n; i += W) {
        const Batch<T> b = Batch<T>::load_unaligned(x + i);
        const Batch<T> r = K::fast(b);
        if (xsimd::all(K::ok(b))) {
            r.store_unaligned(y + i);
        } else {
            b.store_aligned(in);
            r.store_aligned(out);
            fix(W);
            std::copy(out, out + W, y + i);
        }
    }
    if (i < n) {
        const size_t m = n - i;
        std::fill(in, in + W, K::pad);
        std::copy(x + i, x + n, in);
        K::fast(Batch<T>::load_aligned(in)).store_aligned(out);
        fix(m);
        std::copy(out, out + m, y + i);
    }
}

}  // namespace
}  // namespace tapegrad::kernels
