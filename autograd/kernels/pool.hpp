// Pooling kernels: geometry, max pooling with the positions of the maxima, average pooling and its adjoint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <tapegrad/autograd/kernels/shape.hpp>
#include <tapegrad/autograd/ops/window_options.hpp>

namespace tapegrad::kernels {

struct PoolGeom {
    std::size_t n, c, h, w;
    std::size_t kh, kw, sh, sw, ph, pw, dh, dw;
    std::size_t oh, ow;
    bool count_include_pad;

    Shape input_shape() const { return {n, c, h, w}; }
    Shape output_shape() const { return {n, c, oh, ow}; }
    std::string describe() const;
};

/// Checks x (N, C, H, W) and the options, and returns the geometry; errors name `fn`.
PoolGeom check_pool(const char* fn, const Shape& x, const Pool2dOptions& opt, bool dilation_allowed);

/// Flat positions in the pooled input (32 bits: max_pool2d refuses larger inputs).
using PoolIndex = std::uint32_t;

/// The tensor block cache's allocator, except that resize() leaves new elements uninitialised: max_pool
/// writes every position, so zeroing them first was a wasted pass.
template <class U>
struct UninitAllocator : memory::CachingAllocator<U> {
    /// The same allocator for V (what standard containers ask for).
    template <class V>
    struct rebind {
        /// `UninitAllocator<V>`.
        using other = UninitAllocator<V>;
    };
    UninitAllocator() noexcept = default;
    /// Converts from the allocator of another type (it has no state).
    template <class V>
    UninitAllocator(const UninitAllocator<V>&) noexcept {}
    /// Default-initialises (for PoolIndex: leaves the value as it was).
    template <class V>
    void construct(V* p) noexcept(std::is_nothrow_default_constructible_v<V>) {
        ::new (static_cast<void*>(p)) V;
    }
    /// Constructs from the arguments, as std::allocator does.
    template <class V, class... A>
    void construct(V* p, A&&... args) {
        ::new (static_cast<void*>(p)) V(std::forward<A>(args)...);
    }
};

/// The positions of a max pooling's maxima, shared by the gather op and the scatter op of its VJP.
using PoolIndices = std::vector<PoolIndex, UninitAllocator<PoolIndex>>;

/// The maxima of every window, and their flat positions in x (a NaN wins, as in PyTorch).
/// Throws if a window lies entirely in the padding.
template <class T>
Tensor<T> max_pool(const Tensor<T>& x, const PoolGeom& g, PoolIndices& idx);
/// Throws, as max_pool would, if a window of g lies entirely in the padding.
void check_max_pool_windows(const PoolGeom& g);
/// max_pool of the planes (image, channel) [nc0, nc1) alone, on the calling thread, their data at src (plane
/// nc0 first, wherever it lives): their maxima and positions (in the whole input) go to y and idx, at those
/// planes. conv2d_relu_max_pool2d pools each image's activation this way while it is in cache.
template <class T>
void max_pool_planes(const T* src, T* y, PoolIndex* idx, const PoolGeom& g, std::size_t nc0, std::size_t nc1);
/// y[i] = x[idx[i]] (y has `out_shape`).
template <class T>
Tensor<T> gather_at(const Tensor<T>& x, const PoolIndices& idx, const Shape& out_shape);
/// Zeros of `in_shape` with g[i] added at idx[i].
template <class T>
Tensor<T> scatter_add_at(const Tensor<T>& g, const PoolIndices& idx, const Shape& in_shape);

/// The mean of every window.
template <class T>
Tensor<T> avg_pool(const Tensor<T>& x, const PoolGeom& g);
/// The transpose of avg_pool: each output gradient spread evenly over its window.
template <class T>
Tensor<T> avg_pool_adjoint(const Tensor<T>& gy, const PoolGeom& g);

}  // namespace tapegrad::kernels
