// layer_norm as one op: its forward and its VJP each one pass per row; under create_graph the VJP is
// the same formula in differentiable ops, so gradients of any order still work.
#pragma once

#include <cstddef>
#include <memory>

#include <tapegrad/autograd/kernels/layer_norm.hpp>
#include <tapegrad/autograd/ops/arithmetic.hpp>
#include <tapegrad/autograd/ops/broadcast.hpp>
#include <tapegrad/autograd/ops/math.hpp>
#include <tapegrad/autograd/ops/reduce.hpp>

namespace tapegrad {

/// The op behind layer_norm(); its formula line states y and the VJP. Its inputs: x, then the
/// weight if it has one, then the bias if it has one.
template <class T>
struct LayerNormOp {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "layer_norm";
    static constexpr const char* formula =
        "y = xhat w + b, xhat = (x - mean) / sqrt(var + eps) over the last axes   "
        "dx = rstd (g w - mean(g w) - xhat mean(g w xhat)), dw = sum(g xhat), db = sum(g)";
    std::size_t dims;  // the trailing dimensions normalised together
    T eps;
    bool has_weight = false, has_bias = false;
    std::shared_ptr<Tensor<T>> stats;  // per row: mean and 1 / sqrt(var + eps), for the plain VJP
    Tensor<T> forward(const Tensor<T>& x) { return run(x, nullptr, nullptr); }
    Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& p) {
        return has_weight ? run(x, &p, nullptr) : run(x, nullptr, &p);
    }
    Tensor<T> forward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b) { return run(x, &w, &b); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const std::size_t bias_input = has_weight ? 2 : 1;
        if constexpr (!vjp::records<G>) {
            const Tensor<T>& x = a.x(0);
            const std::size_t d = row_size(x), rows = d ? x.size() / d : 0;
            const bool want_w = has_weight && a.want(1), want_b = has_bias && a.want(bias_input);
            Tensor<T> dw, db;  // (a default xarray is 0-d with one element: the flags say which are used)
            if (want_w) dw = Tensor<T>(a.x(1).shape(), T(0));
            if (want_b) db = Tensor<T>(a.x(bias_input).shape(), T(0));
            G g = std::move(a.g);
            kernels::layer_norm_backward(x.data(), has_weight ? a.x(1).data() : nullptr, stats->data(), g.data(),
                                         a.want(0) ? g.data() : nullptr, want_w ? dw.data() : nullptr,
                                         want_b ? db.data() : nullptr, rows, d);
            if (a.want(0)) a.dx[0] = std::move(g);
            if (want_w) a.dx[1] = std::move(dw);
            if (want_b) a.dx[bias_input] = std::move(db);
        } else {  // the same formula, recorded
            const G& x = a.x(0);
            Axes axes;
            for (std::size_t i = x.dim() - dims; i < x.dim(); ++i) axes.push_back(int(i));
            const G xc = x - mean(x, axes, true);
            const G rstd = T(1) / sqrt(mean(xc * xc, axes, true) + eps);
            const G xhat = xc * rstd;
            const G gw = has_weight ? a.g * a.x(1) : a.g;
            if (a.want(0)) a.dx[0] = rstd * (gw - mean(gw, axes, true) - xhat * mean(gw * xhat, axes, true));
            if (has_weight && a.want(1)) a.dx[1] = sum_to(a.g * xhat, a.x(1).shape());
            if (has_bias && a.want(bias_input)) a.dx[bias_input] = sum_to(a.g, a.x(bias_input).shape());
        }
    }
    std::string describe() const { return detail::message("dims=", dims, ", eps=", eps); }
    void release() { stats.reset(); }
    // The row length d (the product of the normalised dimensions) and the forward, which saves the statistics.
    std::size_t row_size(const Tensor<T>& x) const {
        std::size_t d = 1;
        for (std::size_t i = x.dimension() - dims; i < x.dimension(); ++i) d *= x.shape()[i];
        return d;
    }
    Tensor<T> run(const Tensor<T>& x, const Tensor<T>* w, const Tensor<T>* b) {
        const std::size_t d = row_size(x), rows = d ? x.size() / d : 0;
        Tensor<T> y = Tensor<T>::from_shape(x.shape());
        stats = std::make_shared<Tensor<T>>(Tensor<T>::from_shape({2 * rows}));
        kernels::layer_norm_forward(x.data(), w ? w->data() : nullptr, b ? b->data() : nullptr, y.data(), stats->data(),
                                    rows, d, eps);
        return y;
    }
    ///@}
};

/// PyTorch's F.layer_norm: (x - mean) / sqrt(var + eps) * weight + bias, the mean and the biased
/// variance taken over the trailing dimensions of x given by `normalized_shape`; weight and bias (each
/// of normalized_shape) are optional (empty Variables for none). One op, forward and gradient one pass
/// per row; its gradients of any order are those of the formula. Throws Error for shapes that do not fit.
template <class T>
Variable<T> layer_norm(const Variable<T>& x, const Shape& normalized_shape, const Variable<T>& weight = {},
                       const Variable<T>& bias = {}, T eps = T(1e-5)) {
    const std::size_t nd = normalized_shape.size();
    bool ok = nd > 0 && x.dim() >= nd;
    for (std::size_t i = 0; ok && i < nd; ++i) ok = x.shape()[x.dim() - nd + i] == normalized_shape[i];
    if (!ok)
        throw Error(detail::message("layer_norm: normalized_shape ", shape_string(normalized_shape),
                                    " must be non-empty and match the last dimensions of the input ",
                                    shape_string(x.shape())));
    for (const Variable<T>* p : {&weight, &bias})
        if (p->defined() && !shape_equal(p->shape(), normalized_shape))
            throw Error(detail::message("layer_norm: ", p == &weight ? "weight" : "bias", " has shape ",
                                        shape_string(p->shape()), ", expected normalized_shape ",
                                        shape_string(normalized_shape)));
    if (!(eps >= 0)) throw Error(detail::message("layer_norm: eps must be >= 0, got ", eps));
    LayerNormOp<T> op{nd, eps, weight.defined(), bias.defined(), nullptr};
    if (weight.defined() && bias.defined()) return apply(std::move(op), x, weight, bias);
    if (weight.defined()) return apply(std::move(op), x, weight);
    if (bias.defined()) return apply(std::move(op), x, bias);
    return apply(std::move(op), x);
}

}  // namespace tapegrad
