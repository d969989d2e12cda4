// DistributedSampler: each rank's disjoint, seeded, reshuffled-per-epoch share of a dataset, every row exactly once per
// epoch across ranks.
#pragma once

#include <cstddef>

#include <tapegrad/autograd/tensor.hpp>
#include <tapegrad/data/loader.hpp>

namespace tapegrad::distributed {

/// Which rows of an n-row dataset this rank visits in each epoch, and in what order.
///
/// It reads from a LoaderOptions the seed, shuffle, batch size, drop_last and the shard
/// (rank, world), so one options object serves the loader and the sampler:
///
///     auto options = data::LoaderOptions().batch_size(64).seed(1).shard(session.rank(), session.world_size());
///     data::DataLoader<float> loader(train, options);
///     distributed::DistributedSampler sampler(train.size(), options);
///     for (std::size_t e = 0; e < epochs; ++e) {
///         auto epoch = sampler.epoch(loader, e);           // this rank's batches
///         for (std::size_t i = 0; i < sampler.steps(); ++i) {
///             std::size_t samples = 0;
///             if (i < epoch.size()) { auto batch = epoch.batch(i); ... backward ...; samples = batch.size(); }
///             ddp.step(optimizer, samples);
///         }
///     }
///
/// The rule: every rank computes the same epoch order as one process would (data::epoch_order:
/// seeded, reshuffled every epoch, the same on every platform), and rank r takes the rows at
/// positions r, r + world, r + 2 world, ... of it. Hence:
/// - every row is visited exactly once per epoch across the ranks (unlike LoaderOptions::shard
///   alone, which drops the n % world rows at the end); shares differ in size by at most one;
/// - batch i of every rank together are exactly batch i of one process with batch size
///   batch_size * world over the same order: with average_gradients(samples), training on
///   world ranks takes the same steps as one process with a world times larger batch;
/// - steps() = ceil(n / (batch_size * world)) batches per epoch on every rank, so collectives stay
///   in lockstep. When the epoch's last global batch has fewer than world rows, some ranks have
///   one batch fewer (epoch.size() == steps() - 1): they step with 0 samples (see above).
/// With drop_last, steps() counts only full global batches and the rows after them are skipped
/// (then not every row is visited).
class DistributedSampler {
public:
    /// Throws Error if n is 0 or the options' shard has more ranks than n rows.
    DistributedSampler(std::size_t n, const data::LoaderOptions& options);

    /// This rank's rows of epoch e, in visiting order.
    Indices indices(std::size_t epoch) const;
    /// The batches of this rank's rows in epoch e, from a loader with the same dataset size and
    /// batch size (anything else is an Error: the ranks would lose lockstep).
    template <class T>
    data::Epoch<T> epoch(const data::DataLoader<T>& loader, std::size_t e) const;

    /// Batches per epoch every rank runs (some may be empty on some ranks; see above).
    std::size_t steps() const;
    /// Rows per epoch on this rank: n / world, plus one on the first n % world ranks.
    std::size_t size() const;
    /// n, the rows of the whole dataset.
    std::size_t rows() const { return n_; }
    /// This process's rank and the number of ranks.
    ///@{
    std::size_t rank() const { return options_.rank(); }
    std::size_t world() const { return options_.world(); }
    ///@}
    /// The options given to the constructor, with this rank's shard.
    const data::LoaderOptions& options() const { return options_; }

private:
    std::size_t n_;
    data::LoaderOptions options_;
};

extern template data::Epoch<float> DistributedSampler::epoch(const data::DataLoader<float>&, std::size_t) const;
extern template data::Epoch<double> DistributedSampler::epoch(const data::DataLoader<double>&, std::size_t) const;

}  // namespace tapegrad::distributed
