// TensorDataset: samples spread over tensors of any element types, the first axis of each the sample axis.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <tuple>
#include <utility>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/tensor.hpp>

namespace tapegrad::data {

/// n samples held as tensors that all have n rows along their first axis: float features
/// (n, d), integer tokens (n, L), regression targets (n,) or (n, k), class labels (n,), in any
/// mix of element types. A batch is a tuple of the same tensors cut to the batch's rows:
///
///     tg::data::TensorDataset data(x, y);  // x: Tensor<float> (n, 3), y: Tensor<std::size_t> (n,)
///     tg::data::DataLoader loader(data, tg::data::LoaderOptions().batch_size(32).seed(1));
///     for (const auto& [xb, yb] : loader.epoch(e)) { ... }  // xb (32, 3), yb (32,)
template <class... Ts>
class TensorDataset {
    static_assert(sizeof...(Ts) >= 1, "a TensorDataset holds at least one tensor");

public:
    /// What batch() returns: one tensor per tensor of the dataset, rows in the order asked for.
    using batch_type = std::tuple<Tensor<Ts>...>;

    TensorDataset() = default;
    /// Throws Error when a tensor is 0-d or the tensors disagree on the number of samples.
    explicit TensorDataset(Tensor<Ts>... tensors) : tensors_(std::move(tensors)...) { check(); }

    /// Number of samples (the common first extent).
    std::size_t size() const { return size_; }
    /// True when there are no samples.
    bool empty() const { return size_ == 0; }
    /// Tensor I as given.
    template <std::size_t I>
    const auto& tensor() const {
        return std::get<I>(tensors_);
    }
    /// All tensors as given.
    const std::tuple<Tensor<Ts>...>& tensors() const { return tensors_; }

    /// The samples at the given rows, in that order (rows may repeat): each tensor's shape with
    /// its first extent replaced by rows.size().
    batch_type batch(const Indices& rows) const {
        for (std::size_t k = 0; k < rows.size(); ++k)
            if (rows[k] >= size_)
                throw Error("TensorDataset::batch: row " + std::to_string(rows[k]) + " (entry " + std::to_string(k) +
                            ") of a dataset of " + std::to_string(size_) + " samples");
        return std::apply([&](const auto&... t) { return batch_type(gather(t, rows)...); }, tensors_);
    }
    /// The samples at the given rows as a dataset of their own.
    TensorDataset select(const Indices& rows) const { return std::make_from_tuple<TensorDataset>(batch(rows)); }
    /// Samples [begin, end) as a dataset of their own: a split by position (train, then validation).
    TensorDataset slice(std::size_t begin, std::size_t end) const {
        if (begin > end || end > size_)
            throw Error("TensorDataset::slice: rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                        ") of a dataset of " + std::to_string(size_) +
                        " samples; expected begin <= end <= " + std::to_string(size_));
        Indices rows(end - begin);
        for (std::size_t k = 0; k < rows.size(); ++k) rows[k] = begin + k;
        return select(rows);
    }

private:
    void check() {
        std::size_t k = 0;
        bool first = true;
        std::string first_shape;
        auto one = [&](const auto& t) {
            if (t.dimension() == 0)
                throw Error("TensorDataset: tensor " + std::to_string(k) +
                            " is 0-d (a scalar); expected a first axis along the samples");
            if (first) {
                size_ = t.shape()[0];
                first_shape = shape_string(t.shape());
                first = false;
            } else if (t.shape()[0] != size_) {
                throw Error("TensorDataset: tensor " + std::to_string(k) + " has shape " + shape_string(t.shape()) +
                            ", " + std::to_string(t.shape()[0]) + " samples, but tensor 0 has shape " + first_shape +
                            ", " + std::to_string(size_) + " samples; expected the same first extent in every tensor");
            }
            ++k;
        };
        std::apply([&](const auto&... t) { (one(t), ...); }, tensors_);
    }

    template <class T>
    static Tensor<T> gather(const Tensor<T>& t, const Indices& rows) {
        auto shape = t.shape();
        const std::size_t n = shape[0];
        shape[0] = rows.size();
        Tensor<T> out = Tensor<T>::from_shape(shape);
        const std::size_t per_row = n ? t.size() / n : 0;
        const T* src = t.data();
        T* dst = out.data();
        for (std::size_t k = 0; k < rows.size(); ++k) std::copy_n(src + rows[k] * per_row, per_row, dst + k * per_row);
        return out;
    }

    std::tuple<Tensor<Ts>...> tensors_;
    std::size_t size_ = 0;
};

template <class... Ts>
TensorDataset(Tensor<Ts>...) -> TensorDataset<Ts...>;

}  // namespace tapegrad::data
