// The tape at work: a tiny expression recorded, listed, drawn as DOT and differentiated.
#include <fmt/core.h>
#include <fstream>

#include <tapegrad/tapegrad.hpp>

int main() {
    namespace tg = tapegrad;
    // f(a, b) = tanh(a * b + b), at a = 2, b = -0.5
    auto a = tg::parameter(xt::xarray<double>{2.0});
    auto b = tg::parameter(xt::xarray<double>{-0.5});
    auto f = tg::sum(tg::tanh(a * b + b));
    fmt::print("The tape (forward order; backward visits the steps in order):\n{}\n", tg::tape_listing(f));
    f.backward(tg::BackwardOptions().retain_graph(true));
    const double t = std::tanh(2.0 * -0.5 - 0.5);
    fmt::print("df/da = {:.6f}  (by hand: (1 - tanh^2) * b     = {:.6f})\n", a.grad()(0), (1 - t * t) * -0.5);
    fmt::print("df/db = {:.6f}  (by hand: (1 - tanh^2) * (a+1) = {:.6f})\n", b.grad()(0), (1 - t * t) * 3.0);
    std::ofstream("tape_demo.dot") << tg::to_dot(f, "f = tanh(a*b + b)");
    fmt::print("Wrote tape_demo.dot (draw it with: dot -Tpng tape_demo.dot -o tape_demo.png)\n");
}
