// Learning-rate schedules: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, ReduceLROnPlateau.
#pragma once

#include <cstddef>
#include <vector>

#include <tapegrad/io/array.hpp>
#include <tapegrad/optim/optimizer.hpp>

namespace tapegrad::optim {

/// A schedule that sets each group's learning rate from its initial one ("base lr") and the
/// epoch count: construct it after the optimizer (epoch 0 sets the base lr), call step()
/// once per epoch after the optimizer's steps. The lr is the documented closed form of the
/// epoch, so it does not drift; a change made with set_lr between steps is overwritten.
/// The scheduler keeps a reference to the optimizer, which must outlive it.
class LRScheduler {
public:
    virtual ~LRScheduler() = default;
    LRScheduler(const LRScheduler&) = delete;
    LRScheduler& operator=(const LRScheduler&) = delete;

    /// Advances one epoch and sets each group's lr.
    void step();
    /// Jumps to an epoch (e.g. when resuming) and sets each group's lr.
    void set_epoch(long epoch);
    /// Epochs stepped so far (0 after construction).
    long last_epoch() const noexcept { return last_epoch_; }
    /// The learning rates last set, one per group.
    const std::vector<double>& last_lr() const noexcept { return last_lr_; }
    /// The learning rates the groups had when the scheduler was made.
    const std::vector<double>& base_lrs() const noexcept { return base_lrs_; }

    /// Everything that decides the next learning rates: "last_epoch" (int64) and "base_lrs"
    /// (float64, one per group). optim::save writes it.
    io::Arrays state_dict() const;
    /// Restores what state_dict() gave, for an optimizer with as many groups, and sets each
    /// group's lr to the schedule's at that epoch (exactly: load it after the optimizer's state).
    /// Throws Error (and changes nothing) for a missing, unexpected or impossible entry.
    void load_state_dict(const io::Arrays& state);

protected:
    /// Takes each group's current lr as its base lr; the optimizer must outlive the scheduler.
    explicit LRScheduler(OptimizerBase& optimizer);
    /// Sets the epoch-0 learning rates; the derived constructor calls it once its settings are checked.
    void start() { set_epoch(0); }
    /// The learning rate at `epoch` for a group whose base lr is `base_lr`.
    virtual double lr_at(long epoch, double base_lr) const = 0;

private:
    OptimizerBase& optimizer_;
    std::vector<double> base_lrs_;
    std::vector<double> last_lr_;
    long last_epoch_ = 0;
};

/// lr = base_lr * gamma^(epoch / step_size) (integer division): decays every step_size epochs.
class StepLR final : public LRScheduler {
public:
    /// Decays by `gamma` every `step_size` (>= 1) epochs; sets the epoch-0 lr. Throws Error for a bad setting.
    StepLR(OptimizerBase& optimizer, long step_size, double gamma = 0.1);

private:
    double lr_at(long epoch, double base_lr) const override;
    long step_size_;
    double gamma_;
};

/// lr = base_lr * gamma^(number of milestones <= epoch); milestones strictly increasing.
class MultiStepLR final : public LRScheduler {
public:
    /// Decays by `gamma` at each epoch in `milestones` (increasing); sets the epoch-0 lr. Throws Error for a bad
    /// setting.
    MultiStepLR(OptimizerBase& optimizer, std::vector<long> milestones, double gamma = 0.1);

private:
    double lr_at(long epoch, double base_lr) const override;
    std::vector<long> milestones_;
    double gamma_;
};

/// lr = base_lr * gamma^epoch.
class ExponentialLR final : public LRScheduler {
public:
    /// Decays by `gamma` every epoch; sets the epoch-0 lr. Throws Error for a bad setting.
    ExponentialLR(OptimizerBase& optimizer, double gamma);

private:
    double lr_at(long epoch, double base_lr) const override;
    double gamma_;
};

/// lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2 (SGDR without restarts;
/// past T_max the cosine goes on, as PyTorch's closed form does).
class CosineAnnealingLR final : public LRScheduler {
public:
    /// Anneals from the base lr to `eta_min` over `T_max` (>= 1) epochs; sets the epoch-0 lr. Throws Error for a bad
    /// setting.
    CosineAnnealingLR(OptimizerBase& optimizer, long T_max, double eta_min = 0);

private:
    double lr_at(long epoch, double base_lr) const override;
    long t_max_;
    double eta_min_;
};

/// Whether ReduceLROnPlateau's metric should go down (a loss) or up (an accuracy).
enum class PlateauMode { Min, Max };
/// How ReduceLROnPlateau's threshold counts: relative to the best value, or absolute.
enum class ThresholdMode { Rel, Abs };

/// Options of ReduceLROnPlateau (PyTorch's defaults): ReduceLROnPlateauOptions().patience(2).factor(0.5).
struct ReduceLROnPlateauOptions {
    /// PlateauMode::Min (default: the metric is a loss) or Max (an accuracy).
    ReduceLROnPlateauOptions& mode(PlateauMode v) {
        mode_ = v;
        return *this;
    }
    /// new lr = lr * factor, in [0, 1).
    ReduceLROnPlateauOptions& factor(double v) {
        factor_ = v;
        return *this;
    }
    /// Epochs without improvement tolerated before the lr is reduced.
    ReduceLROnPlateauOptions& patience(long v) {
        patience_ = v;
        return *this;
    }
    /// How much better than the best a value must be to count as an improvement.
    ReduceLROnPlateauOptions& threshold(double v) {
        threshold_ = v;
        return *this;
    }
    /// ThresholdMode::Rel (default: best * (1 -+ threshold)) or Abs (best -+ threshold).
    ReduceLROnPlateauOptions& threshold_mode(ThresholdMode v) {
        threshold_mode_ = v;
        return *this;
    }
    /// Epochs to wait after a reduction before counting bad epochs again.
    ReduceLROnPlateauOptions& cooldown(long v) {
        cooldown_ = v;
        return *this;
    }
    /// Lower bound of every group's lr.
    ReduceLROnPlateauOptions& min_lr(double v) {
        min_lr_ = v;
        return *this;
    }
    /// Reductions smaller than this are skipped.
    ReduceLROnPlateauOptions& eps(double v) {
        eps_ = v;
        return *this;
    }

    /// The values set by the setters of the same names, or PyTorch's defaults: Min, 0.1, 10, 1e-4, Rel, 0, 0, 1e-8.
    ///@{
    PlateauMode mode() const { return mode_; }
    double factor() const { return factor_; }
    long patience() const { return patience_; }
    double threshold() const { return threshold_; }
    ThresholdMode threshold_mode() const { return threshold_mode_; }
    long cooldown() const { return cooldown_; }
    double min_lr() const { return min_lr_; }
    double eps() const { return eps_; }
    ///@}

private:
    PlateauMode mode_ = PlateauMode::Min;
    double factor_ = 0.1;
    long patience_ = 10;
    double threshold_ = 1e-4;
    ThresholdMode threshold_mode_ = ThresholdMode::Rel;
    long cooldown_ = 0;
    double min_lr_ = 0;
    double eps_ = 1e-8;
};

/// Multiplies every group's lr by `factor` once the metric given to step() has not improved
/// for more than `patience` epochs (PyTorch's ReduceLROnPlateau). Keeps a reference to the
/// optimizer, which must outlive it.
class ReduceLROnPlateau {
public:
    /// Watches `optimizer`, which must outlive it; throws Error for an option out of range.
    explicit ReduceLROnPlateau(OptimizerBase& optimizer,
                               const ReduceLROnPlateauOptions& options = ReduceLROnPlateauOptions());
    ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
    ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;

    /// Records one epoch's metric (e.g. the validation loss) and reduces the lr if due.
    void step(double metric);

    /// The best metric so far (+inf in Min mode, -inf in Max mode before the first step).
    double best() const noexcept { return best_; }
    /// Epochs since the last improvement (reset by a reduction).
    long num_bad_epochs() const noexcept { return num_bad_epochs_; }
    /// Calls of step() so far.
    long last_epoch() const noexcept { return last_epoch_; }
    /// The learning rates after the last step, one per group.
    std::vector<double> last_lr() const;

    /// Everything that decides the next reductions: "last_epoch", "num_bad_epochs",
    /// "cooldown_counter" (int64), "best" (float64; shape (0,) before the first step) and
    /// "last_lr" (float64, one per group). optim::save writes it.
    io::Arrays state_dict() const;
    /// Restores what state_dict() gave, for an optimizer with as many groups, and sets each
    /// group's lr to the stored one (exactly: load it after the optimizer's state). Throws Error
    /// (and changes nothing) for a missing, unexpected or impossible entry.
    void load_state_dict(const io::Arrays& state);

private:
    bool is_better(double a) const;

    OptimizerBase& optimizer_;
    ReduceLROnPlateauOptions options_;
    double best_;
    long num_bad_epochs_ = 0;
    long cooldown_counter_ = 0;
    long last_epoch_ = 0;
};

}  // namespace tapegrad::optim
