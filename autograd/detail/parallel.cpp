// parallel_run: the one OpenMP region behind detail::parallel_for (compiled with -fopenmp).
#include <tapegrad/autograd/detail/parallel.hpp>

#include <algorithm>
#include <exception>
#include <mutex>

#include <omp.h>

namespace tapegrad::detail {

void parallel_run(std::size_t n, int threads, void (*fn)(void*, std::size_t, std::size_t), void* ctx) {
    const int t = int(std::min<std::size_t>(std::size_t(threads), n));
    std::exception_ptr error;
    std::mutex error_lock;
    // An exception must not leave an OpenMP region: each piece keeps the first one for the caller.
#pragma omp parallel num_threads(t)
    {
        const std::size_t id = std::size_t(omp_get_thread_num()), nt = std::size_t(omp_get_num_threads());
        const std::size_t begin = n * id / nt, end = n * (id + 1) / nt;
        try {
            if (begin < end) fn(ctx, begin, end);
        } catch (...) {
            const std::lock_guard<std::mutex> hold(error_lock);
            if (!error) error = std::current_exception();
        }
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace tapegrad::detail
