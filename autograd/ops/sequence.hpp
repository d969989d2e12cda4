// Sequence ops: embedding lookup, one_hot, argmax/argmin/topk, chunk/split, tril/triu and masks,
// masked_fill, softmax and log_softmax under a mask, cumsum.
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <memory>
#include <vector>

#include <xtensor/xadapt.hpp>

#include <tapegrad/autograd/kernels/sequence.hpp>
#include <tapegrad/autograd/ops/index.hpp>
#include <tapegrad/autograd/ops/reduce.hpp>
#include <tapegrad/autograd/ops/where.hpp>

namespace tapegrad {

/// The op behind embedding(); its formula line states y and the VJP.
template <class T>
struct EmbeddingLookup {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "embedding";
    static constexpr const char* formula = "y[..., :] = W[index[...], :]   dW = g rows added at the indices";
    std::shared_ptr<const Indices> indices;  // flattened
    Shape out;                               // the indices' shape + (embedding_dim,)
    std::shared_ptr<const Mask> padding;     // (indices, embedding_dim): true at the rows of padding_idx; or null
    Tensor<T> forward(const Tensor<T>& w) const {
        Tensor<T> y = kernels::take_rows(w, 0, *indices, Shape{indices->size(), w.shape()[1]});
        y.reshape(out);
        return y;
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const Shape& ws = a.x(0).shape();
        G g = vjp::reshape(std::move(a.g), Shape{indices->size(), ws[1]});
        if (padding) g = vjp::where<G>(*padding, T(0), g);  // the padding row learns nothing
        a.dx[0] = vjp::apply(IndexAdd<T>{0, indices, ws}, g);
    }
    void release() {
        indices.reset();
        padding.reset();
    }
    ///@}
};

/// The op behind cumsum(); its formula line states y and the VJP.
template <class T>
struct CumSum {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "cumsum";
    static constexpr const char* formula = "y[k] = x[0] + ... + x[k] along axis   dx[k] = g[k] + ... + g[n-1]";
    std::size_t axis;
    bool reverse = false;  // y[k] = x[k] + ... + x[n-1]: the adjoint
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::cumsum(x, axis, reverse); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(CumSum<T>{axis, !reverse}, a.g);
    }
    std::string describe() const { return detail::message("axis=", axis, reverse ? ", reverse" : ""); }
    ///@}
};

/// The op behind masked_softmax() and scaled_masked_softmax(); its formula line states y and the VJP.
template <class T>
struct MaskedSoftmax {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "masked_softmax";
    static constexpr const char* formula =
        "y = softmax(s x) along axis over unmasked positions, 0 where masked   dx = s y (g - sum(g y))";
    std::size_t axis;
    std::shared_ptr<const Mask> masked;  // broadcasts to x's shape; true = left out; null for none
    bool causal = false;                 // also left out: column > row of the last two axes (axis is the last)
    T scale = T(1);
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::masked_softmax(x, masked.get(), axis, false, causal, scale);
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {  // y is 0 where masked, so dx is too
        if constexpr (!vjp::records<G>) {
            G g = std::move(a.g);
            kernels::softmax_backward_inplace(a.y, g, axis, scale);
            a.dx[0] = std::move(g);
        } else {
            const G gy = vjp::pointwise([](const auto& g, const auto& y) { return g * y; }, a.g, a.y);
            const G s = vjp::apply(Sum<T>{Reduction::make(a.y.shape(), {axis}, true)}, gy);
            a.dx[0] = vjp::pointwise(
                [c = scale](const auto& y, const auto& g, const auto& t) { return y * (g - t) * c; }, a.y, a.g, s);
        }
    }
    std::string describe() const {
        return detail::message("axis=", axis, causal ? ", causal" : "", scale != T(1) ? ", scale=" : "",
                               scale != T(1) ? detail::message(scale) : std::string());
    }
    void release() { masked.reset(); }
    ///@}
};

/// The op behind masked_log_softmax(); its formula line states y and the VJP.
template <class T>
struct MaskedLogSoftmax {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "masked_log_softmax";
    static constexpr const char* formula =
        "y = log_softmax(x) along axis over unmasked positions, -inf where masked   dx = g' - exp(y) sum(g'), "
        "g' = g with masked positions 0";
    std::size_t axis;
    std::shared_ptr<const Mask> masked;
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::masked_softmax(x, masked.get(), axis, true); }
    template <class G>
    void backward(VjpArgs<G>& a) const {  // exp(y) = 0 where masked: dx is 0 there
        const G gm = vjp::where<G>(*masked, T(0), a.g);
        const G s = vjp::apply(Sum<T>{Reduction::make(a.y.shape(), {axis}, true)}, gm);
        a.dx[0] = vjp::pointwise(
            [](const auto& g, const auto& y, const auto& t) {
                using std::exp;
                return g - exp(y) * t;
            },
            gm, a.y, s);
    }
    std::string describe() const { return detail::message("axis=", axis); }
    void release() { masked.reset(); }
    ///@}
};

namespace detail {
/// `mask` broadcast to `shape` (a copy of x's shape), or an error naming `op`.
inline Mask mask_to(const char* op, const Mask& mask, const Shape& shape) {
    const Shape ms(mask.shape().begin(), mask.shape().end());
    if (!kernels::broadcasts_to(ms, shape))
        throw Error(message(op, ": mask of shape ", shape_string(ms), " does not broadcast to the input's shape ",
                            shape_string(shape)));
    return xt::broadcast(mask, shape);
}
/// Throws unless `mask` broadcasts to `shape`, naming `op`.
inline void check_mask(const char* op, const Mask& mask, const Shape& shape) {
    const Shape ms(mask.shape().begin(), mask.shape().end());
    if (!kernels::broadcasts_to(ms, shape))
        throw Error(message(op, ": mask of shape ", shape_string(ms), " does not broadcast to the input's shape ",
                            shape_string(shape)));
}
inline std::size_t nonempty_axis(const char* op, const Shape& shape, int axis) {
    const std::size_t a = kernels::normalize_axis(op, axis, shape.size());
    if (shape[a] == 0)
        throw Error(
            message(op, ": axis ", axis, " of shape ", shape_string(shape), " is empty (expected >= 1 element)"));
    return a;
}
}  // namespace detail

/// Rows of `weight` (num_embeddings, embedding_dim) picked by `indices`: the result has the
/// indices' shape followed by embedding_dim. The gradient adds g's rows into the picked rows,
/// except into row `padding_idx` (if >= 0), which gets none (PyTorch's padding_idx).
template <class T>
Variable<T> embedding(const Variable<T>& weight, const Tensor<std::size_t>& indices, std::ptrdiff_t padding_idx = -1) {
    if (weight.dim() != 2)
        throw Error(detail::message("embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape ",
                                    shape_string(weight.shape())));
    const std::size_t n = weight.shape()[0];
    for (std::size_t i : indices)
        if (i >= n)
            throw Error(
                detail::message("embedding: index ", i, " out of range for ", n, " embeddings (expected < ", n, ")"));
    Shape out(indices.shape().begin(), indices.shape().end());
    out.push_back(weight.shape()[1]);
    shape_size(out, "embedding");
    auto flat = std::make_shared<const Indices>(indices.begin(), indices.end());
    std::shared_ptr<const Mask> padding;
    if (padding_idx >= 0) {
        if (std::size_t(padding_idx) >= n)
            throw Error(detail::message("embedding: padding_idx ", padding_idx, " out of range for ", n,
                                        " embeddings (expected < ", n, ")"));
        const std::size_t pad = std::size_t(padding_idx), dim = weight.shape()[1];
        if (std::find(flat->begin(), flat->end(), pad) != flat->end()) {
            Mask m = Mask::from_shape({flat->size(), dim});
            for (std::size_t r = 0; r < flat->size(); ++r) std::fill_n(m.data() + r * dim, dim, (*flat)[r] == pad);
            padding = std::make_shared<const Mask>(std::move(m));
        }
    }
    return apply(EmbeddingLookup<T>{std::move(flat), std::move(out), std::move(padding)}, weight);
}
template <class T>
Variable<T> embedding(const Variable<T>& weight, const Indices& indices, std::ptrdiff_t padding_idx = -1) {
    return embedding(weight, Tensor<std::size_t>(xt::adapt(indices, Shape{indices.size()})), padding_idx);
}

/// indices (any shape) as one-hot rows: the result has the indices' shape followed by
/// num_classes, 1 at each index, 0 elsewhere. A constant (no gradient).
template <class T = float>
Variable<T> one_hot(const Tensor<std::size_t>& indices, std::size_t num_classes) {
    if (num_classes == 0) throw Error("one_hot: num_classes must be at least 1, got 0");
    Shape out(indices.shape().begin(), indices.shape().end());
    out.push_back(num_classes);
    Tensor<T> y(out, T(0));
    std::size_t row = 0;
    for (std::size_t i : indices) {
        if (i >= num_classes)
            throw Error(detail::message("one_hot: index ", i, " out of range for ", num_classes,
                                        " classes (expected < ", num_classes, ")"));
        y.data()[row++ * num_classes + i] = T(1);
    }
    return Variable<T>(std::move(y));
}
template <class T = float>
Variable<T> one_hot(const Indices& indices, std::size_t num_classes) {
    return one_hot<T>(Tensor<std::size_t>(xt::adapt(indices, Shape{indices.size()})), num_classes);
}

/// Position of the largest element along `axis` (first among ties; NaN counts as largest, as
/// in PyTorch). Integer positions, no gradient.
template <class T>
Tensor<std::size_t> argmax(const Variable<T>& x, int axis, bool keepdims = false) {
    return kernels::arg_extreme(x.value(), detail::nonempty_axis("argmax", x.shape(), axis), keepdims, true);
}
/// Position of the largest element of x flattened.
template <class T>
Tensor<std::size_t> argmax(const Variable<T>& x) {
    return argmax(reshape(Variable<T>(x.value()), Shape{x.size()}), 0);
}
/// Position of the smallest element along `axis` (first among ties; NaN counts as smallest).
template <class T>
Tensor<std::size_t> argmin(const Variable<T>& x, int axis, bool keepdims = false) {
    return kernels::arg_extreme(x.value(), detail::nonempty_axis("argmin", x.shape(), axis), keepdims, false);
}
template <class T>
Tensor<std::size_t> argmin(const Variable<T>& x) {
    return argmin(reshape(Variable<T>(x.value()), Shape{x.size()}), 0);
}

/// The k largest (or smallest) elements along an axis, most extreme first, and their positions.
template <class T>
struct TopK {
    /// `values` (differentiable: a gather of x) and `indices` (their positions along the axis).
    ///@{
    Variable<T> values;           // differentiable: a gather of x
    Tensor<std::size_t> indices;  // positions along the axis
    ///@}
};
/// The k largest elements along `axis` (smallest if not `largest`), most extreme first (NaN
/// counts as largest; ties keep their order). The values carry x's gradient.
template <class T>
TopK<T> topk(const Variable<T>& x, std::size_t k, int axis = -1, bool largest = true) {
    const std::size_t a = kernels::normalize_axis("topk", axis, x.dim());
    if (k > x.shape()[a])
        throw Error(detail::message("topk: k = ", k, " but axis ", axis, " of shape ", shape_string(x.shape()), " has ",
                                    x.shape()[a], " elements (expected k <= ", x.shape()[a], ")"));
    Tensor<std::size_t> idx = kernels::topk_indices(x.value(), k, a, largest);
    Variable<T> values = gather(x, int(a), idx);
    return {std::move(values), std::move(idx)};
}

/// x cut along `axis` into pieces of `split_size` (the last may be shorter), as PyTorch's split.
template <class T>
std::vector<Variable<T>> split(const Variable<T>& x, std::size_t split_size, int axis = 0) {
    const std::size_t a = kernels::normalize_axis("split", axis, x.dim());
    if (split_size == 0) throw Error("split: split_size must be at least 1, got 0");
    std::vector<Variable<T>> parts;
    const std::size_t n = x.shape()[a];
    for (std::size_t b = 0; b < n; b += split_size)
        parts.push_back(slice(x, int(a), std::ptrdiff_t(b), std::ptrdiff_t(std::min(n, b + split_size))));
    return parts;
}
/// x cut along `axis` into pieces of the given sizes, which must add up to the axis' length.
template <class T>
std::vector<Variable<T>> split(const Variable<T>& x, const std::vector<std::size_t>& sizes, int axis = 0) {
    const std::size_t a = kernels::normalize_axis("split", axis, x.dim());
    std::size_t total = 0;
    for (std::size_t s : sizes) total += s;
    if (total != x.shape()[a])
        throw Error(detail::message("split: sizes add up to ", total, " but axis ", axis, " of shape ",
                                    shape_string(x.shape()), " has ", x.shape()[a], " elements"));
    std::vector<Variable<T>> parts;
    std::size_t b = 0;
    for (std::size_t s : sizes) {
        parts.push_back(slice(x, int(a), std::ptrdiff_t(b), std::ptrdiff_t(b + s)));
        b += s;
    }
    return parts;
}
/// x cut along `axis` into `chunks` pieces of ceil(n / chunks) (the last may be shorter, and
/// there may be fewer pieces), as PyTorch's chunk.
template <class T>
std::vector<Variable<T>> chunk(const Variable<T>& x, std::size_t chunks, int axis = 0) {
    const std::size_t a = kernels::normalize_axis("chunk", axis, x.dim());
    if (chunks == 0) throw Error("chunk: chunks must be at least 1, got 0");
    const std::size_t n = x.shape()[a];
    return split(x, std::max<std::size_t>(1, (n + chunks - 1) / chunks), int(a));
}

/// (rows, cols), true where column - row <= diagonal: the lower triangle.
inline Mask tril_mask(std::size_t rows, std::size_t cols, std::ptrdiff_t diagonal = 0) {
    Mask m = Mask::from_shape({rows, cols});
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) m(i, j) = std::ptrdiff_t(j) - std::ptrdiff_t(i) <= diagonal;
    return m;
}
/// (rows, cols), true where column - row >= diagonal: the upper triangle.
inline Mask triu_mask(std::size_t rows, std::size_t cols, std::ptrdiff_t diagonal = 0) {
    Mask m = Mask::from_shape({rows, cols});
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) m(i, j) = std::ptrdiff_t(j) - std::ptrdiff_t(i) >= diagonal;
    return m;
}
/// (n, n), true at the future positions (column > row): what a causal attention leaves out,
/// in the convention of masked_fill, masked_softmax and PyTorch's boolean attn_mask.
inline Mask causal_mask(std::size_t n) { return triu_mask(n, n, 1); }

/// x with every element where `mask` is true replaced by `value`; mask broadcasts to x's shape.
/// The gradient passes where the mask is false.
template <class T>
Variable<T> masked_fill(const Variable<T>& x, const Mask& mask, T value) {
    return tapegrad::where(detail::mask_to("masked_fill", mask, x.shape()), value, x);
}

namespace detail {
template <class T>
Variable<T> keep_triangle(const char* op, const Variable<T>& x, std::ptrdiff_t diagonal, bool lower) {
    if (x.dim() < 2) throw Error(message(op, ": expected at least 2 dimensions, got shape ", shape_string(x.shape())));
    const std::size_t r = x.shape()[x.dim() - 2], c = x.shape()[x.dim() - 1];
    const Mask keep = lower ? tril_mask(r, c, diagonal) : triu_mask(r, c, diagonal);
    return tapegrad::where(Mask(!keep), T(0), x);
}
}  // namespace detail

/// x (..., rows, cols) with the elements above diagonal `diagonal` set to 0 (PyTorch's tril).
template <class T>
Variable<T> tril(const Variable<T>& x, std::ptrdiff_t diagonal = 0) {
    return detail::keep_triangle("tril", x, diagonal, true);
}
/// x (..., rows, cols) with the elements below diagonal `diagonal` set to 0 (PyTorch's triu).
template <class T>
Variable<T> triu(const Variable<T>& x, std::ptrdiff_t diagonal = 0) {
    return detail::keep_triangle("triu", x, diagonal, false);
}

/// softmax along `axis` over the positions where `masked` (broadcast to x's shape) is false;
/// masked positions give 0 and get no gradient. A row with every position masked gives zeros
/// with zero gradient (PyTorch's masked_fill(-inf) + softmax gives NaN there: zeros are what
/// padding wants, and they keep the loss finite).
template <class T>
Variable<T> masked_softmax(const Variable<T>& x, const Mask& masked, int axis = -1) {
    const std::size_t a = kernels::normalize_axis("masked_softmax", axis, x.dim());
    detail::check_mask("masked_softmax", masked, x.shape());
    return apply(MaskedSoftmax<T>{a, std::make_shared<const Mask>(masked)}, x);
}
/// softmax(scale * x) along the last axis, as attention takes it: positions where `masked` (broadcast to x's
/// shape; size 0, e.g. Mask::from_shape({0}), for none) is true are left out and, if `causal`, so are those whose
/// column is greater than their row in the last two axes (the future). Left-out positions give 0 and get no gradient, a
/// row with every position left out gives zeros; no mask the size of x is made.
template <class T>
Variable<T> scaled_masked_softmax(const Variable<T>& x, const Mask& masked, bool causal, T scale) {
    if (x.dim() < 1 || (causal && x.dim() < 2))
        throw Error(detail::message("scaled_masked_softmax: expected at least ", causal ? 2 : 1,
                                    " dimensions, got shape ", shape_string(x.shape())));
    std::shared_ptr<const Mask> m;
    if (masked.size() > 0) {
        detail::check_mask("scaled_masked_softmax", masked, x.shape());
        m = std::make_shared<const Mask>(masked);
    }
    return apply(MaskedSoftmax<T>{x.dim() - 1, std::move(m), causal, scale}, x);
}
/// log_softmax along `axis` over the positions where `masked` is false; masked positions give
/// -inf (the log of their probability, 0) and get no gradient; so does every position of a
/// fully masked row.
template <class T>
Variable<T> masked_log_softmax(const Variable<T>& x, const Mask& masked, int axis = -1) {
    const std::size_t a = kernels::normalize_axis("masked_log_softmax", axis, x.dim());
    return apply(
        MaskedLogSoftmax<T>{a, std::make_shared<const Mask>(detail::mask_to("masked_log_softmax", masked, x.shape()))},
        x);
}

/// Running sum along `axis`: y[k] = x[0] + ... + x[k]. Its gradient is the reverse running sum.
template <class T>
Variable<T> cumsum(const Variable<T>& x, int axis) {
    return apply(CumSum<T>{kernels::normalize_axis("cumsum", axis, x.dim()), false}, x);
}

/// The sequence ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::sequence> {
    using type = OpList<EmbeddingLookup, CumSum, MaskedSoftmax, MaskedLogSoftmax>;
};

}  // namespace tapegrad
