// DistributedSampler: data::epoch_order over all rows, then every world-th position from this rank's.
#include <tapegrad/distributed/sampler.hpp>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>

namespace tapegrad::distributed {

DistributedSampler::DistributedSampler(std::size_t n, const data::LoaderOptions& options) : n_(n), options_(options) {
    if (n == 0) throw Error("DistributedSampler: the dataset has no rows");
    if (options.world() > n)
        throw Error(
            fmt::format("DistributedSampler: {} rows cannot be shared by {} ranks; expected at least one row "
                        "per rank",
                        n, options.world()));
}

Indices DistributedSampler::indices(std::size_t epoch) const {
    // The whole epoch's order, as one process would see it (data's shard would drop the tail).
    data::LoaderOptions whole = options_;
    whole.shard(0, 1);
    const Indices order = data::epoch_order(n_, whole, epoch);
    Indices mine;
    mine.reserve(size());
    for (std::size_t k = rank(); k < n_; k += world()) mine.push_back(order[k]);
    return mine;
}

std::size_t DistributedSampler::size() const { return n_ / world() + (rank() < n_ % world() ? 1 : 0); }

std::size_t DistributedSampler::steps() const {
    const std::size_t global = options_.batch_size() * world();
    return options_.drop_last() ? n_ / global : (n_ + global - 1) / global;
}

template <class T>
data::Epoch<T> DistributedSampler::epoch(const data::DataLoader<T>& loader, std::size_t e) const {
    if (loader.dataset().size() != n_ || loader.options().batch_size() != options_.batch_size() ||
        loader.options().drop_last() != options_.drop_last())
        throw Error(fmt::format(
            "DistributedSampler::epoch: the loader has {} rows in batches of {}{}, the sampler "
            "{} rows in batches of {}{}; make both from the same dataset and LoaderOptions",
            loader.dataset().size(), loader.options().batch_size(), loader.options().drop_last() ? " (drop_last)" : "",
            n_, options_.batch_size(), options_.drop_last() ? " (drop_last)" : ""));
    return loader.over(indices(e));
}

template data::Epoch<float> DistributedSampler::epoch(const data::DataLoader<float>&, std::size_t) const;
template data::Epoch<double> DistributedSampler::epoch(const data::DataLoader<double>&, std::size_t) const;

}  // namespace tapegrad::distributed
