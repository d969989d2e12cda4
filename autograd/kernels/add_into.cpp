// sum += g: how the engine adds a gradient into the one already summed for a node, and how a VJP adds
// its own into it (vjp::add_to_sum). One function, so that both give the same bits.
#include <tapegrad/autograd/kernels/detail/dispatch.hpp>
#include <tapegrad/autograd/kernels/elementwise.hpp>

namespace tapegrad::kernels {
namespace {

template <class T>
TAPEGRAD_HOT_LOOP void add_n(T* a, const T* b, std::size_t n) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) a[i] += b[i];
}

}  // namespace

template <class T>
void add_into(Tensor<T>& sum, const Tensor<T>& g) {
    T* a = sum.data();
    const T* b = g.data();
    const std::size_t n = sum.size();
    if (n >= 256) {  // per-CPU copies (a call is not worth it for a few elements)
        add_n(a, b, n);
        return;
    }
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) a[i] += b[i];
}

template void add_into(Tensor<float>&, const Tensor<float>&);
template void add_into(Tensor<double>&, const Tensor<double>&);

}  // namespace tapegrad::kernels
