// Moves and swaps of Tensors and their shape vectors, and the long elementwise
// loops that run in per-CPU copies (elementwise.hpp): each agrees with the plain computation.
#include <cstddef>
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
        CHECK(u.data() == data);  // the block changed hands, nothing was copied
        tg::Tensor<float> v = tg::Tensor<float>::from_shape({3});
        v = std::move(u);
        CHECK(holds(v.shape(), d));
        CHECK(v.strides() == strides);
        for (std::size_t i = 0; i < v.size(); ++i) CHECK(v.data()[i] == float(i));
    }
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
