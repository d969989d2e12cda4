// Embedding<T>: a lookup table of learned vectors, one row per token id (PyTorch's nn.Embedding).
#pragma once

#include <cstddef>

#include <tapegrad/autograd/random.hpp>
#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

/// y[..., :] = weight[index[...], :] for integer indices of any shape; weight is
/// (num_embeddings, embedding_dim), initialised N(0, 1) as PyTorch does. Its gradient adds the
/// rows of g into the rows used (an index used twice gets both).
template <class T>
class Embedding : public Module<T> {
public:
    /// A table of num_embeddings vectors of embedding_dim, drawn from `gen`; throws Error for a zero size.
    Embedding(std::size_t num_embeddings, std::size_t embedding_dim, Generator& gen = default_generator());

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

    std::string name() const override { return "Embedding"; }
    std::string settings() const override;

protected:
    std::string label() const override;

private:
    std::size_t num_, dim_;
};

extern template class Embedding<float>;
extern template class Embedding<double>;

}  // namespace tapegrad::nn
