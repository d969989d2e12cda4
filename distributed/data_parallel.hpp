// DataParallel: a model wrapped for data-parallel training — same start on every rank, gradients averaged before each
// optimizer step.
#pragma once

#include <cstddef>

#include <tapegrad/distributed/gradient_averager.hpp>
#include <tapegrad/nn/module.hpp>
#include <tapegrad/optim/optimizer.hpp>

namespace tapegrad::distributed {

/// Settings of DataParallel, with plain chained setters.
class DataParallelOptions {
public:
    /// The rank whose initial weights every rank takes. Default 0.
    DataParallelOptions& root(std::size_t v) {
        root_ = v;
        return *this;
    }
    /// Largest MPI_Allreduce, in bytes (at least one element). Default 4 MiB: one call per
    /// step for the Fashion-MNIST MLP (about 0.4 MB of float gradients).
    DataParallelOptions& bucket_bytes(std::size_t v);

    /// The values set by the setters of the same names (defaults 0 and 4 MiB).
    ///@{
    std::size_t root() const { return root_; }
    std::size_t bucket_bytes() const { return bucket_bytes_; }
    ///@}

private:
    std::size_t root_ = 0;
    std::size_t bucket_bytes_ = 4u << 20;
};

/// The training loop of one process, made data-parallel by two changes: wrap the model, and
/// step through the wrapper. Each rank runs forward and backward on its own part of the
/// global batch; step() averages the gradients over the ranks and then steps the optimizer,
/// so every rank makes the same update and the models stay identical:
///
///     tg::distributed::Session session(argc, argv);
///     tg::nn::Sequential<float> net{...};
///     tg::distributed::DataParallel<float> ddp(net);     // every rank now has rank 0's weights
///     tg::optim::SGD<float> sgd(net.parameters(), tg::optim::SGDOptions(0.1));
///     for (...) {                                          // this rank's batches
///         sgd.zero_grad();
///         auto loss = tg::cross_entropy(ddp(x), labels);
///         loss.backward();
///         ddp.step(sgd, labels.size());                    // allreduce, then sgd.step()
///     }
///
/// The constructor broadcasts root's parameters and buffers (broadcast_parameters: a model
/// that differs between ranks is an Error on every rank). The module must outlive the
/// wrapper; its parameters are taken at construction.
template <class T>
class DataParallel {
public:
    /// Wraps `module` (collective: every rank must call it); throws Error if the ranks' models differ in names or
    /// shapes.
    explicit DataParallel(nn::Module<T>& module, const DataParallelOptions& options = {});

    /// The wrapped module's forward.
    Variable<T> operator()(const Variable<T>& x) { return module_->forward(x); }
    /// The wrapped module.
    nn::Module<T>& module() const { return *module_; }

    /// Replaces every gradient by its plain mean over the ranks.
    void average_gradients() { averager_.average(); }
    /// Replaces every gradient by its mean over the ranks weighted by their sample counts:
    /// exactly the gradient of the mean loss over all ranks' samples, even when the ranks'
    /// batches differ in size. A rank with no samples passes 0 (it need not run backward).
    void average_gradients(std::size_t samples) { averager_.average(samples); }

    /// average_gradients(), then optimizer.step().
    void step(optim::OptimizerBase& optimizer);
    /// average_gradients(samples), then optimizer.step().
    void step(optim::OptimizerBase& optimizer, std::size_t samples);

    /// Time and bytes spent averaging so far.
    const CommStats& stats() const { return averager_.stats(); }
    /// Zeroes the time and byte counts of stats().
    void reset_stats() { averager_.reset_stats(); }
    /// The averager doing the allreduces (its buckets and counts).
    const GradientAverager<T>& averager() const { return averager_; }

private:
    nn::Module<T>* module_;
    GradientAverager<T> averager_;
};

extern template class DataParallel<float>;
extern template class DataParallel<double>;

}  // namespace tapegrad::distributed
