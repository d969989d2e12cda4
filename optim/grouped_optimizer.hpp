// GroupedOptimizer<T, Options>: parameter groups with their own options and per-parameter state slots.
#pragma once

#include <optional>
#include <vector>

#include <tapegrad/optim/optimizer.hpp>
#include <tapegrad/optim/state_values.hpp>

namespace tapegrad::optim {

/// The shared part of SGD, Adam, AdamW, RMSprop and Adagrad: each group of parameters has its
/// own options, and each parameter its own state (momentum buffers, moments, a step count),
/// kept in named slots and created at the parameter's first update.
template <class T, class Options>
class GroupedOptimizer : public Optimizer<T> {
public:
    using options_type = Options;

    /// Adds parameters trained with their own options (checked as at construction).
    void add_param_group(std::vector<Variable<T>> params, const Options& options);

    const Options& options(std::size_t group = 0) const { return options_[this->checked_group(group)]; }
    /// Replaces the options of a group (checked); they apply from the next step on.
    void set_options(std::size_t group, const Options& options);

    double lr(std::size_t group = 0) const override { return options(group).lr(); }
    using OptimizerBase::set_lr;
    void set_lr(std::size_t group, double lr) override;

    /// "state.<i>.<slot>" for each state slot of parameter i (numbered over all groups) that
    /// exists, then "param_groups.<g>.lr" for each group.
    StateDict<T> state_dict() const override;
    void load_state_dict(const StateDict<T>& state) override;

protected:
    /// A named piece of per-parameter state: 0-d if `scalar` (a step count), else of the
    /// parameter's shape; `values` says what load_state_dict accepts in it.
    struct Slot {
        const char* name;
        bool scalar;
        StateValues values = StateValues::finite;
    };

    explicit GroupedOptimizer(std::vector<Slot> slots) : slots_(std::move(slots)) {}

    /// Throws if the options are out of range.
    virtual void check(const Options& options) const = 0;
    /// Throws, before update() changes anything, if a parameter's value or gradient no longer
    /// has the shape of its state (its value was replaced by one of another shape after a step).
    void check_shapes() const;

    /// The state of parameter `k` in slot `s`; created (filled with `init`) if missing.
    Tensor<T>& slot(std::size_t k, std::size_t s, const Variable<T>& p, T init = T(0));
    /// True if parameter `k` has state in slot `s`.
    bool has_slot(std::size_t k, std::size_t s) const { return state_[k][s].has_value(); }
    /// Sets slot `s` of parameter `k` to `value`.
    void set_slot(std::size_t k, std::size_t s, Tensor<T> value) { state_[k][s] = std::move(value); }

    std::vector<Options> options_;

private:
    std::vector<Slot> slots_;
    std::vector<std::vector<std::optional<Tensor<T>>>> state_;  // [parameter][slot]
};

}  // namespace tapegrad::optim
