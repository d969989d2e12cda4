// DataLoader: seeded, shardable mini-batches of an ImageDataset as Tensor<T> images and labels.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>

#include <tapegrad/autograd/random.hpp>
#include <tapegrad/autograd/tensor.hpp>
#include <tapegrad/data/batch_iterator.hpp>
#include <tapegrad/data/dataset.hpp>

namespace tapegrad::data {

/// How a batch's images are shaped: (B, C*H*W) for dense layers, (B, C, H, W) for convolutions.
enum class ImageLayout { flat, nchw };

/// Settings of a DataLoader, with plain chained setters; each setter checks its argument.
class LoaderOptions {
public:
    /// Images per batch (at least 1). Default 64.
    LoaderOptions& batch_size(std::size_t v);
    /// Visit the images in a new seeded order every epoch. Default true.
    LoaderOptions& shuffle(bool v) {
        shuffle_ = v;
        return *this;
    }
    /// The seed of every epoch's order: same seed, same epoch, same order, on any platform.
    LoaderOptions& seed(std::uint64_t v) {
        seed_ = v;
        return *this;
    }
    /// The seed drawn from a Generator (one 64-bit draw): after manual_seed(s), or from a
    /// Generator(s), a run gets the same orders every time, tied to the run's one seed.
    LoaderOptions& seed_from(Generator& gen) { return seed(gen.engine()()); }
    /// Drop the last batch when it is smaller than batch_size. Default false (keep it).
    LoaderOptions& drop_last(bool v) {
        drop_last_ = v;
        return *this;
    }
    /// Default ImageLayout::flat.
    LoaderOptions& layout(ImageLayout v) {
        layout_ = v;
        return *this;
    }
    /// Pixels are scaled to [0,1]; then (x - mean) / std. Default mean 0, std 1 (no change).
    LoaderOptions& normalize(double mean, double stddev);
    /// Take only this rank's share of every epoch: the epoch's order cut to a multiple of
    /// world, then every world-th image starting at rank. Shares are disjoint and equal in
    /// size, and every rank computes the same order from the same seed, so the ranks of an
    /// MPI job need not talk to split the data. Default rank 0 of 1 (everything).
    LoaderOptions& shard(std::size_t rank, std::size_t world);

    /// The values set by the setters above (or their defaults): mean() and stddev() by normalize(),
    /// rank() and world() by shard().
    ///@{
    std::size_t batch_size() const { return batch_size_; }
    bool shuffle() const { return shuffle_; }
    std::uint64_t seed() const { return seed_; }
    bool drop_last() const { return drop_last_; }
    ImageLayout layout() const { return layout_; }
    double mean() const { return mean_; }
    double stddev() const { return std_; }
    std::size_t rank() const { return rank_; }
    std::size_t world() const { return world_; }
    ///@}

private:
    std::size_t batch_size_ = 64;
    bool shuffle_ = true;
    std::uint64_t seed_ = 0;
    bool drop_last_ = false;
    ImageLayout layout_ = ImageLayout::flat;
    double mean_ = 0.0, std_ = 1.0;
    std::size_t rank_ = 0, world_ = 1;
};

/// The row order of one epoch over n images under the given options (shuffle, seed, shard):
/// a seeded Fisher-Yates permutation from std::mt19937_64 with its own bounded draws, so
/// the order does not depend on the standard library's distributions.
Indices epoch_order(std::size_t n, const LoaderOptions& options, std::size_t epoch);

/// One mini-batch: images scaled (and normalized) as the options say, and their labels.
template <class T>
struct Batch {
    /// (B, C*H*W) or (B, C, H, W) as the layout says, scaled to [0, 1] then normalized.
    Tensor<T> images;
    /// The class of each image, 0..classes-1.
    Indices labels;
    /// Images in the batch (B; the last batch may be smaller unless drop_last).
    std::size_t size() const { return labels.size(); }
};

/// The batches of one pass over an explicit list of rows. It points at the dataset, which
/// must outlive it. Iterating yields batches built on demand; batch(i) builds one directly.
template <class T>
class Epoch {
public:
    /// The batches of `data` over `rows` (each < data.size(), checked) with the batch size, layout and scaling of
    /// `options`.
    Epoch(const ImageDataset& data, Indices rows, const LoaderOptions& options);
    /// The epoch would outlive a temporary dataset.
    Epoch(ImageDataset&& data, Indices rows, const LoaderOptions& options) = delete;

    /// Number of batches.
    std::size_t size() const;
    /// Batch i, i < size().
    Batch<T> batch(std::size_t i) const;
    /// The rows visited, in order.
    const Indices& rows() const { return rows_; }

    /// An input iterator over the batches: each one is built when the iterator reaches it.
    using iterator = BatchIterator<Epoch, Batch<T>>;
    /// The first batch (built at once).
    iterator begin() const { return iterator(this, 0); }
    /// Past the last batch.
    iterator end() const { return iterator(this, size()); }

private:
    friend iterator;
    void fill(std::size_t i, Batch<T>& out) const;

    const ImageDataset* data_;
    Indices rows_;
    std::size_t batch_size_;
    bool drop_last_;
    ImageLayout layout_;
    std::array<T, 256> lut_;  // byte -> scaled, normalized value
    double scale_, shift_;    // the same as byte * scale_ + shift_ ...
    bool affine_;             // ... when that gives the table's values exactly (it vectorises)
};

/// Mini-batches of an ImageDataset (which must outlive the loader):
///
///     DataLoader<float> loader(train, LoaderOptions().batch_size(64).seed(1));
///     for (std::size_t e = 0; e < epochs; ++e)
///         for (const auto& batch : loader.epoch(e)) { ... batch.images ... batch.labels ... }
template <class T>
class DataLoader {
public:
    /// Throws Error when an epoch would have no batch at all (an empty dataset, drop_last with
    /// fewer images than batch_size, more ranks than images): a silent empty loop is a bug.
    explicit DataLoader(const ImageDataset& data, const LoaderOptions& options = {});
    /// The loader would outlive a temporary dataset: keep the dataset in a variable.
    DataLoader(ImageDataset&& data, const LoaderOptions& options = {}) = delete;

    /// Epoch e: its own seeded order (when shuffling), this rank's share of it.
    Epoch<T> epoch(std::size_t e) const;
    /// A pass over rows chosen by the caller (a custom sampler), batched with these options.
    Epoch<T> over(Indices rows) const;
    /// Batches per epoch.
    std::size_t batches_per_epoch() const;
    /// Images per epoch on this rank.
    std::size_t images_per_epoch() const;
    /// The dataset the batches come from.
    const ImageDataset& dataset() const { return *data_; }
    /// The options given to the constructor.
    const LoaderOptions& options() const { return options_; }

private:
    const ImageDataset* data_;
    LoaderOptions options_;
};

}  // namespace tapegrad::data
