// Self-attention heads as one op over the packed q|k|v projection: strided GEMMs and the masked softmax in
// a plain backward; under create_graph the VJP is the same formula in differentiable ops.
#pragma once

#include <cstddef>
#include <memory>

#include <tapegrad/autograd/kernels/attention.hpp>
#include <tapegrad/autograd/ops/index.hpp>
#include <tapegrad/autograd/ops/linalg.hpp>
#include <tapegrad/autograd/ops/sequence.hpp>
#include <tapegrad/autograd/ops/shape.hpp>

namespace tapegrad {

/// The op behind self_attention_heads(); its formula line states y and the VJP.
template <class T>
struct SelfAttentionHeads {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "self_attention_heads";
    static constexpr const char* formula =
        "x = [q k v], p = softmax(s q k^T) per head over the allowed keys, y = p v   "
        "dv = p^T g, dp = g v^T, ds = s p (dp - sum(dp p)), dq = ds k, dk = ds^T q";
    std::size_t heads;
    T scale;
    bool causal = false;
    std::shared_ptr<const Mask> masked;  // broadcasts to (N, heads, L, L); true = left out; or null
    std::shared_ptr<Tensor<T>> probs;    // p (N, heads, L, L), saved by forward for the plain VJP
    Tensor<T> forward(const Tensor<T>& x) {
        probs = std::make_shared<Tensor<T>>();
        return kernels::attention_forward(x, heads, scale, causal, masked.get(), *probs);
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if constexpr (!vjp::records<G>) {
            a.dx[0] = kernels::attention_backward(a.x(0), *probs, a.g, heads, scale);
        } else {  // the same products, recorded
            const G& x = a.x(0);
            const std::size_t N = x.shape()[0], L = x.shape()[1], E = x.shape()[2] / 3, d = E / heads;
            auto split = [&](const G& t) { return permute(reshape(t, Shape{N, L, heads, d}), {0, 2, 1, 3}); };
            auto join = [&](const G& t) { return reshape(permute(t, {0, 2, 1, 3}), Shape{N, L, E}); };
            const std::ptrdiff_t e = std::ptrdiff_t(E);
            const G q = split(slice(x, 2, 0, e)), k = split(slice(x, 2, e, 2 * e)),
                    v = split(slice(x, 2, 2 * e, 3 * e));
            const G p = scaled_masked_softmax(matmul(q, k, MatmulOptions().transpose_b(true)),
                                              masked ? *masked : Mask::from_shape({0}), causal, scale);
            const G g = split(a.g);
            const G dp = matmul(g, v, MatmulOptions().transpose_b(true));
            const G ds = p * (dp - sum(dp * p, -1, true)) * scale;
            const G dq = matmul(ds, k), dk = matmul(ds, q, MatmulOptions().transpose_a(true));
            const G dv = matmul(p, g, MatmulOptions().transpose_a(true));
            a.dx[0] = concat({join(dq), join(dk), join(dv)}, 2);
        }
    }
    std::string describe() const {
        return detail::message("heads=", heads, ", scale=", scale, causal ? ", causal" : "", masked ? ", masked" : "");
    }
    void release() {
        masked.reset();
        probs.reset();
    }
    ///@}
};

/// Multi-head self-attention on x (N, L, 3E) holding each position's q, k and v side by side (one
/// projection GEMM's output; E = heads * d, q of head h in columns h d .. h d + d - 1 of the first third):
/// y (N, L, E) with y[n, i, head h] = sum_j p[n, h, i, j] v[n, j, head h], p = softmax(scale q k^T) over
/// the keys left in by `masked` (broadcastable to (N, heads, L, L); size 0 for none) and, if `causal`,
/// keys j <= i. A query with every key left out gets zeros. No per-head copies of q, k, v or y are made.
template <class T>
Variable<T> self_attention_heads(const Variable<T>& x, std::size_t heads, T scale, bool causal, const Mask& masked) {
    if (x.dim() != 3 || heads == 0 || x.shape()[2] % (3 * heads) != 0)
        throw Error(detail::message("self_attention_heads: expected x (N, L, 3E) with E a multiple of heads = ", heads,
                                    ", got shape ", shape_string(x.shape())));
    std::shared_ptr<const Mask> m;
    if (masked.size() > 0) {
        const std::size_t N = x.shape()[0], L = x.shape()[1];
        detail::check_mask("self_attention_heads", masked, Shape{N, heads, L, L});
        m = std::make_shared<const Mask>(masked);
    }
    return apply(SelfAttentionHeads<T>{heads, scale, causal, std::move(m), nullptr}, x);
}

}  // namespace tapegrad
