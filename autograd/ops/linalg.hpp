// Matrix products: matmul (NumPy semantics, batched, transposes by flag) and linear (x W^T + b) with its adjoints.
#pragma once

#include <algorithm>

#include <tapegrad/autograd/kernels/matmul.hpp>
#include <tapegrad/autograd/ops/broadcast.hpp>
#include <tapegrad/autograd/ops/shape.hpp>

namespace tapegrad {

/// Settings of matmul(): use the transpose of an operand's last two axes, without copying it.
struct MatmulOptions {
    /// Use a's transpose (its last two axes swapped).
    MatmulOptions& transpose_a(bool v) {
        transpose_a_ = v;
        return *this;
    }
    /// Use b's transpose (its last two axes swapped).
    MatmulOptions& transpose_b(bool v) {
        transpose_b_ = v;
        return *this;
    }
    /// The values set by the setters of the same names (default false).
    ///@{
    bool transpose_a() const { return transpose_a_; }
    bool transpose_b() const { return transpose_b_; }
    ///@}

private:
    bool transpose_a_ = false, transpose_b_ = false;
};

/// The op behind matmul(); its formula line states y and the VJP.
template <class T>
struct MatMul {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "matmul";
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula =
        "y = op(a) @ op(b)   da = g @ op(b)^T, db = op(a)^T @ g (op: transpose or not)";
    bool ta = false, tb = false;
    Tensor<T> forward(const Tensor<T>& a, const Tensor<T>& b) const { return kernels::batched_matmul(a, ta, b, tb); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const G& x = a.x(0);
        const G& w = a.x(1);
        // With op(a) = a^T the gradient of a is the transpose of g op(b)^T, i.e. op(b) g^T; likewise for b.
        if (a.want(0))
            a.dx[0] = vjp::sum_to(
                ta ? vjp::apply(MatMul<T>{tb, true}, w, a.g) : vjp::apply(MatMul<T>{false, !tb}, a.g, w), x.shape());
        if (a.want(1))
            a.dx[1] = vjp::sum_to(
                tb ? vjp::apply(MatMul<T>{true, ta}, a.g, x) : vjp::apply(MatMul<T>{!ta, false}, x, a.g), w.shape());
    }
    std::string describe() const {
        return detail::message("transpose_a=", ta ? "true" : "false", ", transpose_b=", tb ? "true" : "false");
    }
    ///@}
};

template <class T>
struct LinearInputGrad;
template <class T>
struct LinearWeightGrad;

/// The op behind linear(); its formula line states y and the VJP.
template <class T>
struct Linear {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "linear";
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula = "y = x W^T (+ b)   dx = g W, dW = g^T x, db = sum of g's rows";
    bool has_bias = false;
    Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& w) {
        return kernels::linear(x, w, (const Tensor<T>*)nullptr);
    }
    Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b) {
        has_bias = true;
        return kernels::linear(x, w, &b);
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(0)) a.dx[0] = vjp::apply(LinearInputGrad<T>{}, a.g, a.x(1));
        if (a.want(1)) a.dx[1] = vjp::apply(LinearWeightGrad<T>{}, a.g, a.x(0));
        if (has_bias && a.want(2)) a.dx[2] = vjp::sum_to(a.g, a.x(2).shape());
    }
    ///@}
};

/// g W: the input gradient of linear(), itself an op so that create_graph can differentiate it.
template <class T>
struct LinearInputGrad {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "linear_input_grad";
    static constexpr const char* formula = "y = g W   dg = h W^T (a linear), dW = g^T h";
    Tensor<T> forward(const Tensor<T>& g, const Tensor<T>& w) const { return kernels::linear_input_grad(g, w); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(0)) a.dx[0] = vjp::apply(Linear<T>{}, a.g, a.x(1));
        if (a.want(1)) a.dx[1] = vjp::apply(LinearWeightGrad<T>{}, a.x(0), a.g);
    }
    ///@}
};

/// g^T x: the weight gradient of linear(), itself an op so that create_graph can differentiate it.
template <class T>
struct LinearWeightGrad {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "linear_weight_grad";
    static constexpr const char* formula = "y = g^T x   dg = x h^T (a linear), dx = g h";
    Tensor<T> forward(const Tensor<T>& g, const Tensor<T>& x) const { return kernels::linear_weight_grad(g, x); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if (a.want(0)) a.dx[0] = vjp::apply(Linear<T>{}, a.x(1), a.g);
        if (a.want(1)) a.dx[1] = vjp::apply(LinearInputGrad<T>{}, a.x(0), a.g);
    }
    ///@}
};

namespace detail {
inline void check_matmul(const Shape& a, const Shape& b, const MatmulOptions& options) {
    if (a.empty() || b.empty())
        throw Error(message("matmul: both operands need at least one dimension, got shapes ", shape_string(a), " and ",
                            shape_string(b)));
    if ((options.transpose_a() && a.size() < 2) || (options.transpose_b() && b.size() < 2))
        throw Error(message("matmul: only an operand with at least two dimensions can be transposed, got shapes ",
                            shape_string(a), " and ", shape_string(b)));
    const std::size_t ka = options.transpose_a() ? a[a.size() - 2] : a.back();
    const std::size_t kb = b.size() == 1 ? b[0] : (options.transpose_b() ? b.back() : b[b.size() - 2]);
    if (ka != kb)
        throw Error(message("matmul: shapes ", shape_string(a), " and ", shape_string(b), " do not align (", ka,
                            " != ", kb, ")"));
    if (a.size() > 2 || b.size() > 2) {  // the stacking dimensions must broadcast
        const Shape ba(a.begin(), a.end() - std::min<std::size_t>(a.size(), 2));
        const Shape bb(b.begin(), b.end() - std::min<std::size_t>(b.size(), 2));
        kernels::broadcast_shape("matmul", ba, bb);
    }
}
inline void check_linear(const Shape& x, const Shape& w, const Shape* b) {
    if (w.size() != 2) throw Error(message("linear: weight must be 2-D (out, in), got shape ", shape_string(w)));
    if (x.empty() || x.back() != w[1])
        throw Error(message("linear: input of shape ", shape_string(x), " does not match weight of shape ",
                            shape_string(w), ": last dimension must be ", w[1]));
    if (b && (b->size() != 1 || (*b)[0] != w[0]))
        throw Error(message("linear: bias of shape ", shape_string(*b), " does not match weight of shape ",
                            shape_string(w), ": expected (", w[0], ",)"));
}
}  // namespace detail

/// Matrix product with NumPy's rules: 1-D x 1-D is the dot product, 2-D x 1-D the
/// matrix-vector product, and N-D operands are stacks of matrices whose leading dimensions
/// broadcast. With options, either operand's last two axes are transposed first (no copy).
template <class T>
Variable<T> matmul(const Variable<T>& a, const Variable<T>& b, const MatmulOptions& options = {}) {
    detail::check_matmul(a.shape(), b.shape(), options);
    // 1-D operands become a row (left) or a column (right), removed again from the result.
    const Variable<T> a2 = a.dim() == 1 ? unsqueeze(a, 0) : a;
    const Variable<T> b2 = b.dim() == 1 ? unsqueeze(b, -1) : b;
    Variable<T> y = apply(MatMul<T>{options.transpose_a(), options.transpose_b()}, a2, b2);
    if (b.dim() == 1) y = squeeze(y, -1);
    if (a.dim() == 1) y = squeeze(y, -1 - int(b.dim() != 1));
    return y;
}

/// x W^T + b for x of shape (..., in), W (out, in), b (out): a dense layer as one op.
template <class T>
Variable<T> linear(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias) {
    detail::check_linear(x.shape(), weight.shape(), &bias.shape());
    return apply(Linear<T>{}, x, weight, bias);
}
/// x W^T (no bias).
template <class T>
Variable<T> linear(const Variable<T>& x, const Variable<T>& weight) {
    detail::check_linear(x.shape(), weight.shape(), nullptr);
    return apply(Linear<T>{}, x, weight);
}

/// The linalg ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::linalg> {
    using type = OpList<MatMul, Linear, LinearInputGrad, LinearWeightGrad>;
};

}  // namespace tapegrad
