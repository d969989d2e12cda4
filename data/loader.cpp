// DataLoader: epoch orders (seeded Fisher-Yates, shards) and batch assembly through a byte table.
#include <tapegrad/data/loader.hpp>

#include <cmath>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/kernels/detail/dispatch.hpp>

namespace tapegrad::data {

LoaderOptions& LoaderOptions::batch_size(std::size_t v) {
    if (v == 0) throw Error("LoaderOptions::batch_size: got 0; expected at least 1");
    batch_size_ = v;
    return *this;
}

LoaderOptions& LoaderOptions::normalize(double mean, double stddev) {
    if (!std::isfinite(mean) || !std::isfinite(stddev) || !(stddev > 0))
        throw Error(fmt::format("LoaderOptions::normalize: mean {} and stddev {}; expected finite values, stddev > 0",
                                mean, stddev));
    mean_ = mean;
    std_ = stddev;
    return *this;
}

LoaderOptions& LoaderOptions::shard(std::size_t rank, std::size_t world) {
    if (world == 0 || rank >= world)
        throw Error(fmt::format("LoaderOptions::shard: rank {} of world {}; expected world >= 1 and rank < world", rank,
                                world));
    rank_ = rank;
    world_ = world;
    return *this;
}

namespace {

// A uniform draw from [0, bound) by rejection: exact, and defined by mt19937_64 alone
// (std::uniform_int_distribution differs between standard libraries).
std::uint64_t draw_below(std::mt19937_64& rng, std::uint64_t bound) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    std::uint64_t x;
    do x = rng();
    while (x >= limit);
    return x % bound;
}

// dst[j] = src[j] * scale + shift, computed in double and rounded once. Unlike a table lookup this
// vectorises (bytes widened and converted a vector at a time), so it is built for each x86-64 level.
template <class T>
TAPEGRAD_HOT_LOOP void scale_bytes(const std::uint8_t* src, T* dst, std::size_t n, double scale, double shift) {
    for (std::size_t j = 0; j < n; ++j) dst[j] = T(double(src[j]) * scale + shift);
}

/// True when scale_bytes gives exactly the table's value for every byte (it may differ in the last
/// bit from the table's (v / 255 - mean) / stddev; then the table is used).
template <class T>
bool matches_table(const std::array<T, 256>& lut, double scale, double shift) {
    std::array<std::uint8_t, 256> bytes;
    std::array<T, 256> got;
    for (std::size_t v = 0; v < 256; ++v) bytes[v] = std::uint8_t(v);
    scale_bytes(bytes.data(), got.data(), 256, scale, shift);
    return got == lut;
}

}  // namespace

Indices epoch_order(std::size_t n, const LoaderOptions& options, std::size_t epoch) {
    Indices order(n);
    std::iota(order.begin(), order.end(), std::size_t(0));
    if (options.shuffle() && n > 1) {
        const std::uint64_t s = options.seed(), e = epoch;
        std::seed_seq seq{std::uint32_t(s), std::uint32_t(s >> 32), std::uint32_t(e), std::uint32_t(e >> 32)};
        std::mt19937_64 rng(seq);
        for (std::size_t i = n - 1; i > 0; --i) std::swap(order[i], order[draw_below(rng, i + 1)]);
    }
    const std::size_t world = options.world();
    if (world > 1) {
        // Every rank gets the same count, so collective steps stay in lockstep; the few rows
        // cut from the end change with every shuffled epoch.
        const std::size_t share = n / world;
        Indices mine(share);
        for (std::size_t k = 0; k < share; ++k) mine[k] = order[k * world + options.rank()];
        order = std::move(mine);
    }
    return order;
}

template <class T>
Epoch<T>::Epoch(const ImageDataset& data, Indices rows, const LoaderOptions& options)
    : data_(&data),
      rows_(std::move(rows)),
      batch_size_(options.batch_size()),
      drop_last_(options.drop_last()),
      layout_(options.layout()) {
    for (std::size_t k = 0; k < rows_.size(); ++k)
        if (rows_[k] >= data.size())
            throw Error(fmt::format("Epoch: row {} (entry {}) of a dataset of {} images", rows_[k], k, data.size()));
    // Computed in double and rounded once, so float and double batches agree to float precision.
    for (int v = 0; v < 256; ++v) lut_[std::size_t(v)] = T((v / 255.0 - options.mean()) / options.stddev());
    // The same values as an affine map, which fill() converts a row with in vector instructions.
    scale_ = 1.0 / (255.0 * options.stddev());
    shift_ = -options.mean() / options.stddev();
    affine_ = matches_table(lut_, scale_, shift_);
}

template <class T>
std::size_t Epoch<T>::size() const {
    return drop_last_ ? rows_.size() / batch_size_ : (rows_.size() + batch_size_ - 1) / batch_size_;
}

template <class T>
Batch<T> Epoch<T>::batch(std::size_t i) const {
    if (i >= size()) throw Error(fmt::format("Epoch::batch: batch {} of an epoch of {} batches", i, size()));
    Batch<T> out;
    fill(i, out);
    return out;
}

template <class T>
void Epoch<T>::fill(std::size_t i, Batch<T>& out) const {
    const std::size_t first = i * batch_size_;
    const std::size_t count = std::min(batch_size_, rows_.size() - first);
    const ImageDataset& d = *data_;
    const std::size_t bytes = d.image_size();
    if (layout_ == ImageLayout::flat)
        out.images.resize({count, bytes});
    else
        out.images.resize({count, d.channels(), d.height(), d.width()});
    out.labels.resize(count);
    T* dst = out.images.data();
    const std::uint8_t* pixels = d.pixels().data();
    const Indices& labels = d.labels();
    for (std::size_t k = 0; k < count; ++k) {
        const std::size_t row = rows_[first + k];
        const std::uint8_t* src = pixels + row * bytes;
        // Shuffled rows are scattered over the dataset: fetching the row after next while this one
        // converts halves a batch's time (its memory, not its arithmetic, is what a batch waits for).
        if (k + 2 < count) {
            const std::uint8_t* ahead = pixels + rows_[first + k + 2] * bytes;
            for (std::size_t j = 0; j < bytes; j += 64) __builtin_prefetch(ahead + j);
        }
        if (affine_)
            scale_bytes(src, dst, bytes, scale_, shift_);
        else
            for (std::size_t j = 0; j < bytes; ++j) dst[j] = lut_[src[j]];
        dst += bytes;
        out.labels[k] = labels[row];
    }
}

template <class T>
DataLoader<T>::DataLoader(const ImageDataset& data, const LoaderOptions& options) : data_(&data), options_(options) {
    // A loader that yields nothing would make a training loop run zero steps without a word.
    if (batches_per_epoch() == 0) {
        std::string why;
        if (data.empty())
            why = "the dataset is empty";
        else if (images_per_epoch() == 0)
            why = fmt::format("{} images shared among {} ranks leave none to rank {}", data.size(), options.world(),
                              options.rank());
        else
            why = fmt::format("drop_last drops the only, partial batch: {} images per epoch, batch_size {}",
                              images_per_epoch(), options.batch_size());
        throw Error(fmt::format("DataLoader: 0 batches per epoch: {}; expected at least one batch", why));
    }
}

template <class T>
Epoch<T> DataLoader<T>::epoch(std::size_t e) const {
    return Epoch<T>(*data_, epoch_order(data_->size(), options_, e), options_);
}

template <class T>
Epoch<T> DataLoader<T>::over(Indices rows) const {
    return Epoch<T>(*data_, std::move(rows), options_);
}

template <class T>
std::size_t DataLoader<T>::images_per_epoch() const {
    return data_->size() / options_.world();
}

template <class T>
std::size_t DataLoader<T>::batches_per_epoch() const {
    const std::size_t n = images_per_epoch(), b = options_.batch_size();
    return options_.drop_last() ? n / b : (n + b - 1) / b;
}

template class Epoch<float>;
template class Epoch<double>;
template class DataLoader<float>;
template class DataLoader<double>;

}  // namespace tapegrad::data
