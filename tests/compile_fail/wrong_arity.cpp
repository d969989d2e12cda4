// Must not compile: two Variables given to an op whose forward takes one tensor.
#include <tapegrad/tapegrad.hpp>
namespace tg = tapegrad;

struct Unary {
    static constexpr const char* name = "unary";
    tg::Tensor<double> forward(const tg::Tensor<double>& x) const { return x; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        a.dx[0] = std::move(a.g);
    }
};

int main() {
    auto x = tg::parameter(xt::xarray<double>{1.0});
    tg::apply(Unary{}, x, x);
}
