// Embedding<T>: construction with PyTorch's N(0, 1) initialisation, lookups through tapegrad::embedding.
#include <tapegrad/nn/embedding.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include <tapegrad/autograd/ops.hpp>
#include <tapegrad/nn/init.hpp>

namespace tapegrad::nn {

template <class T>
Embedding<T>::Embedding(std::size_t num_embeddings, std::size_t embedding_dim, const EmbeddingOptions& options,
                        Generator& gen)
    : num_(num_embeddings), dim_(embedding_dim) {
    if (num_embeddings == 0 || embedding_dim == 0)
        throw Error(fmt::format("Embedding: num_embeddings and embedding_dim must be at least 1, got {} and {}",
                                num_embeddings, embedding_dim));
    if (options.has_padding()) {
        const std::ptrdiff_t n = std::ptrdiff_t(num_embeddings), p = options.padding_idx();
        if (p < -n || p >= n)
            throw Error(
                fmt::format("Embedding: padding_idx must be in [-{}, {}) for {} embeddings, got {}", n, n, n, p));
        pad_ = p < 0 ? p + n : p;
    }
    Variable<T> w(Tensor<T>::from_shape({num_embeddings, embedding_dim}));
    init::normal(w, 0.0, 1.0, gen);
    if (pad_ >= 0)
        std::fill_n(w.mutable_value().data() + std::size_t(pad_) * embedding_dim, embedding_dim, T(0));  // as PyTorch
    this->register_parameter("weight", w);
}

template <class T>
Variable<T> Embedding<T>::forward(const Tensor<std::size_t>& indices) const {
    for (std::size_t i : indices)
        if (i >= num_) throw Error(fmt::format("{}: index {} out of range (expected < {})", label(), i, num_));
    return embedding(weight(), indices, pad_);
}

template <class T>
Variable<T> Embedding<T>::operator()(const Indices& indices) const {
    return forward(Tensor<std::size_t>(xt::adapt(indices, Shape{indices.size()})));
}

template <class T>
Variable<T> Embedding<T>::forward(const Variable<T>& ids) {
    Tensor<std::size_t> indices = Tensor<std::size_t>::from_shape(ids.shape());
    std::size_t k = 0;
    for (T v : ids.value()) {
        if (!(v >= 0) || v != std::floor(v) || v >= T(num_))
            throw Error(fmt::format("{}: token id {} is not a whole number in [0, {})", label(), v, num_));
        indices.data()[k++] = std::size_t(v);
    }
    return forward(indices);
}

template <class T>
std::string Embedding<T>::settings() const {
    if (pad_ >= 0) return fmt::format("num_embeddings={}, embedding_dim={}, padding_idx={}", num_, dim_, pad_);
    return fmt::format("num_embeddings={}, embedding_dim={}", num_, dim_);
}

template <class T>
std::string Embedding<T>::label() const {
    return fmt::format("Embedding({}, {})", num_, dim_);
}

template class Embedding<float>;
template class Embedding<double>;

}  // namespace tapegrad::nn
