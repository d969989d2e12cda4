// Shape and index ops: forward values, gradients (first and second order), error messages.
#include "helpers.hpp"

using namespace tgtest;

namespace {
V c(xt::xarray<double> x) { return tg::constant(x); }
V range(const tg::Shape& shape) { return tg::reshape(tg::arange<double>(0.0, double(tg::shape_size(shape))), shape); }
}  // namespace

TEST_CASE("reshape, flatten, squeeze, unsqueeze") {
    const V x = range({2, 3, 4});
    CHECK(tg::reshape(x, {4, -1}).shape() == tg::Shape{4, 6});
    CHECK(tg::reshape(x, tg::Shape{24}).value() == range({24}).value());
    CHECK(tg::flatten(x).shape() == tg::Shape{24});
    CHECK(tg::flatten(x, 1).shape() == tg::Shape{2, 12});
    CHECK(tg::flatten(x, 0, 1).shape() == tg::Shape{6, 4});
    const V s = tg::unsqueeze(x, 1);
    CHECK(s.shape() == tg::Shape{2, 1, 3, 4});
    CHECK(tg::unsqueeze(x, -1).shape() == tg::Shape{2, 3, 4, 1});
    CHECK(tg::squeeze(s).shape() == tg::Shape{2, 3, 4});
    CHECK(tg::squeeze(s, 1).shape() == tg::Shape{2, 3, 4});
}

TEST_CASE("transpose and permute") {
    const V m = c({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
    CHECK(close(tg::transpose(m).value(), {{1, 4}, {2, 5}, {3, 6}}));
    const V x = range({2, 3, 4});
    const V p = tg::permute(x, {2, 0, 1});
    CHECK(p.shape() == tg::Shape{4, 2, 3});
    CHECK(p.value()(3, 1, 2) == x.value()(1, 2, 3));
    CHECK(tg::transpose(x, 0, 2).value()(3, 2, 1) == x.value()(1, 2, 3));
}

TEST_CASE("slice follows Python's rules") {
    const V x = range({2, 6});
    CHECK(close(tg::slice(x, 1, 1, 4).value(), {{1, 2, 3}, {7, 8, 9}}));
    CHECK(close(tg::slice(x, 1, -2, 100).value(), {{4, 5}, {10, 11}}));
    CHECK(close(tg::slice(x, 1, 0, 6, 2).value(), {{0, 2, 4}, {6, 8, 10}}));
    CHECK(close(tg::slice(x, 0, 1, 2).value(), {{6, 7, 8, 9, 10, 11}}));
    CHECK(tg::slice(x, 1, 4, 2).shape() == tg::Shape{2, 0});
}

TEST_CASE("index_select, gather, concat, stack") {
    const V x = range({3, 2});
    CHECK(close(tg::index_select(x, 0, {2, 0, 2}).value(), {{4, 5}, {0, 1}, {4, 5}}));
    CHECK(close(tg::index_select(x, 1, {1}).value(), shaped({1, 3, 5}, {3, 1})));
    tg::Tensor<std::size_t> labels = {1, 0, 1};
    labels.reshape({3, 1});
    CHECK(close(tg::gather(x, 1, labels).value(), shaped({1, 2, 5}, {3, 1})));
    const V a = c({{1.0, 2.0}}), b = c({{3.0, 4.0}, {5.0, 6.0}});
    CHECK(close(tg::concat<double>({a, b}, 0).value(), {{1, 2}, {3, 4}, {5, 6}}));
    CHECK(close(tg::concat<double>({b, b}, 1).value(), {{3, 4, 3, 4}, {5, 6, 5, 6}}));
    const V u = c({1.0, 2.0}), v = c({3.0, 4.0});
    CHECK(close(tg::stack<double>({u, v}).value(), {{1, 2}, {3, 4}}));
    CHECK(close(tg::stack<double>({u, v}, 1).value(), {{1, 3}, {2, 4}}));
}

TEST_CASE("broadcast_to and sum_to") {
    const V x = c({1.0, 2.0});
    CHECK(close(tg::broadcast_to(x, {2, 2}).value(), {{1, 2}, {1, 2}}));
    CHECK(close(tg::sum_to(c({{1.0, 2.0}, {3.0, 4.0}}), {2}).value(), {4, 6}));
    CHECK(close(tg::sum_to(c({{1.0, 2.0}, {3.0, 4.0}}), {2, 1}).value(), shaped({3, 7}, {2, 1})));
}

TEST_CASE("shape ops: gradients") {
    const V x = input({2, 3, 4}, 1);
    check_gradients([&] { return tg::reshape(x, {4, -1}) * tg::reshape(x, {4, -1}); }, {x});
    check_gradients([&] { return tg::flatten(x, 1) * 2.0; }, {x});
    check_gradients([&] { return tg::squeeze(tg::unsqueeze(x, 0)) * x; }, {x});
    check_gradients([&] { return tg::permute(x, {2, 0, 1}) * tg::permute(x, {2, 0, 1}); }, {x});
    check_gradients([&] { return tg::transpose(x, 1, 2) * 3.0; }, {x});
    check_gradients([&] { return tg::transpose(tg::reshape(x, {6, 4})); }, {x});
    check_gradients([&] { return tg::slice(x, 2, 1, 4, 2) * tg::slice(x, 2, 0, 2); }, {x});
    check_gradients([&] { return tg::index_select(x, 1, {2, 0, 2}) * tg::index_select(x, 1, {1, 1, 0}); }, {x});
    const tg::Tensor<std::size_t> idx = {{{0, 2, 1, 1}}, {{2, 2, 0, 1}}};
    check_gradients([&] { return tg::gather(x, 1, idx) * tg::gather(x, 1, idx); }, {x});
    const V y = input({2, 1, 4}, 2);
    check_gradients([&] { return tg::concat<double>({x, y * y}, 1); }, {x, y});
    check_gradients([&] { return tg::stack<double>({x, x * x}, 1); }, {x});
    check_gradients([&] { return tg::broadcast_to(y, {3, 2, 5, 4}) * 2.0; }, {y});
    check_gradients([&] { return tg::sum_to(x * x, {3, 1}); }, {x});
}

TEST_CASE("shape ops: bad arguments are clear errors") {
    const V x = range({2, 3});
    CHECK_THROWS_WITH_AS(tg::reshape(x, tg::Shape{4, 2}),
                         "reshape: cannot reshape (2,3) (6 elements) into (4,2) (8 elements)", tg::Error);
    CHECK_THROWS_WITH_AS(tg::reshape(x, {4, -1}),
                         "reshape: cannot reshape (2,3) (6 elements) into (4,-1) with -1 inferred", tg::Error);
    CHECK_THROWS_WITH_AS(tg::reshape(x, {-1, -1}), "reshape: only one dimension can be -1", tg::Error);
    CHECK_THROWS_WITH_AS(tg::squeeze(x, 0), "squeeze: axis 0 of shape (2,3) has size 2, not 1", tg::Error);
    CHECK_THROWS_WITH_AS(tg::permute(x, {0}), "permute: 1 axes given for a value of shape (2,3)", tg::Error);
    CHECK_THROWS_WITH_AS(tg::permute(x, {1, 1}), "permute: axis 1 is given twice", tg::Error);
    CHECK_THROWS_WITH_AS(tg::slice(x, 1, 0, 2, 0), "slice: step must be >= 1, got 0", tg::Error);
    CHECK_THROWS_WITH_AS(tg::index_select(x, 0, {0, 2}),
                         "index_select: index 2 (at position 1) is out of range for axis 0 of size 2", tg::Error);
    tg::Tensor<std::size_t> bad = {0, 3};
    bad.reshape({2, 1});
    CHECK_THROWS_WITH_AS(tg::gather(x, 1, bad),
                         "gather: index 3 (flat position 1) is out of range for axis 1 of size 3", tg::Error);
    CHECK_THROWS_WITH_AS(tg::gather(x, 1, tg::Tensor<std::size_t>({0, 1})),
                         "gather: index of shape (2,) must have the shape of x (2,3) except along axis 1", tg::Error);
    CHECK_THROWS_WITH_AS(tg::concat<double>({x, range({3, 2})}, 0),
                         "concat: value 1 has shape (3,2), which does not match (2,3) outside axis 0", tg::Error);
    CHECK_THROWS_WITH_AS(tg::stack<double>({x, range({3, 2})}), "stack: value 1 has shape (3,2), value 0 has (2,3)",
                         tg::Error);
    CHECK_THROWS_WITH_AS(tg::concat<double>({}), "concat: no values given", tg::Error);
    CHECK_THROWS_WITH_AS(tg::broadcast_to(x, {3, 3}), "broadcast_to: shape (2,3) does not broadcast to (3,3)",
                         tg::Error);
    CHECK_THROWS_WITH_AS(tg::sum_to(x, {4}), "sum_to: shape (4,) does not broadcast to the input's shape (2,3)",
                         tg::Error);
    CHECK_THROWS_WITH_AS(x + range({3, 2}), "add: shapes (2,3) and (3,2) do not broadcast (dimension 0: 2 vs 3)",
                         tg::Error);
}

TEST_CASE("sizes that wrap are errors naming the function and the sizes") {
    const std::size_t two63 = std::size_t(1) << 63, two32 = std::size_t(1) << 32;
    // the product 2^64 + 6 wraps to 6: accepted before, and index_select on it crashed
    check_error(
        [&] {
            tg::reshape(tg::arange<double>(0.0, 6.0), tg::Shape{two63 + 3, 2});
        },
        "reshape: shape (9223372036854775811,2) is too large");
    check_error(
        [&] {
            tg::reshape(tg::arange<double>(0.0, 6.0), {std::ptrdiff_t(two32), std::ptrdiff_t(two32), -1});
        },
        "reshape: the product of the given dimensions = 4294967296 * 4294967296 does not fit in 64 bits");
    // 2^64 elements wrapped to 0: ones() had no element and summed to 0
    check_error([&] { tg::ones<double>({two32, two32}); }, "ones: shape (4294967296,4294967296) is too large");
    check_error([&] { tg::zeros<float>({two32, two32, 2}); }, "zeros: shape (4294967296,4294967296,2)");
    check_error([&] { tg::randn<double>({two32, two32}); }, "randn: shape");
    // (2^61 - 1) doubles: the allocator's size rounding wrapped to 0 bytes, and the tensor was used
    check_error([&] { tg::zeros<double>({(std::size_t(1) << 61) - 1}); },
                "zeros: cannot allocate 18446744073709551608 bytes");
    check_error([&] { tg::full<float>({std::size_t(1) << 62}, 1.0f); }, "full: cannot allocate more than 2^64 bytes");
    // no elements, but dimensions whose product wraps (xtensor's strides would overflow)
    check_error([&] { tg::zeros<double>({0, two32, two32}); }, "zeros: shape (0,4294967296,4294967296) is too large");
    const V empty = tg::zeros<double>({0, two32, two32 / 4});  // 2^62: fine
    CHECK(empty.size() == 0);
    check_error(
        [&] {
            tg::concat(std::vector<V>{empty, empty}, 2);
        },
        "concat: shape (0,4294967296,2147483648) is too large");
    check_error(
        [&] {
            tg::reshape(empty, tg::Shape{0, two63});
        },
        "reshape: shape (0,9223372036854775808) is too large");
    check_error(
        [&] {
            tg::concat(std::vector<V>{tg::zeros<double>({0, two63 / 2}), tg::zeros<double>({0, two63 / 2})}, 1);
        },
        "concat: shape (0,9223372036854775808) is too large");
    check_error([&] { tg::broadcast_to(tg::zeros<double>({1}), tg::Shape{two32, two32}); }, "broadcast_to: shape");
}

TEST_CASE("values with no elements but large dimensions reduce and reshape") {
    const std::size_t two32 = std::size_t(1) << 32;
    const V empty = tg::zeros<double>({0, two32, 4});
    CHECK(tg::sum(empty, 1).shape() == tg::Shape{0, 4});
    CHECK(tg::reshape(empty, tg::Shape{4, 0, two32}).size() == 0);
}
