// broadcast_to and sum_to on tensors: row walks over broadcast strides.
#include <tapegrad/autograd/kernels/broadcast.hpp>

#include <algorithm>

namespace tapegrad::kernels {

template <class T>
Tensor<T> broadcast_to(const Tensor<T>& x, const Shape& shape) {
    if (shape_equal(x.shape(), shape)) return x;
    Tensor<T> y = Tensor<T>::from_shape(shape);
    const T* px = x.data();
    T* q = y.data();
    const auto sx = broadcast_strides(x.shape(), shape);
    const std::vector<std::ptrdiff_t> none(shape.size(), 0);
    for_each_row(shape, sx, none,
                 [&](std::ptrdiff_t ox, std::ptrdiff_t, std::size_t m, std::ptrdiff_t dx, std::ptrdiff_t) {
                     const T* r = px + ox;
                     if (dx == 1) {
                         std::copy(r, r + m, q);
                     } else {
                         std::fill(q, q + m, r[0]);
                     }
                     q += m;
                 });
    return y;
}

template <class T>
Tensor<T> sum_to(const Tensor<T>& x, const Shape& shape) {
    if (shape_equal(x.shape(), shape)) return x;
    Tensor<T> y(shape, T(0));
    const T* px = x.data();
    T* py = y.data();
    // Walk x row by row; each row adds into y at y's (zero-stride where summed) offsets.
    const auto sy = broadcast_strides(shape, x.shape());
    const std::vector<std::ptrdiff_t> none(x.shape().size(), 0);
    const T* r = px;
    for_each_row(x.shape(), sy, none,
                 [&](std::ptrdiff_t oy, std::ptrdiff_t, std::size_t m, std::ptrdiff_t dy, std::ptrdiff_t) {
                     T* out = py + oy;
                     if (dy == 1) {
#pragma omp simd
                         for (std::size_t j = 0; j < m; ++j) out[j] += r[j];
                     } else {
                         T s = 0;
#pragma omp simd reduction(+ : s)
                         for (std::size_t j = 0; j < m; ++j) s += r[j];
                         out[0] += s;
                     }
                     r += m;
                 });
    return y;
}

template Tensor<float> broadcast_to(const Tensor<float>&, const Shape&);
template Tensor<double> broadcast_to(const Tensor<double>&, const Shape&);
template Tensor<float> sum_to(const Tensor<float>&, const Shape&);
template Tensor<double> sum_to(const Tensor<double>&, const Shape&);

}  // namespace tapegrad::kernels
