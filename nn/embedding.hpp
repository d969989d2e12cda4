// Embedding<T>: a lookup table of learned vectors, one row per token id (PyTorch's nn.Embedding).
#pragma once

#include <cstddef>

#include <tapegrad/autograd/random.hpp>
#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

/// Settings of Embedding beyond its sizes (PyTorch's keyword arguments).
struct EmbeddingOptions {
    /// The id of padding: its row starts at zeros and gets no gradient, so it stays what it is
    /// (PyTorch's padding_idx; negative counts from the end, -1 the last row).
    EmbeddingOptions& padding_idx(std::ptrdiff_t i) {
        padding_idx_ = i;
        has_padding_ = true;
        return *this;
    }
    /// True when padding_idx() was set.
    bool has_padding() const { return has_padding_; }
    /// The value set by padding_idx(std::ptrdiff_t), as given (may be negative).
    std::ptrdiff_t padding_idx() const { return padding_idx_; }

private:
    std::ptrdiff_t padding_idx_ = 0;
    bool has_padding_ = false;
};

/// y[..., :] = weight[index[...], :] for integer indices of any shape; weight is
/// (num_embeddings, embedding_dim), initialised N(0, 1) as PyTorch does. Its gradient adds the
/// rows of g into the rows used (an index used twice gets both).
template <class T>
class Embedding : public Module<T> {
public:
    /// A table of num_embeddings vectors of embedding_dim, drawn from `gen`; throws Error for a zero size.
    Embedding(std::size_t num_embeddings, std::size_t embedding_dim, Generator& gen = default_generator())
        : Embedding(num_embeddings, embedding_dim, EmbeddingOptions(), gen) {}
    /// As above, with options (a padding_idx row that starts at zero and learns nothing, as in PyTorch).
    Embedding(std::size_t num_embeddings, std::size_t embedding_dim, const EmbeddingOptions& options,
              Generator& gen = default_generator());

    /// The vectors of `indices`: shape indices.shape() + (embedding_dim,).
    Variable<T> forward(const Tensor<std::size_t>& indices) const;
    /// forward(indices); each index must be below num_embeddings (tapegrad::Error otherwise).
    Variable<T> operator()(const Tensor<std::size_t>& indices) const { return forward(indices); }
    /// The vectors of a flat list of indices: (indices.size(), embedding_dim).
    Variable<T> operator()(const Indices& indices) const;
    /// forward(ids).
    Variable<T> operator()(const Variable<T>& ids) { return forward(ids); }
    /// A Variable of token ids (whole numbers stored as T), as a data loader may hand them out.
    Variable<T> forward(const Variable<T>& ids) override;

    /// The table (num_embeddings, embedding_dim).
    const Variable<T>& weight() const { return this->parameter(0); }
    /// Rows of the table: indices must be below it.
    std::size_t num_embeddings() const { return num_; }
    /// Length of each vector.
    std::size_t embedding_dim() const { return dim_; }
    /// The padding row (in [0, num_embeddings)), or -1 without one.
    std::ptrdiff_t padding_idx() const { return pad_; }

    std::string name() const override { return "Embedding"; }
    std::string settings() const override;

protected:
    std::string label() const override;

private:
    std::size_t num_, dim_;
    std::ptrdiff_t pad_ = -1;
};

extern template class Embedding<float>;
extern template class Embedding<double>;

}  // namespace tapegrad::nn
