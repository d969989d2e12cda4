// Tests of conv2d's fast path (stride 1, no padding, no dilation, output rows of 8 or more values).
#include "helpers.hpp"

using namespace tgtest;

namespace {

/// y[n,o,i,j] = sum_{c,p,q} x[n,c,i+p,j+q] w[o,c,p,q]: the only convolution the fast path handles.
xt::xarray<double> plain_conv(const tg::Tensor<double>& x, const tg::Tensor<double>& w) {
    const std::size_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
    const std::size_t O = w.shape()[0], KH = w.shape()[2], KW = w.shape()[3];
    const std::size_t OH = H - KH + 1, OW = W - KW + 1;
    xt::xarray<double> y = xt::zeros<double>({N, O, OH, OW});
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t o = 0; o < O; ++o)
            for (std::size_t i = 0; i < OH; ++i)
                for (std::size_t j = 0; j < OW; ++j)
                    for (std::size_t c = 0; c < C; ++c)
                        for (std::size_t p = 0; p < KH; ++p)
                            for (std::size_t q = 0; q < KW; ++q) y(n, o, i, j) += x(n, c, i + p, j + q) * w(o, c, p, q);
    return y;
}

}  // namespace

TEST_CASE("conv2d fast path: rows of exactly 8, and longer rows with a partial last block") {
    // {N, C, H, W, O, K}: OW = 8 (one block per row), 11 and 17 (an overlapping last block), 24 (LeNet's conv1)
    const std::size_t cases[][6] = {
        {2, 2, 12, 12, 3, 5}, {1, 2, 9, 13, 2, 3}, {1, 1, 6, 20, 2, 4}, {1, 1, 28, 28, 2, 5}};
    std::uint64_t seed = 700;
    for (const auto& k : cases) {
        CAPTURE(k[3]);
        auto x = input({k[0], k[1], k[2], k[3]}, seed++);
        auto w = input({k[4], k[1], k[5], k[5]}, seed++);
        auto b = input({k[4]}, seed++);
        CHECK(close(tg::conv2d(x, w).value(), plain_conv(x.value(), w.value()), 1e-12));
        const auto report = tg::gradcheck<double>([&] { return tg::conv2d(x, w, b); }, {x, w, b});
        INFO(report.summary());
        CHECK(report.passed);
    }
}
