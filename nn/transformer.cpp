// Transformer modules: positional embeddings, the pre-LN block, the stack and GPT, as plain ops.
#include <tapegrad/nn/transformer.hpp>

#include <fmt/format.h>

#include <tapegrad/autograd/ops.hpp>
#include <tapegrad/nn/format.hpp>
#include <tapegrad/nn/init.hpp>

namespace tapegrad::nn {

namespace {

/// Children named 0, 1, ... with no forward of their own: PyTorch's ModuleList, so names read layers.0.*.
template <class T>
class ModuleList final : public Module<T> {
public:
    template <class M>
    std::shared_ptr<M> add(std::shared_ptr<M> m) {
        return this->register_module(std::to_string(this->named_children().size()), std::move(m));
    }
    std::string name() const override { return "ModuleList"; }
};

}  // namespace

// ------------------------------------------------------------------------------ positions

template <class T>
PositionalEmbedding<T>::PositionalEmbedding(std::size_t max_len, std::size_t dim, bool batch_first, Generator& gen)
    : max_len_(max_len), dim_(dim), batch_first_(batch_first) {
    if (max_len == 0 || dim == 0)
        throw Error(
            fmt::format("PositionalEmbedding: max_len and dim must be at least 1, got {} and {}", max_len, dim));
    Variable<T> w(Tensor<T>::from_shape({max_len, dim}));
    init::normal(w, 0.0, 1.0, gen);
    this->register_parameter("weight", w);
}

template <class T>
Variable<T> PositionalEmbedding<T>::positions(std::size_t length) const {
    if (length == 0 || length > max_len_)
        throw Error(
            fmt::format("{}: sequence length {} out of range (expected 1 to max_len = {})", label(), length, max_len_));
    return slice(weight(), 0, 0, std::ptrdiff_t(length));
}

template <class T>
Variable<T> PositionalEmbedding<T>::forward(const Variable<T>& x) {
    if (x.dim() != 3 || x.shape()[2] != dim_)
        throw Error(fmt::format("{}: expected input {} with E = {}, got {}", label(),
                                batch_first_ ? "(N,L,E)" : "(L,N,E)", dim_, shape_string(x.shape())));
    const std::size_t L = x.shape()[batch_first_ ? 1 : 0];
    const Variable<T> p = positions(L);
    return x + (batch_first_ ? p : reshape(p, Shape{L, 1, dim_}));
}

template <class T>
std::string PositionalEmbedding<T>::settings() const {
    return fmt::format("max_len={}, dim={}, batch_first={}", max_len_, dim_, batch_first_);
}

template <class T>
std::string PositionalEmbedding<T>::label() const {
    return fmt::format("PositionalEmbedding({}, {})", max_len_, dim_);
}

// ------------------------------------------------------------------------------ block

template <class T>
TransformerBlock<T>::TransformerBlock(std::size_t d_model, std::size_t nhead, const TransformerOptions& options,
                                      Generator& gen)
    : d_model_(d_model), nhead_(nhead), options_(options) {
    if (options.dim_feedforward() == 0) throw Error("TransformerBlock: dim_feedforward must be at least 1, got 0");
    if (!(options.dropout() >= 0 && options.dropout() < 1))
        throw Error(fmt::format("TransformerBlock: dropout must be in [0, 1), got {}", options.dropout()));
    // PyTorch's registration order, so state() lists the names as its state_dict does.
    self_attn_ = this->register_module(
        "self_attn", MultiheadAttention<T>(d_model, nhead, options.dropout(), true, options.batch_first(), gen));
    linear1_ = this->register_module("linear1", Linear<T>(d_model, options.dim_feedforward(), true, gen));
    dropout_ = this->register_module("dropout", Dropout<T>(options.dropout()));
    linear2_ = this->register_module("linear2", Linear<T>(options.dim_feedforward(), d_model, true, gen));
    norm1_ = this->register_module("norm1", LayerNorm<T>(d_model, options.layer_norm_eps()));
    norm2_ = this->register_module("norm2", LayerNorm<T>(d_model, options.layer_norm_eps()));
    dropout1_ = this->register_module("dropout1", Dropout<T>(options.dropout()));
    dropout2_ = this->register_module("dropout2", Dropout<T>(options.dropout()));
}

template <class T>
Variable<T> TransformerBlock<T>::operator()(const Variable<T>& x, const AttentionOptions& masks) const {
    if (x.dim() != 3 || x.shape()[2] != d_model_)
        throw Error(fmt::format("{}: expected input {} with E = {}, got {}", label(),
                                options_.batch_first() ? "(N,L,E)" : "(L,N,E)", d_model_, shape_string(x.shape())));
    AttentionOptions opts = masks;
    opts.need_weights(false);
    if (options_.causal()) opts.is_causal(true);
    const Variable<T> h = (*norm1_)(x);
    const Variable<T> a = (*self_attn_)(h, h, h, opts).output;
    const Variable<T> x1 = x + (*dropout1_)(a);
    const Variable<T> u = (*linear1_)((*norm2_)(x1));
    const Variable<T> act = options_.activation() == TransformerActivation::gelu ? gelu(u) : relu(u);
    return x1 + (*dropout2_)((*linear2_)((*dropout_)(act)));
}

template <class T>
std::string TransformerBlock<T>::settings() const {
    return fmt::format("d_model={}, nhead={}, dim_feedforward={}, dropout={}, activation={}, batch_first={}, causal={}",
                       d_model_, nhead_, options_.dim_feedforward(), detail::format_number(options_.dropout()),
                       options_.activation() == TransformerActivation::gelu ? "gelu" : "relu", options_.batch_first(),
                       options_.causal());
}

template <class T>
std::string TransformerBlock<T>::label() const {
    return fmt::format("TransformerBlock({}, {})", d_model_, nhead_);
}

// ------------------------------------------------------------------------------ stack

template <class T>
TransformerStack<T>::TransformerStack(std::size_t num_layers, std::size_t d_model, std::size_t nhead,
                                      const TransformerOptions& options, bool final_norm, Generator& gen) {
    if (num_layers == 0) throw Error("TransformerStack: num_layers must be at least 1, got 0");
    auto list = this->register_module("layers", std::make_shared<ModuleList<T>>());
    for (std::size_t i = 0; i < num_layers; ++i)
        blocks_.push_back(list->add(std::make_shared<TransformerBlock<T>>(d_model, nhead, options, gen)));
    if (final_norm) norm_ = this->register_module("norm", LayerNorm<T>(d_model, options.layer_norm_eps()));
}

template <class T>
Variable<T> TransformerStack<T>::operator()(const Variable<T>& x, const AttentionOptions& masks) const {
    Variable<T> y = x;
    for (const auto& b : blocks_) y = (*b)(y, masks);
    return norm_ ? (*norm_)(y) : y;
}

// ------------------------------------------------------------------------------ GPT

template <class T>
GPT<T>::GPT(const GPTConfig& c, Generator& gen) : config_(c) {
    if (c.vocab_size == 0 || c.context == 0)
        throw Error(
            fmt::format("GPT: vocab_size and context must be at least 1, got {} and {}", c.vocab_size, c.context));
    tok_emb_ = this->register_module("tok_emb", Embedding<T>(c.vocab_size, c.d_model, gen));
    pos_emb_ = this->register_module("pos_emb", PositionalEmbedding<T>(c.context, c.d_model, true, gen));
    const TransformerOptions o = TransformerOptions()
                                     .dim_feedforward(c.dim_feedforward)
                                     .dropout(c.dropout)
                                     .activation(c.activation)
                                     .batch_first(true)
                                     .causal(true);
    blocks_ = this->register_module(
        "blocks", std::make_shared<TransformerStack<T>>(c.num_layers, c.d_model, c.num_heads, o, true, gen));
    head_ = this->register_module("head", Linear<T>(c.d_model, c.vocab_size, true, gen));
}

template <class T>
Variable<T> GPT<T>::logits(const Variable<T>& tokens) const {
    return (*head_)((*blocks_)((*pos_emb_)(tokens)));
}

template <class T>
Variable<T> GPT<T>::forward(const Variable<T>& ids) {
    if (ids.dim() != 2) throw Error(fmt::format("GPT: expected token ids (N,L), got {}", shape_string(ids.shape())));
    return logits((*tok_emb_)(ids));
}

template <class T>
Variable<T> GPT<T>::operator()(const Tensor<std::size_t>& ids) const {
    if (ids.dimension() != 2)
        throw Error(fmt::format("GPT: expected token ids (N,L), got {}", shape_string(ids.shape())));
    return logits(tok_emb_->forward(ids));
}

template class PositionalEmbedding<float>;
template class PositionalEmbedding<double>;
template class TransformerBlock<float>;
template class TransformerBlock<double>;
template class TransformerStack<float>;
template class TransformerStack<double>;
template class GPT<float>;
template class GPT<double>;

}  // namespace tapegrad::nn
