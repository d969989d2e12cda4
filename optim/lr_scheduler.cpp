// Learning-rate schedules: the closed forms, option checks, and ReduceLROnPlateau's bookkeeping.
#include <tapegrad/optim/lr_scheduler.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

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

namespace {

// The entries of a scheduler's state dict by name, each checked for its type and shape.
class Entries {
public:
    Entries(const io::Arrays& state, const char* who, std::vector<const char*> names) : who_(who) {
        for (const io::Array& a : state) {
            if (std::find_if(names.begin(), names.end(), [&](const char* n) { return a.name() == n; }) == names.end())
                fail(fmt::format("unexpected entry '{}'", a.name()));
            if (!by_name_.emplace(a.name(), &a).second) fail(fmt::format("entry '{}' appears twice", a.name()));
        }
        for (const char* n : names)
            if (!by_name_.count(n)) fail(fmt::format("entry '{}' is missing", n));
    }
    [[noreturn]] void fail(const std::string& what) const {
        throw Error(fmt::format("{}: load_state_dict: {}", who_, what));
    }
    /// A 0-d int64 entry, at least `least`.
    long count(const char* name, long least = 0) const {
        const io::Array& a = *by_name_.at(name);
        if (a.dtype() != io::Dtype::int64 || !a.shape().empty())
            fail(fmt::format("entry '{}' is {} of shape {}; expected one int64", name, io::dtype_name(a.dtype()),
                             shape_string(a.shape())));
        const std::int64_t v = *static_cast<const std::int64_t*>(a.data());
        if (v < least) fail(fmt::format("entry '{}' holds {}; expected at least {}", name, v, least));
        return long(v);
    }
    /// A float64 vector of n finite values >= 0.
    std::vector<double> values(const char* name, std::size_t n) const {
        const io::Array& a = *by_name_.at(name);
        if (a.dtype() != io::Dtype::float64 || a.shape().size() != 1 || a.size() != n)
            fail(fmt::format("entry '{}' is {} of shape {}; expected float64 of shape ({},)", name,
                             io::dtype_name(a.dtype()), shape_string(a.shape()), n));
        const auto* p = static_cast<const double*>(a.data());
        std::vector<double> out(p, p + a.size());
        for (double v : out)
            if (!(std::isfinite(v) && v >= 0))
                fail(fmt::format("entry '{}' holds {}; expected finite values >= 0", name, v));
        return out;
    }
    const io::Array& at(const char* name) const { return *by_name_.at(name); }

private:
    const char* who_;
    std::map<std::string, const io::Array*> by_name_;
};

io::Array int64_entry(const char* name, long v) {
    Tensor<std::int64_t> t = Tensor<std::int64_t>::from_shape({});
    t() = v;
    return io::Array(name, std::move(t));
}

io::Array float64_entry(const char* name, const std::vector<double>& v) {
    Tensor<double> t = Tensor<double>::from_shape({v.size()});
    std::copy(v.begin(), v.end(), t.begin());
    return io::Array(name, std::move(t));
}

}  // namespace

io::Arrays LRScheduler::state_dict() const {
    return {int64_entry("last_epoch", last_epoch_), float64_entry("base_lrs", base_lrs_)};
}

void LRScheduler::load_state_dict(const io::Arrays& state) {
    const Entries e(state, "LRScheduler", {"last_epoch", "base_lrs"});
    const long epoch = e.count("last_epoch");
    std::vector<double> base = e.values("base_lrs", base_lrs_.size());
    // The optimizer may refuse an lr (LBFGS takes none of 0): then nothing is changed.
    const std::vector<double> old_base = base_lrs_, old_last = last_lr_;
    const long old_epoch = last_epoch_;
    base_lrs_ = std::move(base);
    try {
        set_epoch(epoch);
    } catch (...) {
        base_lrs_ = old_base;
        set_epoch(old_epoch);
        last_lr_ = old_last;
        throw;
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

io::Arrays ReduceLROnPlateau::state_dict() const {
    // Before the first step best is +-infinity, which a checkpoint would refuse: store none.
    const std::vector<double> best = std::isfinite(best_) ? std::vector<double>{best_} : std::vector<double>{};
    return {int64_entry("last_epoch", last_epoch_), int64_entry("num_bad_epochs", num_bad_epochs_),
            int64_entry("cooldown_counter", cooldown_counter_), float64_entry("best", best),
            float64_entry("last_lr", last_lr())};
}

void ReduceLROnPlateau::load_state_dict(const io::Arrays& state) {
    const Entries e(state, "ReduceLROnPlateau",
                    {"last_epoch", "num_bad_epochs", "cooldown_counter", "best", "last_lr"});
    const long epoch = e.count("last_epoch"), bad = e.count("num_bad_epochs"), cooldown = e.count("cooldown_counter");
    if (bad > options_.patience())
        e.fail(fmt::format("entry 'num_bad_epochs' holds {}; expected at most patience {}", bad, options_.patience()));
    if (cooldown > options_.cooldown())
        e.fail(fmt::format("entry 'cooldown_counter' holds {}; expected at most cooldown {}", cooldown,
                           options_.cooldown()));
    const io::Array& b = e.at("best");
    if (b.dtype() != io::Dtype::float64 || b.shape().size() != 1 || b.size() > 1)
        e.fail(fmt::format("entry 'best' is {} of shape {}; expected float64 of shape (1,) or (0,)",
                           io::dtype_name(b.dtype()), shape_string(b.shape())));
    double best = options_.mode() == PlateauMode::Min ? std::numeric_limits<double>::infinity()
                                                      : -std::numeric_limits<double>::infinity();
    if (b.size() == 1) {
        best = *static_cast<const double*>(b.data());
        if (!std::isfinite(best)) e.fail(fmt::format("entry 'best' holds {}; expected a finite value", best));
    }
    const std::vector<double> lrs = e.values("last_lr", optimizer_.num_param_groups());
    const std::vector<double> old = last_lr();
    try {
        for (std::size_t g = 0; g < lrs.size(); ++g) optimizer_.set_lr(g, lrs[g]);
    } catch (...) {
        for (std::size_t g = 0; g < old.size(); ++g) optimizer_.set_lr(g, old[g]);
        throw;
    }
    last_epoch_ = epoch;
    num_bad_epochs_ = bad;
    cooldown_counter_ = cooldown;
    best_ = best;
}

std::vector<double> ReduceLROnPlateau::last_lr() const {
    std::vector<double> lrs;
    for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g) lrs.push_back(optimizer_.lr(g));
    return lrs;
}

}  // namespace tapegrad::optim
