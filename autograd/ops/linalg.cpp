// matmul and linear, forward next to VJP; plain backward uses GEMM transpose flags, not copies.
#include <tapegrad/autograd/ops/linalg.hpp>

#include <fmt/format.h>

#include <tapegrad/autograd/op.hpp>
#include <tapegrad/autograd/ops/blas.hpp>
#include <tapegrad/autograd/ops/dual.hpp>
#include <tapegrad/autograd/ops/reduce.hpp>

namespace tapegrad {
namespace {

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
    const Shape batch = kernels::broadcast_shape("matmul", batch_a, batch_b);
    Shape out_shape = batch;
    out_shape.push_back(m);
    out_shape.push_back(n);
    shape_size(out_shape, "matmul");
    Tensor<T> y = naming_allocation_failures("matmul", [&] { return Tensor<T>::from_shape(out_shape); });
    const std::size_t batches = shape_size(batch);
    if (batches == 0) return y;

    // A stack of plain (untransposed) matrices times one matrix: one GEMM with the stack as rows.
    if (!ta && batch_b.empty()) {
        blas::gemm(false, tb, batches * m, n, k, T(1), a.data(), a1, b.data(), b1, T(0), y.data(), n);
        return y;
    }
    const std::size_t size_a = a0 * a1, size_b = b0 * b1, size_y = m * n;
    const auto sa = kernels::broadcast_strides(batch_a, batch);
    const auto sb = kernels::broadcast_strides(batch_b, batch);
    std::size_t yi = 0;
    auto one = [&](std::ptrdiff_t oa, std::ptrdiff_t ob) {
        blas::gemm(ta, tb, m, n, k, T(1), a.data() + std::size_t(oa) * size_a, a1, b.data() + std::size_t(ob) * size_b,
                   b1, T(0), y.data() + yi * size_y, n);
        ++yi;
    };
    if (batch.empty()) {
        one(0, 0);
    } else {
        kernels::for_each_row(batch, sa, sb, [&](std::ptrdiff_t oa, std::ptrdiff_t ob, std::size_t count,
                                                 std::ptrdiff_t da, std::ptrdiff_t db) {
            for (std::size_t j = 0; j < count; ++j) one(oa + std::ptrdiff_t(j) * da, ob + std::ptrdiff_t(j) * db);
        });
    }
    return y;
}

/// Rows of a (..., in) value viewed as a matrix.
inline std::size_t leading_rows(const Shape& shape) {
    std::size_t rows = 1;
    for (std::size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
    return rows;
}

/// y = a @ b (both at least 2-D).   da = g @ b^T, db = a^T @ g (summed over broadcast batches)
template <class T>
struct MatMul final : Op<MatMul<T>, T, 2> {
    const char* op_name() const noexcept override { return "matmul"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const G& x = a.x(0);
        const G& w = a.x(1);
        if constexpr (is_variable_v<G>) {
            if (a.want(0)) a.dx[0] = sum_to(matmul(a.g, transpose(w, -1, -2)), x.shape());
            if (a.want(1)) a.dx[1] = sum_to(matmul(transpose(x, -1, -2), a.g), w.shape());
        } else {
            if (a.want(0)) a.dx[0] = sum_to(batched_matmul(a.g, false, w, true), x.shape());
            if (a.want(1)) a.dx[1] = sum_to(batched_matmul(x, true, a.g, false), w.shape());
        }
    }
};

/// y = x W^T (+ b), x viewed as (rows, in).   dx = g W, dW = g^T x, db = sum of g's rows
template <class T, std::size_t N>
struct Linear final : Op<Linear<T, N>, T, N> {
    const char* op_name() const noexcept override { return "linear"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const G& x = a.x(0);
        const G& w = a.x(1);
        const std::size_t out = w.shape()[0], in = w.shape()[1];
        const std::size_t rows = leading_rows(x.shape());
        if constexpr (is_variable_v<G>) {
            const G g2 = reshape(a.g, Shape{rows, out});
            if (a.want(0)) a.dx[0] = reshape(matmul(g2, w), x.shape());
            if (a.want(1)) a.dx[1] = matmul(transpose(g2), reshape(x, Shape{rows, in}));
            if constexpr (N == 3)
                if (a.want(2)) a.dx[2] = sum(g2, 0);
        } else {
            if (a.want(0)) {
                Tensor<T> dx = Tensor<T>::from_shape(x.shape());
                blas::gemm(false, false, rows, in, out, T(1), a.g.data(), out, w.data(), in, T(0), dx.data(), in);
                a.dx[0] = std::move(dx);
            }
            if (a.want(1)) {
                Tensor<T> dw = Tensor<T>::from_shape(w.shape());
                blas::gemm(true, false, out, in, rows, T(1), a.g.data(), out, x.data(), in, T(0), dw.data(), in);
                a.dx[1] = std::move(dw);
            }
            if constexpr (N == 3)
                if (a.want(2)) a.dx[2] = kernels::sum_to(a.g, Shape{out});
        }
    }
};

template <class T>
void check_linear(const Variable<T>& x, const Variable<T>& w, const Variable<T>* b) {
    if (w.dim() != 2)
        throw Error(fmt::format("linear: weight must be 2-D (out, in), got shape {}", shape_string(w.shape())));
    if (x.dim() < 1 || x.shape().back() != w.shape()[1])
        throw Error(fmt::format("linear: input of shape {} does not match weight of shape {}: last dimension must "
                                "be {}",
                                shape_string(x.shape()), shape_string(w.shape()), w.shape()[1]));
    if (b && (b->dim() != 1 || b->shape()[0] != w.shape()[0]))
        throw Error(fmt::format("linear: bias of shape {} does not match weight of shape {}: expected ({},)",
                                shape_string(b->shape()), shape_string(w.shape()), w.shape()[0]));
}

template <class T>
Tensor<T> linear_forward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b) {
    const std::size_t out = w.shape()[0], in = w.shape()[1];
    Shape out_shape = x.shape();
    out_shape.back() = out;
    shape_size(out_shape, "linear");
    Tensor<T> y = naming_allocation_failures("linear", [&] { return Tensor<T>::from_shape(out_shape); });
    const std::size_t rows = leading_rows(x.shape());
    T* py = y.data();
    if (b) {  // rows start as the bias, and GEMM adds the product onto them (beta = 1)
        const T* pb = b->data();
        for (std::size_t r = 0; r < rows; ++r) std::copy(pb, pb + out, py + r * out);
    }
    blas::gemm(false, true, rows, out, in, T(1), x.data(), in, w.data(), in, b ? T(1) : T(0), py, out);
    return y;
}

}  // namespace

template <class T>
Variable<T> matmul(const Variable<T>& a, const Variable<T>& b) {
    if (a.dim() == 0 || b.dim() == 0)
        throw Error(fmt::format("matmul: both operands need at least one dimension, got shapes {} and {}",
                                shape_string(a.shape()), shape_string(b.shape())));
    const std::size_t ka = a.shape().back();
    const std::size_t kb = b.dim() == 1 ? b.shape()[0] : b.shape()[b.dim() - 2];
    if (ka != kb)
        throw Error(fmt::format("matmul: shapes {} and {} do not align ({} != {})", shape_string(a.shape()),
                                shape_string(b.shape()), ka, kb));
    if (a.dim() > 2 || b.dim() > 2) {  // the stacking dimensions must broadcast
        const Shape ba(a.shape().begin(), a.shape().end() - std::min<std::size_t>(a.dim(), 2));
        const Shape bb(b.shape().begin(), b.shape().end() - std::min<std::size_t>(b.dim(), 2));
        kernels::broadcast_shape("matmul", ba, bb);
    }
    // 1-D operands become a row (left) or a column (right), removed again from the result.
    const Variable<T> a2 = a.dim() == 1 ? unsqueeze(a, 0) : a;
    const Variable<T> b2 = b.dim() == 1 ? unsqueeze(b, -1) : b;
    Variable<T> y = record<MatMul<T>>(batched_matmul(a2.value(), false, b2.value(), false), {&a2, &b2});
    if (b.dim() == 1) y = squeeze(y, -1);
    if (a.dim() == 1) y = squeeze(y, -1 - int(b.dim() != 1));
    return y;
}

template <class T>
Variable<T> linear(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias) {
    check_linear(x, weight, &bias);
    return record<Linear<T, 3>>(linear_forward(x.value(), weight.value(), &bias.value()), {&x, &weight, &bias});
}

template <class T>
Variable<T> linear(const Variable<T>& x, const Variable<T>& weight) {
    check_linear<T>(x, weight, nullptr);
    return record<Linear<T, 2>>(linear_forward<T>(x.value(), weight.value(), nullptr), {&x, &weight});
}

template Variable<float> matmul(const Variable<float>&, const Variable<float>&);
template Variable<double> matmul(const Variable<double>&, const Variable<double>&);
template Variable<float> linear(const Variable<float>&, const Variable<float>&, const Variable<float>&);
template Variable<double> linear(const Variable<double>&, const Variable<double>&, const Variable<double>&);
template Variable<float> linear(const Variable<float>&, const Variable<float>&);
template Variable<double> linear(const Variable<double>&, const Variable<double>&);

}  // namespace tapegrad
