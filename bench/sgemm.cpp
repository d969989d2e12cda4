// The reference: sgemm called straight on OpenBLAS and on oneDNN, for the "fraction of the machine's sgemm rate".
#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <tapegrad/autograd/threads.hpp>

#include "sides.hpp"

namespace bench {
namespace {

class SgemmLinear final : public Runner {
public:
    SgemmLinear(std::size_t batch, std::size_t in, std::size_t out)
        : b_(int(batch)),
          in_(int(in)),
          out_(int(out)),
          x_(uniform_floats(batch * in, -1, 1, 31)),
          w_(uniform_floats(out * in, -1, 1, 32)),
          g_(uniform_floats(batch * out, -1, 1, 33)),
          y_(batch * out),
          dx_(batch * in),
          dw_(out * in) {}

    void run(std::size_t iterations) override {
        for (std::size_t it = 0; it < iterations; ++it) {
            // y = x W^T;  dx = g W;  dW = g^T x: the flags a Linear layer's forward and backward use.
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b_, out_, in_, 1.f, x_.data(), in_, w_.data(), in_,
                        0.f, y_.data(), out_);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b_, in_, out_, 1.f, g_.data(), out_, w_.data(), in_,
                        0.f, dx_.data(), in_);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_, in_, b_, 1.f, g_.data(), out_, x_.data(), in_,
                        0.f, dw_.data(), in_);
        }
    }
    double probe() override { return double(y_[0]) + double(dx_[0]) + double(dw_[0]); }

private:
    int b_, in_, out_;
    std::vector<float> x_, w_, g_, y_, dx_, dw_;
};

class SgemmSquare final : public Runner {
public:
    explicit SgemmSquare(std::size_t n)
        : n_(int(n)), a_(uniform_floats(n * n, -1, 1, 41)), b_(uniform_floats(n * n, -1, 1, 42)), c_(n * n) {}
    void run(std::size_t iterations) override {
        for (std::size_t it = 0; it < iterations; ++it)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_, n_, n_, 1.f, a_.data(), n_, b_.data(), n_, 0.f,
                        c_.data(), n_);
    }
    double probe() override { return c_[0]; }

private:
    int n_;
    std::vector<float> a_, b_, c_;
};

/// oneDNN (OpenMP runtime) threads by the calling thread's OpenMP count: the bench's --threads, as tapegrad does.
class DnnlSquare final : public Runner {
public:
    explicit DnnlSquare(std::size_t n)
        : n_(dnnl_dim_t(n)), a_(uniform_floats(n * n, -1, 1, 41)), b_(uniform_floats(n * n, -1, 1, 42)), c_(n * n) {}
    void run(std::size_t iterations) override {
        omp_set_num_threads(tapegrad::get_num_threads());
        for (std::size_t it = 0; it < iterations; ++it)
            dnnl_sgemm('N', 'N', n_, n_, n_, 1.f, a_.data(), n_, b_.data(), n_, 0.f, c_.data(), n_);
    }
    double probe() override { return c_[0]; }

private:
    dnnl_dim_t n_;
    std::vector<float> a_, b_, c_;
};

}  // namespace

std::unique_ptr<Runner> make_dnnl_sgemm_square(std::size_t n) { return std::make_unique<DnnlSquare>(n); }

std::unique_ptr<Runner> make_sgemm_linear(std::size_t batch, std::size_t in, std::size_t out) {
    return std::make_unique<SgemmLinear>(batch, in, out);
}
std::unique_ptr<Runner> make_sgemm_square(std::size_t n) { return std::make_unique<SgemmSquare>(n); }

std::string openblas_info() {
    return std::string(openblas_get_config()) + " (core " + openblas_get_corename() + ")";  // "OpenBLAS 0.3.21 ..."
}

}  // namespace bench
