// Tests of conv2d and pooling: forward against nested-loop references, gradients, errors.
#include <cmath>
#include <limits>

#include "helpers.hpp"

using namespace tgtest;

namespace {

struct ConvCase {
    std::size_t n, c, h, w, o, kh, kw, stride, pad, dil, groups;
    bool bias;
};

/// Direct definition: y[n,o,i,j] = b[o] + sum_{c,p,q} x[n, g*cg + c, i*s - pad + p*d, j*s - pad + q*d] w[o,c,p,q].
xt::xarray<double> conv_reference(const tg::Tensor<double>& x, const tg::Tensor<double>& w, const tg::Tensor<double>* b,
                                  const ConvCase& k) {
    const std::size_t oh = (k.h + 2 * k.pad - k.dil * (k.kh - 1) - 1) / k.stride + 1;
    const std::size_t ow = (k.w + 2 * k.pad - k.dil * (k.kw - 1) - 1) / k.stride + 1;
    const std::size_t cg = k.c / k.groups, og = k.o / k.groups;
    xt::xarray<double> y = xt::zeros<double>({k.n, k.o, oh, ow});
    for (std::size_t n = 0; n < k.n; ++n)
        for (std::size_t o = 0; o < k.o; ++o)
            for (std::size_t i = 0; i < oh; ++i)
                for (std::size_t j = 0; j < ow; ++j) {
                    double s = b ? (*b)(o) : 0.0;
                    const std::size_t g = o / og;
                    for (std::size_t c = 0; c < cg; ++c)
                        for (std::size_t p = 0; p < k.kh; ++p)
                            for (std::size_t q = 0; q < k.kw; ++q) {
                                const long ih = long(i * k.stride) - long(k.pad) + long(p * k.dil);
                                const long iw = long(j * k.stride) - long(k.pad) + long(q * k.dil);
                                if (ih < 0 || iw < 0 || ih >= long(k.h) || iw >= long(k.w)) continue;
                                s += x(n, g * cg + c, std::size_t(ih), std::size_t(iw)) * w(o, c, p, q);
                            }
                    y(n, o, i, j) = s;
                }
    return y;
}

xt::xarray<double> pool_reference(const tg::Tensor<double>& x, std::size_t k, std::size_t s, std::size_t pad,
                                  std::size_t dil, bool is_max, bool include_pad = true) {
    const std::size_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
    const std::size_t oh = (H + 2 * pad - dil * (k - 1) - 1) / s + 1, ow = (W + 2 * pad - dil * (k - 1) - 1) / s + 1;
    xt::xarray<double> y = xt::zeros<double>({N, C, oh, ow});
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t c = 0; c < C; ++c)
            for (std::size_t i = 0; i < oh; ++i)
                for (std::size_t j = 0; j < ow; ++j) {
                    double best = -std::numeric_limits<double>::infinity(), sum = 0;
                    std::size_t count = 0;
                    for (std::size_t p = 0; p < k; ++p)
                        for (std::size_t q = 0; q < k; ++q) {
                            const long ih = long(i * s) - long(pad) + long(p * dil);
                            const long iw = long(j * s) - long(pad) + long(q * dil);
                            if (ih < 0 || iw < 0 || ih >= long(H) || iw >= long(W)) continue;
                            const double v = x(n, c, std::size_t(ih), std::size_t(iw));
                            best = std::max(best, v);
                            sum += v;
                            ++count;
                        }
                    y(n, c, i, j) = is_max ? best : sum / double(include_pad ? k * k : count);
                }
    return y;
}

tg::Conv2dOptions options_of(const ConvCase& k) {
    return tg::Conv2dOptions().stride(k.stride).padding(k.pad).dilation(k.dil).groups(k.groups);
}

}  // namespace

TEST_CASE("conv2d forward matches the nested-loop definition") {
    const ConvCase cases[] = {
        {2, 3, 7, 6, 4, 3, 3, 1, 0, 1, 1, true},   {2, 3, 7, 6, 4, 3, 3, 2, 0, 1, 1, false},
        {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, true},   {2, 3, 7, 6, 4, 3, 3, 2, 1, 1, 1, true},
        {2, 3, 9, 8, 4, 3, 3, 1, 1, 2, 1, true},   {2, 3, 9, 8, 4, 3, 2, 2, 0, 2, 1, false},
        {2, 4, 6, 6, 6, 3, 3, 1, 1, 1, 2, true},   {1, 4, 5, 5, 4, 1, 1, 1, 0, 1, 1, true},
        {3, 1, 28, 28, 8, 5, 5, 1, 0, 1, 1, true}, {1, 2, 4, 4, 2, 1, 1, 2, 1, 1, 2, false},
    };
    std::uint64_t seed = 10;
    for (const ConvCase& k : cases) {
        CAPTURE(k.stride);
        CAPTURE(k.pad);
        CAPTURE(k.dil);
        CAPTURE(k.groups);
        auto x = input({k.n, k.c, k.h, k.w}, seed++);
        auto w = input({k.o, k.c / k.groups, k.kh, k.kw}, seed++);
        auto b = input({k.o}, seed++);
        const auto y = k.bias ? tg::conv2d(x, w, b, options_of(k)) : tg::conv2d(x, w, options_of(k));
        const auto ref = conv_reference(x.value(), w.value(), k.bias ? &b.value() : nullptr, k);
        CHECK(close(y.value(), ref, 1e-12));

        // float gives the same result to float precision
        tg::Variable<float> xf(tg::Tensor<float>(xt::cast<float>(x.value())));
        tg::Variable<float> wf(tg::Tensor<float>(xt::cast<float>(w.value())));
        const auto yf = tg::conv2d(xf, wf, options_of(k));
        const auto ref0 = conv_reference(x.value(), w.value(), nullptr, k);
        CHECK(close(tg::Tensor<double>(xt::cast<double>(yf.value())), ref0, 1e-4));
    }
}

TEST_CASE("conv2d gradients: first and second order") {
    const ConvCase cases[] = {
        {2, 2, 5, 4, 3, 3, 2, 1, 0, 1, 1, true},  {1, 2, 6, 5, 2, 3, 3, 2, 1, 1, 1, true},
        {1, 2, 7, 7, 2, 2, 2, 1, 1, 2, 1, false}, {1, 4, 4, 4, 4, 3, 3, 1, 1, 1, 2, true},
        {2, 3, 3, 3, 2, 1, 1, 1, 0, 1, 1, true},
    };
    std::uint64_t seed = 100;
    for (const ConvCase& k : cases) {
        CAPTURE(k.stride);
        CAPTURE(k.pad);
        CAPTURE(k.dil);
        CAPTURE(k.groups);
        auto x = input({k.n, k.c, k.h, k.w}, seed++);
        auto w = input({k.o, k.c / k.groups, k.kh, k.kw}, seed++);
        auto b = input({k.o}, seed++);
        const auto opt = options_of(k);
        if (k.bias)
            check_gradients([&] { return tg::conv2d(x, w, b, opt); }, {x, w, b});
        else
            check_gradients([&] { return tg::conv2d(x, w, opt); }, {x, w});
    }
}

TEST_CASE("conv2d adjoint ops have their own gradients") {
    const auto opt = tg::Conv2dOptions().stride(2).padding(1);
    auto x = input({1, 2, 5, 5}, 1);
    auto w = input({3, 2, 3, 3}, 2);
    auto g = input({1, 3, 3, 3}, 3);
    check_gradients([&] { return tg::conv2d_input_grad(g, w, x.shape(), opt); }, {g, w});
    check_gradients([&] { return tg::conv2d_weight_grad(x, g, w.shape(), opt); }, {x, g});

    // <conv(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(x, g)>
    const double a = tg::sum(tg::conv2d(x, w, opt) * g).item();
    const double b = tg::sum(x * tg::conv2d_input_grad(g, w, x.shape(), opt)).item();
    const double c = tg::sum(w * tg::conv2d_weight_grad(x, g, w.shape(), opt)).item();
    CHECK(a == doctest::Approx(b).epsilon(1e-12));
    CHECK(a == doctest::Approx(c).epsilon(1e-12));
}

TEST_CASE("pooling forward matches the nested-loop definition") {
    struct PoolCase {
        std::size_t k, s, pad, dil;
    };
    const PoolCase cases[] = {{2, 2, 0, 1}, {3, 1, 0, 1}, {3, 2, 1, 1}, {2, 1, 1, 1}, {3, 1, 1, 2}, {2, 2, 1, 2}};
    std::uint64_t seed = 200;
    for (const PoolCase& p : cases) {
        CAPTURE(p.k);
        CAPTURE(p.s);
        CAPTURE(p.pad);
        CAPTURE(p.dil);
        auto x = input({2, 3, 7, 8}, seed++);
        const auto opt = tg::Pool2dOptions(p.k).stride(p.s).padding(p.pad).dilation(p.dil);
        CHECK(close(tg::max_pool2d(x, opt).value(), pool_reference(x.value(), p.k, p.s, p.pad, p.dil, true)));
        if (p.dil == 1) {
            CHECK(close(tg::avg_pool2d(x, opt).value(), pool_reference(x.value(), p.k, p.s, p.pad, 1, false)));
            const auto excl = tg::Pool2dOptions(p.k).stride(p.s).padding(p.pad).count_include_pad(false);
            CHECK(close(tg::avg_pool2d(x, excl).value(), pool_reference(x.value(), p.k, p.s, p.pad, 1, false, false)));
        }
    }
}

TEST_CASE("pooling a hand-written 4x4 image") {
    tg::Tensor<double> img = {{{{1, 2, 5, 6}, {3, 4, 7, 8}, {-1, -2, 0, 9}, {-3, -4, 1, -5}}}};
    auto x = V(img, true);
    const auto opt = tg::Pool2dOptions(2);
    auto m = tg::max_pool2d(x, opt);
    CHECK(close(m.value(), xt::xarray<double>{{{{4, 8}, {-1, 9}}}}));
    auto a = tg::avg_pool2d(x, opt);
    CHECK(close(a.value(), xt::xarray<double>{{{{2.5, 6.5}, {-2.5, 1.25}}}}));
    auto l2 = tg::lp_pool2d(x, 2.0, opt);
    CHECK(close(l2.value(),
                xt::xarray<double>{{{{std::sqrt(30.0), std::sqrt(174.0)}, {std::sqrt(30.0), std::sqrt(107.0)}}}}));
    // the gradient of max pooling goes to the argmax alone
    tg::sum(m).backward();
    CHECK(close(x.grad(), xt::xarray<double>{{{{0, 0, 0, 0}, {0, 1, 0, 1}, {1, 0, 0, 1}, {0, 0, 0, 0}}}}));
    x.zero_grad();
    tg::sum(a).backward();
    CHECK(close(x.grad(), xt::xarray<double>(xt::ones<double>({1, 1, 4, 4}) * 0.25)));
    // overlapping windows (stride 1) add their gradients at a shared maximum
    x.zero_grad();
    tg::sum(tg::max_pool2d(x, tg::Pool2dOptions(2).stride(1))).backward();
    CHECK(close(x.grad(), xt::xarray<double>{{{{0, 0, 0, 0}, {0, 2, 2, 1}, {1, 0, 0, 2}, {0, 0, 1, 0}}}}));
}

TEST_CASE("pooling gradients: first and second order") {
    auto x = input({2, 2, 5, 6}, 300);
    check_gradients([&] { return tg::max_pool2d(x, tg::Pool2dOptions(2)); }, {x});
    check_gradients([&] { return tg::max_pool2d(x, tg::Pool2dOptions(3).stride(2).padding(1)); }, {x});
    check_gradients([&] { return tg::max_pool2d(x, tg::Pool2dOptions(2).stride(1).dilation(2)); }, {x});
    check_gradients([&] { return tg::avg_pool2d(x, tg::Pool2dOptions(2)); }, {x});
    check_gradients([&] { return tg::avg_pool2d(x, tg::Pool2dOptions(3).stride(2).padding(1)); }, {x});
    check_gradients([&] { return tg::avg_pool2d(x, tg::Pool2dOptions(3).padding(1).count_include_pad(false)); }, {x});
    check_gradients([&] { return tg::lp_pool2d(x, 2.0, tg::Pool2dOptions(2)); }, {x});
    auto pos = input({1, 2, 4, 4}, 301, 0.5, 2.0);
    check_gradients([&] { return tg::lp_pool2d(pos, 3.0, tg::Pool2dOptions(2).stride(1)); }, {pos});
}

TEST_CASE("conv2d and pooling reject bad shapes and options with clear messages") {
    auto x = input({2, 3, 8, 8}, 1);
    auto w = input({4, 3, 3, 3}, 2);
    check_error(
        [&] {
            tg::conv2d(input({2, 1, 8, 8}, 3), w);
        },
        "conv2d: expected input (N,3,H,W) for weight (4,3,3,3) and groups=1, got (2,1,8,8)");
    check_error([&] { tg::conv2d(input({3, 8, 8}, 3), w); }, "conv2d: expected input (N,3,H,W)");
    check_error([&] { tg::conv2d(x, input({4, 3, 3}, 3)); }, "conv2d: weight must be (out_channels");
    check_error([&] { tg::conv2d(x, w, input({3}, 4)); },
                "conv2d: bias of shape (3,) does not match weight (4,3,3,3): expected (4,)");
    check_error([&] { tg::conv2d(x, w, tg::Conv2dOptions().stride(0)); }, "conv2d: stride must be at least 1");
    check_error([&] { tg::conv2d(x, w, tg::Conv2dOptions().dilation({1, 0})); }, "conv2d: dilation must be at least 1");
    check_error([&] { tg::conv2d(x, w, tg::Conv2dOptions().groups(0)); }, "conv2d: groups must be at least 1");
    check_error(
        [&] {
            tg::conv2d(x, input({4, 1, 3, 3}, 5), tg::Conv2dOptions().groups(3));
        },
        "conv2d: 4 output channels (weight (4,1,3,3)) do not divide into 3 groups");
    check_error(
        [&] {
            tg::conv2d(x, input({4, 1, 3, 3}, 5), tg::Conv2dOptions().groups(2));
        },
        "conv2d: expected input (N,2,H,W) for weight (4,1,3,3) and groups=2, got (2,3,8,8)");
    check_error(
        [&] {
            tg::conv2d(input({1, 3, 2, 2}, 6), w);
        },
        "conv2d: input (1,3,2,2) with padding (0,0) is smaller than the dilated kernel (3,3)");
    check_error(
        [&] {
            tg::conv2d_input_grad(input({2, 4, 5, 5}, 7), w, x.shape(), {});
        },
        "conv2d_input_grad: the output gradient has shape (2,4,5,5), expected (2,4,6,6)");
    check_error(
        [&] {
            tg::conv2d_weight_grad(x, input({2, 4, 5, 5}, 7), w.shape(), {});
        },
        "conv2d_weight_grad: the output gradient has shape (2,4,5,5), expected (2,4,6,6)");

    check_error(
        [&] {
            tg::max_pool2d(input({3, 8, 8}, 1), tg::Pool2dOptions(2));
        },
        "max_pool2d: expected input (N,C,H,W), got (3,8,8)");
    check_error([&] { tg::max_pool2d(x, tg::Pool2dOptions(0)); }, "max_pool2d: kernel size must be at least 1");
    check_error([&] { tg::max_pool2d(x, tg::Pool2dOptions(2).stride(0)); }, "max_pool2d: stride must be at least 1");
    check_error([&] { tg::max_pool2d(x, tg::Pool2dOptions(2).dilation(0)); },
                "max_pool2d: dilation must be at least 1");
    check_error([&] { tg::max_pool2d(x, tg::Pool2dOptions(2).padding(2)); },
                "max_pool2d: padding (2,2) must be at most half the kernel size (2,2)");
    check_error([&] { tg::max_pool2d(x, tg::Pool2dOptions(9)); },
                "max_pool2d: input (2,3,8,8) with padding (0,0) is smaller than the window (9,9)");
    check_error(
        [&] {
            tg::max_pool2d(input({1, 1, 1, 1}, 2), tg::Pool2dOptions(2).padding(1).dilation(2));
        },
        "max_pool2d: window (0,0) of input (1,1,1,1) lies entirely in the padding");
    check_error([&] { tg::avg_pool2d(x, tg::Pool2dOptions(2).dilation(2)); },
                "avg_pool2d: dilation is for max pooling only");
    check_error([&] { tg::lp_pool2d(x, 0.0, tg::Pool2dOptions(2)); },
                "lp_pool2d: p must be positive and finite, got 0");
}

TEST_CASE("lp_pool2d at an all-zero window: value 0 and gradient 0 (as PyTorch), wherever the window sits") {
    for (double p : {1.0, 2.0, 3.0}) {
        for (std::size_t w : {2, 8, 18}) {  // one window, a full SIMD batch of them, batches and a tail
            const V x = tg::parameter(tg::Tensor<double>(tg::Shape{1, 1, 2, w}, 0.0));
            const V y = tg::lp_pool2d(x, p, tg::Pool2dOptions(2));
            tg::sum(y).backward();
            CAPTURE(p);
            CAPTURE(w);
            CHECK(xt::all(xt::equal(y.value(), 0.0)));
            CHECK(xt::all(xt::equal(x.grad(), 0.0)));
        }
    }
}

TEST_CASE("conv2d and pooling refuse options whose sizes wrap, naming the option") {
    const V x = input({1, 1, 4, 4}, 1), w = input({1, 1, 3, 3}, 2);
    const std::size_t two62 = std::size_t(1) << 62, two63 = std::size_t(1) << 63;
    // padding 2^62 crashed in im2col, padding 2^63 returned zeros, size_t(-1) cropped
    check_error([&] { tg::conv2d(x, w, tg::Conv2dOptions().padding(two62)); },
                "conv2d: padding 4611686018427387904 is too large for an input height of 4");
    check_error([&] { tg::conv2d(x, w, tg::Conv2dOptions().padding(two63)); }, "conv2d: padding 9223372036854775808");
    check_error(
        [&] {
            tg::conv2d(x, w, tg::Conv2dOptions().padding({0, std::size_t(-1)}));
        },
        "conv2d: padding 18446744073709551615 is too large for an input width of 4");
    // dilation 2^63 wrapped the dilated kernel to 1 and returned 4x the values
    check_error([&] { tg::conv2d(x, w, tg::Conv2dOptions().dilation(two63)); },
                "conv2d: kernel height 3 with dilation 9223372036854775808 is too large");
    check_error([&] { tg::conv2d(x, w, tg::Conv2dOptions().stride(two63)); },
                "conv2d: stride 9223372036854775808 is too large");
    // an output or a column buffer with more elements than fit, from a padding that does fit
    check_error([&] { tg::conv2d(x, w, tg::Conv2dOptions().padding(std::size_t(1) << 40)); }, "conv2d: shape");
    check_error(
        [&] {
            tg::conv2d_input_grad(x, w, tg::Shape{1, 1, 4, 4}, tg::Conv2dOptions().padding(two63));
        },
        "conv2d_input_grad: padding 9223372036854775808");
    check_error([&] { tg::max_pool2d(x, tg::Pool2dOptions(two63)); },
                "max_pool2d: kernel height 9223372036854775808 with dilation 1 is too large");
    check_error([&] { tg::max_pool2d(x, tg::Pool2dOptions(2).dilation(two63)); },
                "max_pool2d: kernel height 2 with dilation 9223372036854775808 is too large");
    check_error([&] { tg::avg_pool2d(x, tg::Pool2dOptions(2).stride(std::size_t(-1))); },
                "avg_pool2d: stride 18446744073709551615 is too large");
    check_error(
        [&] {
            tg::lp_pool2d(x, 2.0, tg::Pool2dOptions({two63, 2}).padding({two62, 0}));
        },
        "lp_pool2d: padding 4611686018427387904 is too large");
    check_error([&] { tg::nn::Conv2d<double>(1, 1, tg::Size2(std::size_t(1) << 40)); }, "Conv2d(1->1");
}

TEST_CASE("conv2d: an output that cannot be allocated is an error naming the op and the size") {
    // padding 2^30 on a 1x1 image: (2^31 + 1)^2 outputs, more than 2^64 bytes of doubles
    check_error(
        [&] {
            tg::conv2d(input({1, 1, 1, 1}, 1), input({1, 1, 1, 1}, 2),
                       tg::Conv2dOptions().padding(std::size_t(1) << 30));
        },
        "conv2d: cannot allocate more than 2^64 bytes");
}
