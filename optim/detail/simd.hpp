// for_each_element: an update kernel written once, run on xsimd batches and then on the scalar tail.
//
// GCC does not vectorise a loop that calls std::sqrt while errno is honoured (the default), so
// the loops of Adam, RMSprop and Adagrad would run one element at a time (1.5 ms for a
// 100k-parameter Adam step here). Writing the kernel as a generic lambda and running it on
// xsimd batches uses the vector sqrt instruction instead. Internal: included by .cpp files only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include <xsimd/xsimd.hpp>

#include <tapegrad/autograd/detail/parallel.hpp>

namespace tapegrad::optim::detail {

/// sqrt of a number or, elementwise, of a batch.
inline float vsqrt(float x) { return std::sqrt(x); }
inline double vsqrt(double x) { return std::sqrt(x); }
template <class T, class A>
xsimd::batch<T, A> vsqrt(const xsimd::batch<T, A>& x) {
    return xsimd::sqrt(x);
}

/// a > b ? a : b, for numbers and elementwise for batches (like the maxps instruction: NaN in
/// b is kept).
inline float vmax(float a, float b) { return a > b ? a : b; }
inline double vmax(double a, double b) { return a > b ? a : b; }
template <class T, class A>
xsimd::batch<T, A> vmax(const xsimd::batch<T, A>& a, const xsimd::batch<T, A>& b) {
    return xsimd::max(a, b);
}

template <class T, class Batches, class... P, std::size_t... I>
void store_batches(const Batches& batches, std::size_t i, std::index_sequence<I...>, P*... arrays) {
    auto store = [i](auto* array, const auto& batch) {
        if constexpr (!std::is_const_v<std::remove_pointer_t<decltype(array)>>) batch.store_unaligned(array + i);
    };
    (store(arrays, std::get<I>(batches)), ...);
}

/// for_each_element's loop over [0, n) on the calling thread.
template <class T, class Kernel, class... P>
void for_each_element_on_thread(std::size_t n, Kernel& kernel, P*... arrays) {
    using B = xsimd::batch<T>;
    constexpr std::size_t width = B::size;
    std::size_t i = 0;
    for (; i + width <= n; i += width) {
        std::tuple<std::conditional_t<true, B, P>...> batches(B::load_unaligned(arrays + i)...);
        std::apply(kernel, batches);
        store_batches<T>(batches, i, std::index_sequence_for<P...>{}, arrays...);
    }
    for (; i < n; ++i) kernel(arrays[i]...);
}

/// Calls kernel(e...) for every index below n, where e are references to the elements of
/// `arrays` at that index (const for const arrays; changes to the others are written back):
/// whole xsimd batches first, then the remaining elements one by one. The kernel is a generic
/// lambda using +, -, *, /, vsqrt and vmax, with constants converted to the element type:
///   using V = std::decay_t<decltype(x)>;  x = x - V(lr) * g;
/// Large parameters are updated by set_num_threads() threads, in blocks of whole batches: every element
/// takes the same (batch or scalar) path whatever the thread count, so the results are too.
template <class T, class Kernel, class... P>
void for_each_element(std::size_t n, Kernel&& kernel, P*... arrays) {
    constexpr std::size_t block = 4096;  // a multiple of every batch width
    static_assert(block % xsimd::batch<T>::size == 0, "blocks of whole batches");
    const std::size_t blocks = (n + block - 1) / block;
    tapegrad::detail::parallel_for(blocks, block * 4, [&](std::size_t b0, std::size_t b1) {
        const std::size_t begin = b0 * block, end = std::min(n, b1 * block);
        for_each_element_on_thread<T>(end - begin, kernel, (arrays + begin)...);
    });
}

}  // namespace tapegrad::optim::detail
