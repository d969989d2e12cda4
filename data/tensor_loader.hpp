// DataLoader over a TensorDataset, a CharTextDataset or any dataset with size() and batch(rows): seeded mini-batches.
#pragma once

#include <cstddef>
#include <iterator>
#include <string>
#include <utility>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/tensor.hpp>
#include <tapegrad/data/loader.hpp>
#include <tapegrad/data/tensor_dataset.hpp>

namespace tapegrad::data {

/// The batches of one pass over an explicit list of rows of a dataset, which must outlive it.
/// Dataset needs `size()`, a `batch_type` and `batch_type batch(const Indices& rows) const`.
template <class Dataset>
class DatasetEpoch {
public:
    /// What each batch is: the dataset's batch_type.
    using batch_type = typename Dataset::batch_type;

    /// The batches of `rows` of `data`, batch_size and drop_last from `options`. Throws Error for a row
    /// past the dataset's end.
    DatasetEpoch(const Dataset& data, Indices rows, const LoaderOptions& options)
        : data_(&data), rows_(std::move(rows)), batch_size_(options.batch_size()), drop_last_(options.drop_last()) {
        for (std::size_t k = 0; k < rows_.size(); ++k)
            if (rows_[k] >= data.size())
                throw Error("DatasetEpoch: row " + std::to_string(rows_[k]) + " (entry " + std::to_string(k) +
                            ") of a dataset of " + std::to_string(data.size()) + " samples");
    }
    /// The epoch would outlive a temporary dataset.
    DatasetEpoch(Dataset&& data, Indices rows, const LoaderOptions& options) = delete;

    /// Number of batches.
    std::size_t size() const {
        return drop_last_ ? rows_.size() / batch_size_ : (rows_.size() + batch_size_ - 1) / batch_size_;
    }
    /// Batch i, i < size(): the rows i*batch_size onwards (the last batch may be smaller).
    batch_type batch(std::size_t i) const {
        if (i >= size())
            throw Error("DatasetEpoch::batch: batch " + std::to_string(i) + " of an epoch of " +
                        std::to_string(size()) + " batches");
        const std::size_t first = i * batch_size_, count = std::min(batch_size_, rows_.size() - first);
        return data_->batch(
            Indices(rows_.begin() + std::ptrdiff_t(first), rows_.begin() + std::ptrdiff_t(first + count)));
    }
    /// The rows visited, in order.
    const Indices& rows() const { return rows_; }

    /// An input iterator over the batches: each one is built when the iterator reaches it.
    using iterator = BatchIterator<DatasetEpoch, batch_type>;
    /// The first batch.
    iterator begin() const { return iterator(this, 0); }
    /// Past the last batch.
    iterator end() const { return iterator(this, size()); }

private:
    friend iterator;
    void fill(std::size_t i, batch_type& out) const { out = batch(i); }
    const Dataset* data_;
    Indices rows_;
    std::size_t batch_size_;
    bool drop_last_;
};

/// Mini-batches of any dataset with size(), batch_type and batch(rows) (which must outlive the
/// loader), in the orders of the image DataLoader: LoaderOptions' batch_size, shuffle, seed,
/// drop_last and shard apply (layout and normalize are for images and are ignored here), and
/// epoch e of a given seed visits the rows in the same order on every run and platform.
/// DataLoader<TensorDataset<...>> and DataLoader<CharTextDataset> are this class; use it by
/// this name for a dataset type of your own.
template <class Dataset>
class DatasetLoader {
public:
    /// Throws Error when an epoch would have no batch at all (an empty dataset, drop_last with
    /// fewer samples than batch_size, more ranks than samples): a silent empty loop is a bug.
    explicit DatasetLoader(const Dataset& data, const LoaderOptions& options = {}) : data_(&data), options_(options) {
        if (batches_per_epoch() > 0) return;
        std::string why;
        if (data.size() == 0)
            why = "the dataset is empty";
        else if (samples_per_epoch() == 0)
            why = std::to_string(data.size()) + " samples shared among " + std::to_string(options.world()) +
                  " ranks leave none to rank " + std::to_string(options.rank());
        else
            why = "drop_last drops the only, partial batch: " + std::to_string(samples_per_epoch()) +
                  " samples per epoch, batch_size " + std::to_string(options.batch_size());
        throw Error("DataLoader: 0 batches per epoch: " + why + "; expected at least one batch");
    }
    /// The loader would outlive a temporary dataset: keep the dataset in a variable.
    DatasetLoader(Dataset&& data, const LoaderOptions& options = {}) = delete;

    /// Epoch e: its own seeded order (when shuffling), this rank's share of it.
    DatasetEpoch<Dataset> epoch(std::size_t e) const {
        return DatasetEpoch<Dataset>(*data_, epoch_order(data_->size(), options_, e), options_);
    }
    /// A pass over rows chosen by the caller (a custom sampler), batched with these options.
    DatasetEpoch<Dataset> over(Indices rows) const { return DatasetEpoch<Dataset>(*data_, std::move(rows), options_); }
    /// Batches per epoch.
    std::size_t batches_per_epoch() const {
        const std::size_t n = samples_per_epoch(), b = options_.batch_size();
        return options_.drop_last() ? n / b : (n + b - 1) / b;
    }
    /// Samples per epoch on this rank.
    std::size_t samples_per_epoch() const { return data_->size() / options_.world(); }
    /// The dataset the loader reads.
    const Dataset& dataset() const { return *data_; }
    /// The options it was made with.
    const LoaderOptions& options() const { return options_; }

private:
    const Dataset* data_;
    LoaderOptions options_;
};

/// The DataLoader of a TensorDataset: batches are tuples of tensors (see TensorDataset).
template <class... Ts>
class DataLoader<TensorDataset<Ts...>> : public DatasetLoader<TensorDataset<Ts...>> {
public:
    using DatasetLoader<TensorDataset<Ts...>>::DatasetLoader;
};

template <class... Ts>
DataLoader(const TensorDataset<Ts...>&) -> DataLoader<TensorDataset<Ts...>>;
template <class... Ts>
DataLoader(const TensorDataset<Ts...>&, const LoaderOptions&) -> DataLoader<TensorDataset<Ts...>>;

}  // namespace tapegrad::data
