// Locked accumulation into leaf gradients: a striped table of mutexes, none inside the leaves.
#include <tapegrad/autograd/engine/leaf_grad.hpp>

#include <cstdint>
#include <fmt/format.h>
#include <mutex>

#include <tapegrad/autograd/error.hpp>

namespace tapegrad::detail {
namespace {

// A lock per leaf would cost every leaf 40 bytes (intermediate values computed without
// recording are leaves too). Leaves share 64 locks by address instead; two leaves on one lock
// only wait for each other when two threads flush into both at the same moment.
struct alignas(64) Stripe {
    std::mutex m;
};
Stripe stripes[64];

std::mutex& lock_of(const void* leaf) {
    const auto h = (std::uint64_t(reinterpret_cast<std::uintptr_t>(leaf)) * 0x9E3779B97F4A7C15ull) >> 58;
    return stripes[h].m;
}

template <class T>
void add_in_place(Tensor<T>& acc, const Tensor<T>& g) {
    T* a = acc.data();
    const T* b = g.data();
    const std::size_t n = acc.size();
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) a[i] += b[i];
}

}  // namespace

template <class T>
void add_to_leaf_grad(Leaf<T>& leaf, Tensor<T>&& g) {
    std::lock_guard<std::mutex> lock(lock_of(&leaf));
    if (!leaf.grad) {
        leaf.grad.emplace(std::move(g));
        return;
    }
    if (!shape_equal(leaf.grad->shape(), g.shape()))
        throw Error(
            fmt::format("backward: cannot add a gradient of shape {} to the existing gradient of shape {} "
                        "(the leaf's value changed shape; call zero_grad() first)",
                        shape_string(g.shape()), shape_string(leaf.grad->shape())));
    add_in_place(*leaf.grad, g);
}

template void add_to_leaf_grad(Leaf<float>&, Tensor<float>&&);
template void add_to_leaf_grad(Leaf<double>&, Tensor<double>&&);

}  // namespace tapegrad::detail
