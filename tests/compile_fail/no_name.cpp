// Must not compile: an op without a name.
#include <tapegrad/tapegrad.hpp>
namespace tg = tapegrad;

struct Nameless {
    tg::Tensor<double> forward(const tg::Tensor<double>& x) const { return x; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        a.dx[0] = std::move(a.g);
    }
};

int main() {
    auto x = tg::parameter(xt::xarray<double>{1.0});
    tg::apply(Nameless{}, x);
}
