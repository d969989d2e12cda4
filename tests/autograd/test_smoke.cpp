#include "helpers.hpp"
using namespace tgtest;
TEST_CASE("smoke") {
    auto x = input({2, 3}, 1), y = input({3}, 2), z = input({2, 1}, 3);
    check_gradients([&] { return tg::sum(tg::tanh(x * y + z)); }, {x, y, z});
    check_gradients([&] { return tg::tanh(x * y + z); }, {x, y, z});
    check_gradients([&] { return tg::matmul(x, tg::transpose(x)); }, {x});
    check_gradients([&] { return tg::softmax(x, 1); }, {x});
    check_gradients([&] { return tg::log_softmax(x, 0); }, {x});
    check_gradients([&] { return tg::logsumexp(x, 1); }, {x});
    check_gradients([&] { return tg::var(x, 1, false); }, {x});
    check_gradients([&] { return tg::linear(x, x, tg::sum(x, 1)); }, {x});
    check_gradients([&] { return tg::linear(tg::reshape(x, {3, 2}), tg::transpose(z)); }, {x, z});
}
