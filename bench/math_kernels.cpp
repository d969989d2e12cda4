// Vectorised math: kernels/math.hpp (xsimd + std:: at the edges) against the xt:: expressions it replaced.
//
//     ./build/bench/tapegrad_bench_math        (medians of 31 runs, one thread, ordinary inputs)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <xtensor/xmath.hpp>

#include <tapegrad/autograd/kernels/math.hpp>
#include <tapegrad/autograd/random.hpp>

namespace tg = tapegrad;

namespace {

double median_us(const std::function<void()>& f) {
    std::vector<double> t;
    for (int r = 0; r < 31; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    std::nth_element(t.begin(), t.begin() + 15, t.end());
    return t[15];
}

template <class T>
tg::Tensor<T> uniform(const tg::Shape& shape, double lo, double hi, std::uint64_t seed) {
    tg::Generator gen(seed);
    tg::Tensor<T> t = tg::Tensor<T>::from_shape(shape);
    for (auto& v : t) v = T(gen.uniform(lo, hi));
    return t;
}

template <class T>
void run(const char* type, const tg::Shape& shape) {
    const tg::Tensor<T> x = uniform<T>(shape, -4, 4, 1), pos = uniform<T>(shape, 0.1, 4, 2),
                        e = uniform<T>(shape, -2, 2, 3);
    volatile T sink = 0;
    auto row = [&](const char* name, const std::function<tg::Tensor<T>()>& before,
                   const std::function<tg::Tensor<T>()>& after) {
        const double b = median_us([&] { sink = sink + before().data()[0]; });
        const double a = median_us([&] { sink = sink + after().data()[0]; });
        std::printf("%-7s %-10s %-16s %10.1f %10.1f %7.2f\n", type, tg::shape_string(shape).c_str(), name, b, a, a / b);
    };
    row(
        "exp", [&] { return tg::Tensor<T>(xt::exp(x)); }, [&] { return tg::kernels::exp(x); });
    row(
        "log", [&] { return tg::Tensor<T>(xt::log(pos)); }, [&] { return tg::kernels::log(pos); });
    row(
        "tanh", [&] { return tg::Tensor<T>(xt::tanh(x)); }, [&] { return tg::kernels::tanh(x); });
    row(
        "erf", [&] { return tg::Tensor<T>(xt::erf(x)); }, [&] { return tg::kernels::erf(x); });
    row(
        "sqrt", [&] { return tg::Tensor<T>(xt::sqrt(pos)); }, [&] { return tg::kernels::sqrt(pos); });
    row(
        "pow(a, b)", [&] { return tg::Tensor<T>(xt::pow(pos, e)); }, [&] { return tg::kernels::pow(pos, e); });
    for (T p : {T(1.5), T(0.5), T(2)}) {
        const std::string name = "pow(a, " + std::to_string(p).substr(0, 3) + ")";
        row(
            name.c_str(), [&] { return tg::Tensor<T>(xt::pow(pos, p)); }, [&] { return tg::kernels::pow(pos, p); });
    }
}

}  // namespace

int main() {
    std::printf("%-7s %-10s %-16s %10s %10s %7s\n", "type", "shape", "function", "xt:: us", "kernels us", "ratio");
    for (const tg::Shape& s : {tg::Shape{64, 128}, tg::Shape{1000, 1000}}) {
        run<float>("float", s);
        run<double>("double", s);
    }
}
