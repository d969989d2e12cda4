// MultiheadAttention<T>: PyTorch's nn.MultiheadAttention (in_proj_weight layout, causal and key-padding masks,
// dropout).
#pragma once

#include <cstddef>
#include <memory>

#include <xtensor/xarray.hpp>

#include <tapegrad/autograd/random.hpp>
#include <tapegrad/nn/dropout.hpp>
#include <tapegrad/nn/linear.hpp>
#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

/// What MultiheadAttention takes besides query, key and value. Boolean masks: true = left out
/// (PyTorch's convention for boolean masks, and masked_fill's).
struct AttentionOptions {
    /// (L, S): true where query position i may not look at key position j.
    AttentionOptions& attn_mask(xt::xarray<bool> m) {
        attn_mask_ = std::move(m);
        return *this;
    }
    /// A float mask added to the scores before the softmax (PyTorch's float attn_mask): (L, S),
    /// or (N*num_heads, L, S) for one per sequence and head. -inf entries leave the key out
    /// exactly (weight 0, no gradient); NaN and +inf are errors. Combines with the other masks.
    AttentionOptions& attn_mask(xt::xarray<double> m) {
        float_mask_ = std::move(m);
        return *this;
    }
    /// The same for a float32 mask.
    AttentionOptions& attn_mask(const xt::xarray<float>& m) { return attn_mask(xt::xarray<double>(m)); }
    /// Key position j > query position i left out (combined with attn_mask if both are given).
    AttentionOptions& is_causal(bool v) {
        causal_ = v;
        return *this;
    }
    /// (N, S): true at the keys of each sequence that are padding.
    AttentionOptions& key_padding_mask(xt::xarray<bool> m) {
        key_padding_mask_ = std::move(m);
        return *this;
    }
    /// Return the attention weights, averaged over the heads (N, L, S), as PyTorch's default.
    AttentionOptions& need_weights(bool v) {
        need_weights_ = v;
        return *this;
    }
    /// The values set by the setters of the same names (defaults: no masks, not causal, need_weights true).
    ///@{
    const xt::xarray<bool>& attn_mask() const { return attn_mask_; }
    const xt::xarray<double>& float_attn_mask() const { return float_mask_; }
    bool is_causal() const { return causal_; }
    const xt::xarray<bool>& key_padding_mask() const { return key_padding_mask_; }
    bool need_weights() const { return need_weights_; }
    ///@}

private:
    xt::xarray<bool> attn_mask_ = xt::xarray<bool>::from_shape({0});
    xt::xarray<bool> key_padding_mask_ = xt::xarray<bool>::from_shape({0});
    xt::xarray<double> float_mask_ = xt::xarray<double>::from_shape({0});
    bool causal_ = false, need_weights_ = true;
};

/// The attention output (L, N, E), or (N, L, E) with batch_first, and the weights (N, L, S)
/// averaged over heads (empty unless need_weights).
template <class T>
struct AttentionOutput {
    /// The attended output and the attention weights (see the struct).
    ///@{
    Variable<T> output, weights;
    ///@}
};

/// softmax(q k^T / sqrt(d) over the allowed keys) v per head, with q, k, v projected by
/// in_proj_weight (3E, E) (rows: q, then k, then v) and in_proj_bias (3E), heads joined and
/// projected by out_proj (a Linear: out_proj.weight, out_proj.bias): PyTorch's parameters
/// and initialisation, so its state_dict loads. Dropout on the weights in training mode only.
/// A query row with every key left out gets zero weights (PyTorch gives NaN there).
template <class T>
class MultiheadAttention : public Module<T> {
public:
    /// E = embed_dim split into num_heads heads (E divisible by it); `dropout` on the weights; `bias`: in_proj_bias and
    /// out_proj.bias; `batch_first`: (N, L, E) inputs. Throws Error for bad sizes.
    MultiheadAttention(std::size_t embed_dim, std::size_t num_heads, double dropout = 0.0, bool bias = true,
                       bool batch_first = false, Generator& gen = default_generator());

    /// Attention of query (L, N, E) over key and value (S, N, E) ((N, L, E) etc. with batch_first), with the masks of
    /// `options`; throws Error for shapes or masks that do not fit.
    AttentionOutput<T> operator()(const Variable<T>& query, const Variable<T>& key, const Variable<T>& value,
                                  const AttentionOptions& options = {}) const;
    /// Self-attention of x without masks: the output alone.
    Variable<T> forward(const Variable<T>& x) override {
        return (*this)(x, x, x, AttentionOptions().need_weights(false)).output;
    }

    /// The q, k, v projections stacked (3E, E).
    const Variable<T>& in_proj_weight() const { return this->parameter(0); }
    /// Their biases (3E), or an empty Variable without bias.
    Variable<T> in_proj_bias() const { return bias_ ? this->parameter(1) : Variable<T>(); }
    /// The output projection E -> E.
    const Linear<T>& out_proj() const { return *out_proj_; }
    /// E.
    std::size_t embed_dim() const { return embed_; }
    /// Heads; each attends over E / num_heads features.
    std::size_t num_heads() const { return heads_; }

    std::string name() const override { return "MultiheadAttention"; }
    std::string settings() const override;

protected:
    std::string label() const override;

private:
    std::size_t embed_, heads_;
    double dropout_p_;
    bool bias_, batch_first_;
    std::shared_ptr<Linear<T>> out_proj_;
    std::shared_ptr<Dropout<T>> dropout_;
};

extern template class MultiheadAttention<float>;
extern template class MultiheadAttention<double>;

}  // namespace tapegrad::nn
