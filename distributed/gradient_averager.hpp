// GradientAverager: after backward, every rank's gradients replaced by their (sample-weighted) mean over ranks, in one
// flat bucketed allreduce.
#pragma once

#include <cstddef>
#include <vector>

#include <tapegrad/autograd/variable.hpp>

namespace tapegrad::distributed {

/// What gradient averaging has cost so far (on this rank).
struct CommStats {
    /// average() calls.
    std::size_t steps = 0;
    /// MPI_Allreduce calls over all steps (buckets per step = calls / steps).
    std::size_t calls = 0;
    /// Bytes this rank handed to MPI_Allreduce over all steps.
    std::size_t bytes = 0;
    /// Seconds inside MPI_Allreduce: the transfer, and waiting for slower ranks to get there.
    double allreduce_seconds = 0;
    /// Seconds in average() as a whole: packing, allreduce, unpacking.
    double seconds = 0;
};

/// Averages the gradients of a fixed list of parameters over the ranks of the job.
///
/// One step packs every gradient into one flat buffer, followed by one "has a gradient" flag
/// per parameter and this rank's weight, and reduces it with MPI_Allreduce in buckets of at
/// most bucket_bytes (so 2 calls rather than 100 for a model of 100 small tensors, and no call
/// beyond MPI's int count). Then every rank holds, for every parameter,
///     grad = sum over ranks r of (w_r * grad_r) / sum over ranks r of w_r
/// - average():  w_r = 1, the plain mean over ranks (each rank's loss a mean over equal batches).
/// - average(samples):  w_r = the number of samples in this rank's batch, so ranks with
///   unequal batches give exactly the gradient of the mean loss over the union of the batches;
///   a rank with no samples passes 0 and need not have run backward at all.
/// A parameter without a gradient on a rank (it was not used there: has_grad() is false)
/// counts as zeros from that rank; every rank then gets the average as a new gradient. A
/// parameter no rank has a gradient for stays without one everywhere (so the optimizer
/// skips it, as it would in one process), and if every rank's weight is 0 every gradient is
/// reset to none.
///
/// Every rank must construct it over parameters of the same shapes, in the same order (check
/// that once with broadcast_parameters), and call average() at the same point of every step.
/// Weights travel as T: counts up to 2^24 are exact in float.
template <class T>
class GradientAverager {
public:
    /// Averages the gradients of `params`, in allreduce calls of at most `bucket_bytes` bytes each.
    explicit GradientAverager(std::vector<Variable<T>> params, std::size_t bucket_bytes = 4u << 20);

    /// Replaces every gradient by the plain mean over ranks.
    void average();
    /// Replaces every gradient by the mean over ranks weighted by each rank's sample count.
    void average(std::size_t samples);

    /// The parameters whose gradients it averages.
    const std::vector<Variable<T>>& params() const { return params_; }
    /// Elements reduced per step: gradient elements + one flag per parameter + the weight.
    std::size_t elements_per_step() const { return flat_.size(); }
    /// elements_per_step() in bytes.
    std::size_t bytes_per_step() const { return flat_.size() * sizeof(T); }
    /// MPI_Allreduce calls per step.
    std::size_t buckets_per_step() const;
    /// The largest allreduce, in bytes (rounded down to whole elements).
    std::size_t bucket_bytes() const { return bucket_ * sizeof(T); }
    /// Time and bytes spent averaging so far.
    const CommStats& stats() const { return stats_; }
    /// Zeroes stats().
    void reset_stats() { stats_ = {}; }

private:
    void reduce(T weight);

    std::vector<Variable<T>> params_;
    std::size_t grad_elements_ = 0;
    std::size_t bucket_;   // elements per MPI_Allreduce
    std::vector<T> flat_;  // reused every step
    CommStats stats_;
};

extern template class GradientAverager<float>;
extern template class GradientAverager<double>;

}  // namespace tapegrad::distributed
