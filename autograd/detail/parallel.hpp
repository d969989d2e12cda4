// Intra-op parallel loops for tapegrad's own kernels: OpenMP, with tapegrad::set_num_threads()'s count.
#pragma once

#include <cstddef>
#include <type_traits>

#include <tapegrad/autograd/threads.hpp>

namespace tapegrad::detail {

/// Loops with less work than this (in rough units of one float operation: a few microseconds) stay on the
/// calling thread: waking a second thread and joining it costs more than it saves.
inline constexpr std::size_t parallel_min_work = std::size_t(1) << 15;

/// Runs fn(ctx, begin, end) on up to `threads` threads over contiguous pieces of [0, n); rethrows the
/// first exception a piece threw once all have finished.
void parallel_run(std::size_t n, int threads, void (*fn)(void*, std::size_t, std::size_t), void* ctx);

/// Calls body(begin, end) on disjoint ranges covering [0, n) once each, on up to get_num_threads() threads
/// when n * work_per_item reaches parallel_min_work (else body(0, n) on the calling thread). Nothing an
/// index computes may depend on which range it falls in: then results are the same for every thread count.
template <class F>
void parallel_for(std::size_t n, std::size_t work_per_item, F&& body) {
    const int threads = n > 1 && n * work_per_item >= parallel_min_work ? get_num_threads() : 1;
    if (threads <= 1) {
        body(std::size_t(0), n);
        return;
    }
    using B = std::remove_reference_t<F>;
    parallel_run(
        n, threads, [](void* c, std::size_t b, std::size_t e) { (*static_cast<B*>(c))(b, e); },
        const_cast<void*>(static_cast<const void*>(&body)));
}

}  // namespace tapegrad::detail
