// ShapeVector on its own: ranks 0..10 inline and on the heap, copies, moves and assignments between
// the two storages, resizes, comparisons and the conversions to and from std::vector and svector.
#include <cstddef>
#include <stdexcept>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <xtensor/xarray.hpp>

#include <tapegrad/autograd/ops/reduce.hpp>  // tapegrad::mean and sum, which xt::mean must not see
#include <tapegrad/autograd/shape_vector.hpp>
#include <tapegrad/autograd/tensor.hpp>

namespace {

using SV = tapegrad::ShapeVector<std::size_t>;
using Dims = std::vector<std::size_t>;

// 1, 2, ..., n: every element differs, so a lost or shifted element shows.
Dims counting(std::size_t n) {
    Dims d(n);
    for (std::size_t i = 0; i < n; ++i) d[i] = i + 1;
    return d;
}

bool holds(const SV& s, const Dims& d) {
    if (s.size() != d.size() || s.empty() != d.empty()) return false;
    for (std::size_t i = 0; i < d.size(); ++i)
        if (s[i] != d[i] || s.at(i) != d[i] || s.data()[i] != d[i]) return false;
    return Dims(s.begin(), s.end()) == d && Dims(s.rbegin(), s.rend()) == Dims(d.rbegin(), d.rend());
}

}  // namespace

TEST_CASE("ShapeVector: ranks 0 to 10 built from sizes, values, ranges, lists and push_back") {
    for (std::size_t n = 0; n <= 10; ++n) {
        CAPTURE(n);
        const Dims d = counting(n);
        SV a(d.begin(), d.end());
        CHECK(holds(a, d));
        CHECK(a.on_stack() == (n <= 4));
        CHECK(a.capacity() >= n);
        SV b;
        for (auto v : d) b.push_back(v);
        CHECK(holds(b, d));
        CHECK(SV(n) == SV(Dims(n, 0)));
        CHECK(holds(SV(n, 7), Dims(n, 7)));
        const SV from_vector = d;  // implicit, as with xtensor's svector
        CHECK(holds(from_vector, d));
        if (n) {
            CHECK(a.front() == 1);
            CHECK(a.back() == n);
        }
    }
    CHECK(holds(SV{64, 784}, Dims{64, 784}));
    CHECK(holds(SV{}, Dims{}));
}

TEST_CASE("ShapeVector: copy, move and assignment between every pair of inline and heap ranks") {
    for (std::size_t m = 0; m <= 10; ++m) {
        for (std::size_t n = 0; n <= 10; ++n) {
            CAPTURE(m);
            CAPTURE(n);
            const Dims dm = counting(m), dn(n, 9);
            const SV src(dm.begin(), dm.end());

            SV copied(src);
            CHECK(holds(copied, dm));
            SV moved(std::move(copied));
            CHECK(holds(moved, dm));
            CHECK(copied.empty());  // a moved-from vector is empty and usable
            copied.push_back(5);
            CHECK(holds(copied, Dims{5}));

            SV target(dn.begin(), dn.end());
            target = src;
            CHECK(holds(target, dm));
            CHECK(holds(src, dm));

            SV target2(dn.begin(), dn.end());
            SV tmp(src);
            target2 = std::move(tmp);
            CHECK(holds(target2, dm));
            CHECK(tmp.empty());

            SV x(dn.begin(), dn.end()), y(src);
            x.swap(y);
            CHECK(holds(x, dm));
            CHECK(holds(y, dn));
            swap(x, y);
            CHECK(holds(x, dn));
            CHECK(holds(y, dm));
        }
    }
    SV self{1, 2, 3, 4, 5, 6};
    const SV& alias = self;
    self = alias;
    CHECK(holds(self, counting(6)));
    SV& same = self;  // a self-move through another name, as a swap of an element with itself does
    self = std::move(same);
    CHECK(holds(self, counting(6)));
}

TEST_CASE("ShapeVector: resize up and down keeps the leading values and zeroes new ones") {
    for (std::size_t from = 0; from <= 10; ++from) {
        for (std::size_t to = 0; to <= 10; ++to) {
            CAPTURE(from);
            CAPTURE(to);
            const Dims d = counting(from);
            SV s(d.begin(), d.end());
            s.resize(to);
            Dims expect = d;
            expect.resize(to);
            CHECK(holds(s, expect));
            s.resize(to + 2, 8);  // with a fill value
            expect.resize(to + 2, 8);
            CHECK(holds(s, expect));
        }
    }
    SV s{1, 2, 3};
    s.resize(8);
    s.resize(1);
    s.resize(3);  // values past the old end were zeroed again, not the 2 and 3 from before
    CHECK(holds(s, Dims{1, 0, 0}));
    s.clear();
    CHECK(s.empty());
    s.reserve(20);
    CHECK(s.capacity() >= 20);
    CHECK(s.empty());
}

TEST_CASE("ShapeVector: insert, erase, pop_back and assign") {
    SV s{1, 2, 3};
    s.insert(s.begin() + 1, {7, 8, 9});
    CHECK(holds(s, Dims{1, 7, 8, 9, 2, 3}));
    s.erase(s.begin() + 1, s.begin() + 4);
    CHECK(holds(s, Dims{1, 2, 3}));
    s.insert(s.end(), 4);
    s.erase(s.begin());
    CHECK(holds(s, Dims{2, 3, 4}));
    s.pop_back();
    CHECK(holds(s, Dims{2, 3}));
    s.push_back(s[0]);  // an element of the vector itself, at the inline/heap boundary below
    s.push_back(s[1]);
    s.push_back(s[0]);
    CHECK(holds(s, Dims{2, 3, 2, 3, 2}));
    s.assign(std::size_t(6), 1);
    CHECK(holds(s, Dims(6, 1)));
    s.assign({4, 5});
    CHECK(holds(s, Dims{4, 5}));
    s = {6};
    CHECK(holds(s, Dims{6}));
    CHECK_THROWS_AS(s.at(1), std::out_of_range);
    // more elements than its 32-bit size can count: an error before any allocation, and s is unchanged
    CHECK_THROWS_AS(s.resize(std::size_t(s.max_size()) + 1), std::length_error);
    CHECK(holds(s, Dims{6}));
    // growth doubles, gives at least what is asked, and stops at the 32-bit count it stores
    const std::size_t most = s.max_size();
    CHECK(SV::grown_capacity(5, 4) == 8);
    CHECK(SV::grown_capacity(20, 4) == 20);
    CHECK(SV::grown_capacity(most / 2 + 1, most / 2 + 1) == most);
    CHECK(SV::grown_capacity(most, most - 1) == most);
    CHECK(SV::grown_capacity(most, most) == most);
}

TEST_CASE("ShapeVector: comparisons, also against std::vector and xtensor's svector") {
    const SV a{2, 3}, b{2, 3}, c{2, 4}, d{2, 3, 1}, big{1, 2, 3, 4, 5, 6}, big2{1, 2, 3, 4, 5, 6};
    CHECK(a == b);
    CHECK_FALSE(a != b);
    CHECK(a != c);
    CHECK(a != d);
    CHECK(big == big2);
    CHECK(big != d);
    CHECK(a < c);
    CHECK(a < d);
    CHECK(c > a);
    CHECK(a <= b);
    CHECK(a >= b);
    CHECK_FALSE(c < a);
    CHECK(SV{} < a);
    CHECK(a == Dims{2, 3});
    CHECK(Dims{2, 3, 1} == d);
    CHECK(a != Dims{2});
    const xt::svector<std::size_t> sv{2, 3};
    CHECK(a == sv);
    CHECK(sv == a);
    CHECK(c != sv);
    const SV from_sv = sv;
    CHECK(from_sv == a);
}

TEST_CASE("Shape is a ShapeVector and meets a plain xt::xarray's shape") {
    const tapegrad::Shape s{64, 784};
    CHECK(s[0] == 64);
    std::size_t product = 1;
    for (auto v : s) product *= v;
    CHECK(product == 64 * 784);
    CHECK(tapegrad::shape_string(s) == "(64,784)");
    const xt::xarray<double> plain = xt::zeros<double>({3, 2});
    const tapegrad::Tensor<double> t = plain;
    CHECK(t.shape() == plain.shape());
    CHECK(plain.shape() == t.shape());
    const tapegrad::Shape from_plain = plain.shape();
    CHECK(from_plain == t.shape());
    CHECK(t.strides() == tapegrad::ShapeVector<std::ptrdiff_t>{2, 1});
    tapegrad::Tensor<double> r = t;
    r.reshape({1, 2, 1, 3, 1, 1});  // rank 6: shape and strides on the heap
    CHECK(r.shape() == tapegrad::Shape{1, 2, 1, 3, 1, 1});
    tapegrad::Tensor<double> moved = std::move(r);
    CHECK(moved.shape() == tapegrad::Shape{1, 2, 1, 3, 1, 1});
    CHECK(moved.strides()[1] == 3);
}

TEST_CASE("xtensor's reducers on a Tensor do not find tapegrad's functions by argument-dependent lookup") {
    // With ShapeVector directly in namespace tapegrad, xt::mean's internal unqualified calls saw
    // tapegrad::mean / tapegrad::sum (for Variables) and this did not compile.
    const tapegrad::Tensor<double> t = xt::xarray<double>{1.0, 2.0, 3.0, 6.0};
    CHECK(xt::mean(t)() == 3.0);
    CHECK(xt::sum(t)() == 12.0);
    CHECK(xt::amax(t)() == 6.0);
}
