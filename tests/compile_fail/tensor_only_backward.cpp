// Must not compile: a VJP written for tensors only (it would not run under create_graph).
#include <tapegrad/tapegrad.hpp>
namespace tg = tapegrad;

struct TensorOnly {
    static constexpr const char* name = "tensor_only";
    tg::Tensor<double> forward(const tg::Tensor<double>& x) const { return x; }
    void backward(tg::VjpArgs<tg::Tensor<double>>& a) const { a.dx[0] = std::move(a.g); }
};

int main() {
    auto x = tg::parameter(xt::xarray<double>{1.0});
    tg::apply(TensorOnly{}, x);
}
