// Tests of intra-op threads (set_num_threads): the loops split work as documented, and the kernels they drive
// (convolution, pooling, optimizer updates) give the same bits on 1 and 2 threads.
#include <tapegrad/autograd/kernels/detail/conv_onednn.hpp>
#include <tapegrad/autograd/detail/parallel.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "helpers.hpp"

using namespace tgtest;

namespace {

/// Restores the thread count a test changed, also when a check throws.
struct ThreadCount {
    explicit ThreadCount(int n) : had(tg::get_num_threads()) { tg::set_num_threads(n); }
    ~ThreadCount() { tg::set_num_threads(had); }
    int had;
};

template <class T>
bool same_bits(const tg::Tensor<T>& a, const tg::Tensor<T>& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <class T>
tg::Variable<T> leaf(const tg::Shape& shape, std::uint64_t seed) {
    tg::Generator gen(seed);
    tg::Tensor<T> t = tg::Tensor<T>::from_shape(shape);
    for (auto& v : t) v = T(gen.uniform(-1.0, 1.0));
    return tg::Variable<T>(std::move(t), true);
}

/// The value of f() and the gradients it leaves on `leaves`, computed with `threads` threads on fresh copies.
template <class T, class F>
std::vector<tg::Tensor<T>> run_with(int threads, const std::vector<tg::Variable<T>>& leaves, F f) {
    const ThreadCount use(threads);
    std::vector<tg::Variable<T>> copies;
    for (const auto& l : leaves) copies.emplace_back(l.value(), true);
    const tg::Variable<T> y = f(copies);
    tg::Variable<T> loss = tg::sum(y * y);
    loss.backward();
    std::vector<tg::Tensor<T>> out{y.value()};
    for (const auto& c : copies) out.push_back(c.grad());
    return out;
}

template <class T, class F>
void check_thread_independent(const std::vector<tg::Variable<T>>& leaves, F f) {
    const auto one = run_with<T>(1, leaves, f), two = run_with<T>(2, leaves, f);
    REQUIRE(one.size() == two.size());
    for (std::size_t i = 0; i < one.size(); ++i) {
        CAPTURE(i);  // 0: the value, then each leaf's gradient
        CHECK(same_bits(one[i], two[i]));
    }
}

}  // namespace

TEST_CASE("parallel_for: pieces cover the range once each, on 2 threads above the threshold only") {
    const ThreadCount use(2);
    std::mutex lock;
    std::vector<std::pair<std::size_t, std::size_t>> pieces;
    const auto record = [&](std::size_t b, std::size_t e) {
        const std::lock_guard<std::mutex> hold(lock);
        pieces.emplace_back(b, e);
    };
    tg::detail::parallel_for(10, tg::detail::parallel_min_work, record);
    REQUIRE(pieces.size() == 2);
    std::sort(pieces.begin(), pieces.end());
    CHECK(pieces[0] == std::pair<std::size_t, std::size_t>{0, 5});
    CHECK(pieces[1] == std::pair<std::size_t, std::size_t>{5, 10});

    pieces.clear();
    tg::detail::parallel_for(10, 1, record);  // too little work: one piece, on this thread
    CHECK(pieces.size() == 1);

    tg::set_num_threads(1);
    pieces.clear();
    tg::detail::parallel_for(10, tg::detail::parallel_min_work, record);
    CHECK(pieces.size() == 1);
}

TEST_CASE("parallel_for: an exception in a piece reaches the caller after every piece has run") {
    const ThreadCount use(2);
    std::atomic<int> ran{0};
    CHECK_THROWS_AS(tg::detail::parallel_for(4, tg::detail::parallel_min_work,
                                             [&](std::size_t b, std::size_t) {
                                                 ++ran;
                                                 if (b == 0) throw std::runtime_error("piece 0");
                                             }),
                    std::runtime_error);
    CHECK(ran == 2);
}

TEST_CASE("conv2d through im2col gives the same bits on 1 and 2 threads (double, and float 1-channel layers)") {
    const tg::Conv2dOptions opt = tg::Conv2dOptions().padding(1).stride({1, 2});
    check_thread_independent<double>({leaf<double>({8, 4, 16, 16}, 1), leaf<double>({8, 4, 3, 3}, 2)},
                                     [&](const auto& v) { return tg::conv2d(v[0], v[1], opt); });
    check_thread_independent<double>(
        {leaf<double>({6, 4, 12, 12}, 3), leaf<double>({6, 2, 5, 5}, 4), leaf<double>({6}, 5)},
        [&](const auto& v) { return tg::conv2d(v[0], v[1], v[2], tg::Conv2dOptions().groups(2)); });
    const auto before = tapegrad::kernels::onednn_conv_calls();
    check_thread_independent<float>({leaf<float>({16, 1, 28, 28}, 6), leaf<float>({16, 1, 5, 5}, 7)},
                                    [&](const auto& v) { return tg::conv2d(v[0], v[1]); });
    CHECK(tapegrad::kernels::onednn_conv_calls() == before);  // the im2col path was the one tested
}

TEST_CASE("pooling gives the same bits on 1 and 2 threads") {
    const auto x = leaf<float>({8, 16, 32, 32}, 8);
    check_thread_independent<float>({x}, [](const auto& v) { return tg::max_pool2d(v[0], tg::Pool2dOptions(2)); });
    check_thread_independent<float>(
        {x}, [](const auto& v) { return tg::max_pool2d(v[0], tg::Pool2dOptions(3).stride(2).padding(1)); });
    check_thread_independent<float>({x}, [](const auto& v) { return tg::avg_pool2d(v[0], tg::Pool2dOptions(2)); });
    check_thread_independent<double>({leaf<double>({4, 8, 20, 20}, 9)}, [](const auto& v) {
        return tg::avg_pool2d(v[0], tg::Pool2dOptions(3).stride(2).padding(1));
    });
}

TEST_CASE("Adam and SGD updates of a large parameter give the same bits on 1 and 2 threads") {
    const std::size_t n = 50001;  // several blocks and a tail shorter than a batch
    const auto grad_of = [](const tg::Variable<float>& p) { return tg::sum(p * p * p); };
    const auto train = [&](int threads, bool adam) {
        const ThreadCount use(threads);
        tg::Variable<float> p(leaf<float>({n}, 10).value(), true);
        if (adam) {
            tg::optim::Adam<float> opt({p}, tg::optim::AdamOptions(1e-2).weight_decay(1e-3));
            for (int s = 0; s < 3; ++s) {
                opt.zero_grad();
                grad_of(p).backward();
                opt.step();
            }
        } else {
            tg::optim::SGD<float> opt({p}, tg::optim::SGDOptions(1e-2).momentum(0.9).nesterov(true));
            for (int s = 0; s < 3; ++s) {
                opt.zero_grad();
                grad_of(p).backward();
                opt.step();
            }
        }
        return p.value();
    };
    CHECK(same_bits(train(1, true), train(2, true)));
    CHECK(same_bits(train(1, false), train(2, false)));
    CHECK(!same_bits(train(1, true), train(1, false)));  // the comparison can tell results apart
}
