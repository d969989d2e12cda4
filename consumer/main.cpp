// Uses the installed tapegrad: one gradient, checked against the closed form.
#include <tapegrad/tapegrad.hpp>

#include <cmath>
#include <cstdio>

int main() {
    namespace tg = tapegrad;
    auto x = tg::parameter(xt::xarray<double>{0.5, -1.0});
    tg::sum(tg::tanh(x) * x).backward();
    const double expected = std::tanh(0.5) + 0.5 * (1 - std::tanh(0.5) * std::tanh(0.5));
    const bool ok = std::abs(x.grad()(0) - expected) < 1e-12;
    std::printf("consumer: find_package(tapegrad) works, gradient %s\n", ok ? "correct" : "WRONG");
    return ok ? 0 : 1;
}
