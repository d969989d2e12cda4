// Moves and swaps of Tensors and their shape vectors, and the long elementwise
// loops that run in per-CPU copies (elementwise.hpp): each agrees with the plain computation.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "helpers.hpp"

#include <tapegrad/autograd/kernels/elementwise.hpp>

using namespace tgtest;

namespace {

using Dims = std::vector<std::size_t>;

bool holds(const tg::Shape& s, const Dims& d) {
    if (s.size() != d.size()) return false;
    for (std::size_t i = 0; i < d.size(); ++i)
        if (s[i] != d[i]) return false;
    return true;
}

// Ranks 0 to 6: inline (at most 4) and on the heap, so that every pairing of the two is swapped.
const std::vector<Dims> all_ranks{{}, {7}, {2, 3}, {1, 2, 3, 4}, {1, 2, 3, 4, 5}, {6, 5, 4, 3, 2, 1}};

}  // namespace

TEST_CASE("shape vectors: swap and move keep every element, inline or on the heap") {
    for (const Dims& x : all_ranks) {
        for (const Dims& y : all_ranks) {
            INFO("ranks ", x.size(), " and ", y.size());
            tg::Shape a(x.begin(), x.end()), b(y.begin(), y.end());
            a.swap(b);
            CHECK(holds(a, y));
            CHECK(holds(b, x));
            b.swap(b);  // with itself: unchanged
            CHECK(holds(b, x));
            tg::Shape moved(std::move(a));
            CHECK(holds(moved, y));
            CHECK(a.empty());
            a = tg::Shape(x.begin(), x.end());  // a moved-from vector is usable again
            CHECK(holds(a, x));
            moved.push_back(9);  // and a moved-to one grows (inline to heap, or on the heap)
            CHECK(moved.size() == y.size() + 1);
            CHECK(moved.back() == 9);
        }
    }
}

TEST_CASE("tensors: move construction and assignment carry shape, strides and data") {
    for (const Dims& d : all_ranks) {
        INFO("rank ", d.size());
        tg::Tensor<float> t = tg::Tensor<float>::from_shape(tg::Shape(d.begin(), d.end()));
        for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = float(i);
        const auto strides = t.strides();
        const float* data = t.data();
        tg::Tensor<float> u(std::move(t));
        CHECK(holds(u.shape(), d));
        CHECK(u.strides() == strides);
        if (t.size() * sizeof(float) > 16 || u.size() * sizeof(float) > 16)
            CHECK(u.data() == data);  // the block changed hands, nothing was copied
        else
            CHECK(u.data() != data);  // up to 16 bytes live inside the tensor: copied with it
        for (std::size_t i = 0; i < u.size(); ++i) CHECK(u.data()[i] == float(i));
        tg::Tensor<float> v = tg::Tensor<float>::from_shape({3});
        v = std::move(u);
        CHECK(holds(v.shape(), d));
        CHECK(v.strides() == strides);
        for (std::size_t i = 0; i < v.size(); ++i) CHECK(v.data()[i] == float(i));
    }
}

TEST_CASE("storage: 16 bytes inline, 64-byte aligned blocks beyond; copies, moves and swaps keep every element") {
    using S = tg::memory::Storage<double>;
    static_assert(S::inline_capacity == 2);
    static_assert(tg::memory::Storage<float>::inline_capacity == 4);
    const auto filled = [](std::size_t n, double start) {
        S s(n);
        for (std::size_t i = 0; i < n; ++i) s[i] = start + double(i);
        return s;
    };
    const auto holds_run = [](const S& s, std::size_t n, double start) {
        if (s.size() != n) return false;
        for (std::size_t i = 0; i < n; ++i)
            if (s[i] != start + double(i)) return false;
        return true;
    };
    const auto inside = [](const S& s) {
        const auto* self = reinterpret_cast<const unsigned char*>(&s);
        const auto* p = reinterpret_cast<const unsigned char*>(s.data());
        return p >= self && p < self + sizeof(S);
    };
    for (const std::size_t n : {0, 1, 2, 3, 17}) {
        for (const std::size_t m : {0, 1, 2, 3, 17}) {
            INFO("sizes ", n, " and ", m);
            S a = filled(n, 1.0);
            CHECK(inside(a) == (n >= 1 && n <= 2));
            if (n > 2) CHECK(reinterpret_cast<std::uintptr_t>(a.data()) % 64 == 0);
            S copy(a);
            CHECK(holds_run(copy, n, 1.0));
            CHECK((n == 0 || copy.data() != a.data()));
            S b = filled(m, 100.0);
            b = a;  // copy assignment, across inline and heap
            CHECK(holds_run(b, n, 1.0));
            S c = filled(m, 100.0);
            c = std::move(a);
            CHECK(holds_run(c, n, 1.0));
            CHECK(a.empty());
            S d = filled(m, 100.0);
            c.swap(d);
            CHECK(holds_run(c, m, 100.0));
            CHECK(holds_run(d, n, 1.0));
            S e(std::move(d));
            CHECK(holds_run(e, n, 1.0));
            CHECK(d.empty());
            const S& same = e;
            e = same;  // self-assignment leaves it as it is
            CHECK(holds_run(e, n, 1.0));
        }
    }
    S s{1.0, 2.0, 3.0};
    CHECK(s.at(2) == 3.0);
    CHECK_THROWS_AS(s.at(3), std::out_of_range);
    s.resize(1);  // as xt::uvector: a resize keeps no element (here: now inline)
    CHECK(s.size() == 1);
    CHECK(inside(s));
    s.clear();
    CHECK(s.empty());
    CHECK(S(3, 7.0) == S{7.0, 7.0, 7.0});
}

TEST_CASE("elementwise loops: long loops (per-CPU copies) equal short ones, on every operand layout") {
    namespace k = tg::kernels;
    for (const std::size_t n : {std::size_t(5), std::size_t(255), std::size_t(256), std::size_t(1001)}) {
        INFO("n = ", n);
        tg::Tensor<double> a = tg::Tensor<double>::from_shape({n}), b = tg::Tensor<double>::from_shape({n});
        for (std::size_t i = 0; i < n; ++i) {
            a(i) = 0.5 + double(i);
            b(i) = 3.0 - 0.25 * double(i);
        }
        const tg::Tensor<double> s = tg::Tensor<double>(tg::Shape{1}, 2.0);
        const auto f = [](double u, double v) { return u * v - u; };
        const auto ab = k::binary("test", a, b, f);
        const auto as = k::binary("test", a, s, f);
        const auto sb = k::binary("test", s, b, f);
        const auto m = k::map(a, [](double u) { return u * u + 1; });
        const auto z3 = k::zip([](double u, double v, double w) { return u * v + w; }, a, b, a);
        for (std::size_t i = 0; i < n; ++i) {
            CHECK(ab(i) == f(a(i), b(i)));
            CHECK(as(i) == f(a(i), 2.0));
            CHECK(sb(i) == f(2.0, b(i)));
            CHECK(m(i) == a(i) * a(i) + 1);
            CHECK(z3(i) == a(i) * b(i) + a(i));
        }
    }
}
