// Transformers with PyTorch's parameter names: learned positional embeddings, the pre-LN block
// (TransformerEncoderLayer with norm_first=True), a stack of blocks (TransformerEncoder) and a small GPT.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include <tapegrad/autograd/random.hpp>
#include <tapegrad/nn/attention.hpp>
#include <tapegrad/nn/dropout.hpp>
#include <tapegrad/nn/embedding.hpp>
#include <tapegrad/nn/linear.hpp>
#include <tapegrad/nn/module.hpp>
#include <tapegrad/nn/normalization.hpp>

namespace tapegrad::nn {

/// The feed-forward activation of a transformer block (PyTorch's "relu" and "gelu", exact erf).
enum class TransformerActivation { relu, gelu };

/// Settings of TransformerBlock and TransformerStack beyond d_model and nhead: PyTorch's
/// TransformerEncoderLayer keyword arguments and defaults, plus `causal`.
struct TransformerOptions {
    /// Width of the feed-forward layer (linear1's outputs); PyTorch's default 2048.
    TransformerOptions& dim_feedforward(std::size_t v) {
        dim_feedforward_ = v;
        return *this;
    }
    /// Dropout on the attention weights, inside the feed-forward and on both residual branches (training only).
    TransformerOptions& dropout(double v) {
        dropout_ = v;
        return *this;
    }
    /// The feed-forward activation (default relu, as PyTorch).
    TransformerOptions& activation(TransformerActivation v) {
        activation_ = v;
        return *this;
    }
    /// The epsilon of both LayerNorms (default 1e-5).
    TransformerOptions& layer_norm_eps(double v) {
        eps_ = v;
        return *this;
    }
    /// Input and output (N, L, d_model) instead of (L, N, d_model).
    TransformerOptions& batch_first(bool v) {
        batch_first_ = v;
        return *this;
    }
    /// Every forward masks the future (position i attends to j <= i): a decoder-only block.
    /// PyTorch passes this mask in each call instead; the parameters are the same.
    TransformerOptions& causal(bool v) {
        causal_ = v;
        return *this;
    }
    /// The values set above (defaults: 2048, 0.1, relu, 1e-5, false, false).
    ///@{
    std::size_t dim_feedforward() const { return dim_feedforward_; }
    double dropout() const { return dropout_; }
    TransformerActivation activation() const { return activation_; }
    double layer_norm_eps() const { return eps_; }
    bool batch_first() const { return batch_first_; }
    bool causal() const { return causal_; }
    ///@}

private:
    std::size_t dim_feedforward_ = 2048;
    double dropout_ = 0.1, eps_ = 1e-5;
    TransformerActivation activation_ = TransformerActivation::relu;
    bool batch_first_ = false, causal_ = false;
};

/// Learned positions: x + weight[:L] for x (N, L, dim) (or (L, N, dim) unless batch_first),
/// weight (max_len, dim) initialised N(0, 1) as an nn.Embedding of positions (its state_dict
/// name is "weight", so torch's nn.Embedding(max_len, dim) loads it).
template <class T>
class PositionalEmbedding : public Module<T> {
public:
    /// Positions 0 .. max_len-1 of dim each, drawn N(0, 1) from `gen`; throws Error for a zero size.
    PositionalEmbedding(std::size_t max_len, std::size_t dim, bool batch_first = true,
                        Generator& gen = default_generator());
    /// x plus the embeddings of positions 0 .. L-1.
    Variable<T> forward(const Variable<T>& x) override;
    /// The embeddings of positions 0 .. length-1: (length, dim).
    Variable<T> positions(std::size_t length) const;

    /// The table (max_len, dim).
    const Variable<T>& weight() const { return this->parameter(0); }
    /// The longest sequence it can add positions to.
    std::size_t max_len() const { return max_len_; }
    /// Length of each position's vector.
    std::size_t dim() const { return dim_; }
    std::string name() const override { return "PositionalEmbedding"; }
    std::string settings() const override;

protected:
    std::string label() const override;

private:
    std::size_t max_len_, dim_;
    bool batch_first_;
};

/// The pre-LN transformer block, PyTorch's TransformerEncoderLayer(d_model, nhead, dim_feedforward,
/// dropout, activation, layer_norm_eps, batch_first, norm_first=True):
///     x = x + dropout1(self_attn(norm1(x)))
///     x = x + dropout2(linear2(dropout(activation(linear1(norm2(x))))))
/// with its parameter names (self_attn.in_proj_weight, self_attn.out_proj.*, linear1.*, linear2.*,
/// norm1.*, norm2.*), so a state_dict moves both ways.
template <class T>
class TransformerBlock : public Module<T> {
public:
    /// A block of width d_model with nhead heads (d_model must divide by nhead), weights drawn from `gen` as
    /// PyTorch initialises them.
    TransformerBlock(std::size_t d_model, std::size_t nhead, const TransformerOptions& options = {},
                     Generator& gen = default_generator());
    /// The block over x with extra masks (attn_mask, key_padding_mask; causal if the options say so).
    Variable<T> operator()(const Variable<T>& x, const AttentionOptions& masks) const;
    using Module<T>::operator();
    Variable<T> forward(const Variable<T>& x) override { return (*this)(x, AttentionOptions()); }

    /// The sub-modules, named as in PyTorch (see the formula above).
    ///@{
    MultiheadAttention<T>& self_attn() const { return *self_attn_; }
    Linear<T>& linear1() const { return *linear1_; }
    Linear<T>& linear2() const { return *linear2_; }
    LayerNorm<T>& norm1() const { return *norm1_; }
    LayerNorm<T>& norm2() const { return *norm2_; }
    ///@}
    /// The options it was made with.
    const TransformerOptions& options() const { return options_; }
    std::string name() const override { return "TransformerBlock"; }
    std::string settings() const override;

protected:
    std::string label() const override;

private:
    std::size_t d_model_, nhead_;
    TransformerOptions options_;
    std::shared_ptr<MultiheadAttention<T>> self_attn_;
    std::shared_ptr<Linear<T>> linear1_, linear2_;
    std::shared_ptr<LayerNorm<T>> norm1_, norm2_;
    std::shared_ptr<Dropout<T>> dropout_, dropout1_, dropout2_;
};

/// num_layers blocks in a row and an optional final LayerNorm, PyTorch's TransformerEncoder(layer,
/// num_layers, norm): parameters layers.{i}.* and norm.*. With options.causal(true) and
/// batch_first(true) it is the body of a decoder-only (GPT-style) model.
template <class T>
class TransformerStack : public Module<T> {
public:
    /// num_layers blocks made as TransformerBlock(d_model, nhead, options), then a LayerNorm if final_norm.
    TransformerStack(std::size_t num_layers, std::size_t d_model, std::size_t nhead,
                     const TransformerOptions& options = {}, bool final_norm = true,
                     Generator& gen = default_generator());
    /// The blocks in turn over x with the same masks, then the final norm.
    Variable<T> operator()(const Variable<T>& x, const AttentionOptions& masks) const;
    using Module<T>::operator();
    Variable<T> forward(const Variable<T>& x) override { return (*this)(x, AttentionOptions()); }

    /// Number of blocks.
    std::size_t num_layers() const { return blocks_.size(); }
    /// Block i (throws std::out_of_range past the end).
    TransformerBlock<T>& layer(std::size_t i) const { return *blocks_.at(i); }
    /// The final LayerNorm, or null without one.
    std::shared_ptr<const LayerNorm<T>> norm() const { return norm_; }
    std::string name() const override { return "TransformerStack"; }

private:
    std::vector<std::shared_ptr<TransformerBlock<T>>> blocks_;
    std::shared_ptr<LayerNorm<T>> norm_;
};

/// What GPT is made of.
struct GPTConfig {
    std::size_t vocab_size = 96;        ///< Token ids are below it.
    std::size_t context = 64;           ///< The longest input (positions learned).
    std::size_t d_model = 128;          ///< Width of every position's vector.
    std::size_t num_heads = 4;          ///< Attention heads per block (d_model must divide by it).
    std::size_t num_layers = 4;         ///< Transformer blocks.
    std::size_t dim_feedforward = 512;  ///< Feed-forward width: 4 d_model, as GPT-2.
    double dropout = 0.0;               ///< Dropout in every block (training only).
    TransformerActivation activation = TransformerActivation::gelu;  ///< The feed-forward activation.
};

/// A small decoder-only language model: logits = head(stack(tok_emb(ids) + pos_emb)), the stack
/// causal, batch first and ending with a LayerNorm. Parameters tok_emb.weight, pos_emb.weight,
/// blocks.layers.{i}.*, blocks.norm.*, head.weight, head.bias.
template <class T>
class GPT : public Module<T> {
public:
    /// A model of that shape, weights drawn from `gen` (embeddings N(0, 1), as PyTorch's nn.Embedding).
    explicit GPT(const GPTConfig& config, Generator& gen = default_generator());
    /// Next-token logits (N, L, vocab_size) for token ids (N, L) (whole numbers stored as T), L <= context.
    Variable<T> forward(const Variable<T>& ids) override;
    /// The same for integer ids (N, L).
    Variable<T> operator()(const Tensor<std::size_t>& ids) const;
    /// Same as forward(ids).
    Variable<T> operator()(const Variable<T>& ids) { return forward(ids); }

    /// The shape it was made with.
    const GPTConfig& config() const { return config_; }
    /// The sub-modules, by their state_dict prefixes.
    ///@{
    Embedding<T>& tok_emb() const { return *tok_emb_; }
    PositionalEmbedding<T>& pos_emb() const { return *pos_emb_; }
    TransformerStack<T>& blocks() const { return *blocks_; }
    Linear<T>& head() const { return *head_; }
    ///@}
    std::string name() const override { return "GPT"; }

private:
    Variable<T> logits(const Variable<T>& tokens) const;

    GPTConfig config_;
    std::shared_ptr<Embedding<T>> tok_emb_;
    std::shared_ptr<PositionalEmbedding<T>> pos_emb_;
    std::shared_ptr<TransformerStack<T>> blocks_;
    std::shared_ptr<Linear<T>> head_;
};

extern template class PositionalEmbedding<float>;
extern template class PositionalEmbedding<double>;
extern template class TransformerBlock<float>;
extern template class TransformerBlock<double>;
extern template class TransformerStack<float>;
extern template class TransformerStack<double>;
extern template class GPT<float>;
extern template class GPT<double>;

}  // namespace tapegrad::nn
