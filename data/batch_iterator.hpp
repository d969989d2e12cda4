// BatchIterator: the input iterator both epochs (images and any dataset) hand out, one batch built at a time.
#pragma once

#include <cstddef>
#include <iterator>

namespace tapegrad::data {

/// An input iterator over the batches of an epoch: each one is built when the iterator reaches it, into
/// one buffer the iterator owns. Epoch needs `size()` and `fill(i, Batch&)` (a friend may call it).
template <class Epoch, class Batch>
class BatchIterator {
public:
    /// The standard iterator types: it yields const Batch&.
    ///@{
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = const Batch*;
    using reference = const Batch&;
    ///@}

    /// At batch i of `epoch` (i = size(): the end).
    BatchIterator(const Epoch* epoch, std::size_t i) : epoch_(epoch), i_(i) { load(); }
    /// The current batch.
    reference operator*() const { return batch_; }
    /// The current batch.
    pointer operator->() const { return &batch_; }
    /// Moves to the next batch and builds it.
    BatchIterator& operator++() {
        ++i_;
        load();
        return *this;
    }
    /// Same position (iterators of one epoch).
    bool operator==(const BatchIterator& o) const { return i_ == o.i_; }
    /// Different position (iterators of one epoch).
    bool operator!=(const BatchIterator& o) const { return i_ != o.i_; }

private:
    void load() {
        if (i_ < epoch_->size()) epoch_->fill(i_, batch_);
    }
    const Epoch* epoch_;
    std::size_t i_;
    Batch batch_;
};

}  // namespace tapegrad::data
