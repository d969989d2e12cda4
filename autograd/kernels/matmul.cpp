// Matrix products on tensors: batched matmul with transpose flags, and the dense layer's three products.
#include <tapegrad/autograd/kernels/matmul.hpp>

#include <algorithm>

#include <tapegrad/autograd/kernels/detail/blas.hpp>
#include <tapegrad/autograd/kernels/broadcast.hpp>

namespace tapegrad::kernels {
namespace {

/// Rows of a (..., n) value viewed as a matrix.
std::size_t leading_rows(const Shape& shape) {
    std::size_t rows = 1;
    for (std::size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
    return rows;
}

}  // namespace

/// op(a) @ op(b) over the last two axes, where op transposes them when asked; leading
/// (batch) axes broadcast. Both operands have at least two dimensions.
template <class T>
Tensor<T> batched_matmul(const Tensor<T>& a, bool ta, const Tensor<T>& b, bool tb) {
    const std::size_t ra = a.dimension(), rb = b.dimension();
    const std::size_t a0 = a.shape()[ra - 2], a1 = a.shape()[ra - 1];
    const std::size_t b0 = b.shape()[rb - 2], b1 = b.shape()[rb - 1];
    const std::size_t m = ta ? a1 : a0, k = ta ? a0 : a1, n = tb ? b0 : b1;
    const Shape batch_a(a.shape().begin(), a.shape().end() - 2);
    const Shape batch_b(b.shape().begin(), b.shape().end() - 2);
    const Shape batch = broadcast_shape("matmul", batch_a, batch_b);
    Shape out_shape = batch;
    out_shape.push_back(m);
    out_shape.push_back(n);
    shape_size(out_shape, "matmul");
    Tensor<T> y = Tensor<T>::from_shape(out_shape);
    const std::size_t batches = shape_size(batch);
    if (batches == 0) return y;

    // A stack of plain (untransposed) matrices times one matrix: one GEMM with the stack as rows.
    if (!ta && batch_b.empty()) {
        gemm(false, tb, batches * m, n, k, T(1), a.data(), a1, b.data(), b1, T(0), y.data(), n);
        return y;
    }
    const std::size_t size_a = a0 * a1, size_b = b0 * b1, size_y = m * n;
    const auto sa = broadcast_strides(batch_a, batch);
    const auto sb = broadcast_strides(batch_b, batch);
    std::size_t yi = 0;
    auto one = [&](std::ptrdiff_t oa, std::ptrdiff_t ob) {
        gemm(ta, tb, m, n, k, T(1), a.data() + std::size_t(oa) * size_a, a1, b.data() + std::size_t(ob) * size_b, b1,
             T(0), y.data() + yi * size_y, n);
        ++yi;
    };
    if (batch.empty()) {
        one(0, 0);
    } else {
        for_each_row(
            batch, sa, sb,
            [&](std::ptrdiff_t oa, std::ptrdiff_t ob, std::size_t count, std::ptrdiff_t da, std::ptrdiff_t db) {
                for (std::size_t j = 0; j < count; ++j) one(oa + std::ptrdiff_t(j) * da, ob + std::ptrdiff_t(j) * db);
            });
    }
    return y;
}

template <class T>
Tensor<T> linear(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b) {
    const std::size_t out = w.shape()[0], in = w.shape()[1];
    Shape out_shape = x.shape();
    out_shape.back() = out;
    shape_size(out_shape, "linear");
    Tensor<T> y = Tensor<T>::from_shape(out_shape);
    const std::size_t rows = leading_rows(x.shape());
    T* py = y.data();
    if (b) {  // rows start as the bias, and GEMM adds the product onto them (beta = 1)
        const T* pb = b->data();
        for (std::size_t r = 0; r < rows; ++r) std::copy(pb, pb + out, py + r * out);
    }
    gemm(false, true, rows, out, in, T(1), x.data(), in, w.data(), in, b ? T(1) : T(0), py, out);
    return y;
}

template <class T>
Tensor<T> linear_input_grad(const Tensor<T>& g, const Tensor<T>& w) {
    const std::size_t out = w.shape()[0], in = w.shape()[1];
    Shape shape = g.shape();
    shape.back() = in;
    Tensor<T> dx = Tensor<T>::from_shape(shape);
    gemm(false, false, leading_rows(g.shape()), in, out, T(1), g.data(), out, w.data(), in, T(0), dx.data(), in);
    return dx;
}

template <class T>
Tensor<T> linear_weight_grad(const Tensor<T>& g, const Tensor<T>& x) {
    const std::size_t out = g.shape().back(), in = x.shape().back();
    Tensor<T> dw = Tensor<T>::from_shape({out, in});
    gemm(true, false, out, in, leading_rows(g.shape()), T(1), g.data(), out, x.data(), in, T(0), dw.data(), in);
    return dw;
}

#define TAPEGRAD_INSTANTIATE(T)                                                        \
    template Tensor<T> batched_matmul(const Tensor<T>&, bool, const Tensor<T>&, bool); \
    template Tensor<T> linear(const Tensor<T>&, const Tensor<T>&, const Tensor<T>*);   \
    template Tensor<T> linear_input_grad(const Tensor<T>&, const Tensor<T>&);          \
    template Tensor<T> linear_weight_grad(const Tensor<T>&, const Tensor<T>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::kernels
