#include <doctest/doctest.h>
#include <tapegrad/tapegrad.hpp>
namespace tg = tapegrad;
TEST_CASE("smoke") {
    xt::xarray<double> a = {1.0, 2.0, 3.0};
    auto x = tg::parameter(a);
    auto y = tg::tanh(x * 2.0 + 1.0);
    auto s = tg::sum_to(y, tg::Shape{1});
    s.backward();
    CHECK(x.grad().size() == 3);
}
