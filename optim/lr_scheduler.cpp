// Learning-rate schedules: the closed forms, option checks, and ReduceLROnPlateau's bookkeeping.
#include <tapegrad/optim/lr_scheduler.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/optim/check.hpp>

namespace tapegrad::optim {

LRScheduler::LRScheduler(OptimizerBase& optimizer) : optimizer_(optimizer) {
    for (std::size_t g = 0; g < optimizer.num_param_groups(); ++g) base_lrs_.push_back(optimizer.lr(g));
    last_lr_ = base_lrs_;
}

void LRScheduler::step() { set_epoch(last_epoch_ + 1); }

void LRScheduler::set_epoch(long epoch) {
    if (epoch < 0) throw Error(fmt::format("LRScheduler: epoch must be >= 0, got {}", epoch));
    last_epoch_ = epoch;
    for (std::size_t g = 0; g < base_lrs_.size(); ++g) {
        last_lr_[g] = lr_at(epoch, base_lrs_[g]);
        optimizer_.set_lr(g, last_lr_[g]);
    }
}

StepLR::StepLR(OptimizerBase& optimizer, long step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
    detail::check_at_least("StepLR", "step_size", step_size, 1);
    detail::check_positive("StepLR", "gamma", gamma);
    start();
}

double StepLR::lr_at(long epoch, double base_lr) const {
    return base_lr * std::pow(gamma_, double(epoch / step_size_));
}

MultiStepLR::MultiStepLR(OptimizerBase& optimizer, std::vector<long> milestones, double gamma)
    : LRScheduler(optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
    for (std::size_t i = 0; i < milestones_.size(); ++i) {
        if (milestones_[i] < 0)
            throw Error(fmt::format("MultiStepLR: milestones must be >= 0, got {} at index {}", milestones_[i], i));
        if (i > 0 && milestones_[i] <= milestones_[i - 1])
            throw Error(fmt::format("MultiStepLR: milestones must be strictly increasing, got {} after {}",
                                    milestones_[i], milestones_[i - 1]));
    }
    detail::check_positive("MultiStepLR", "gamma", gamma);
    start();
}

double MultiStepLR::lr_at(long epoch, double base_lr) const {
    const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin();
    return base_lr * std::pow(gamma_, double(passed));
}

ExponentialLR::ExponentialLR(OptimizerBase& optimizer, double gamma) : LRScheduler(optimizer), gamma_(gamma) {
    detail::check_positive("ExponentialLR", "gamma", gamma);
    start();
}

double ExponentialLR::lr_at(long epoch, double base_lr) const { return base_lr * std::pow(gamma_, double(epoch)); }

CosineAnnealingLR::CosineAnnealingLR(OptimizerBase& optimizer, long T_max, double eta_min)
    : LRScheduler(optimizer), t_max_(T_max), eta_min_(eta_min) {
    detail::check_at_least("CosineAnnealingLR", "T_max", T_max, 1);
    detail::check_nonnegative("CosineAnnealingLR", "eta_min", eta_min);
    start();
}

double CosineAnnealingLR::lr_at(long epoch, double base_lr) const {
    const double pi = 3.141592653589793238462643383279502884;
    return eta_min_ + (base_lr - eta_min_) * (1 + std::cos(pi * double(epoch) / double(t_max_))) / 2;
}

ReduceLROnPlateau::ReduceLROnPlateau(OptimizerBase& optimizer, const ReduceLROnPlateauOptions& options)
    : optimizer_(optimizer), options_(options) {
    const char* who = "ReduceLROnPlateau";
    detail::check_unit_interval(who, "factor", options.factor());
    detail::check_at_least(who, "patience", options.patience(), 0);
    detail::check_nonnegative(who, "threshold", options.threshold());
    detail::check_at_least(who, "cooldown", options.cooldown(), 0);
    detail::check_nonnegative(who, "min_lr", options.min_lr());
    detail::check_nonnegative(who, "eps", options.eps());
    best_ = options.mode() == PlateauMode::Min ? std::numeric_limits<double>::infinity()
                                               : -std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::is_better(double a) const {
    const double th = options_.threshold();
    const bool rel = options_.threshold_mode() == ThresholdMode::Rel;
    if (options_.mode() == PlateauMode::Min) return rel ? a < best_ * (1 - th) : a < best_ - th;
    return rel ? a > best_ * (th + 1) : a > best_ + th;
}

void ReduceLROnPlateau::step(double metric) {
    ++last_epoch_;
    if (is_better(metric)) {
        best_ = metric;
        num_bad_epochs_ = 0;
    } else {
        ++num_bad_epochs_;
    }
    if (cooldown_counter_ > 0) {  // in cooldown: bad epochs do not count
        --cooldown_counter_;
        num_bad_epochs_ = 0;
    }
    if (num_bad_epochs_ > options_.patience()) {
        for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g) {
            const double old_lr = optimizer_.lr(g);
            const double new_lr = std::max(old_lr * options_.factor(), options_.min_lr());
            if (old_lr - new_lr > options_.eps()) optimizer_.set_lr(g, new_lr);
        }
        cooldown_counter_ = options_.cooldown();
        num_bad_epochs_ = 0;
    }
}

std::vector<double> ReduceLROnPlateau::last_lr() const {
    std::vector<double> lrs;
    for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g) lrs.push_back(optimizer_.lr(g));
    return lrs;
}

}  // namespace tapegrad::optim
