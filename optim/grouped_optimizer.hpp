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
    /// The options type of each group (SGDOptions, AdamOptions, ...).
    using options_type = Options;

    /// Adds parameters trained with their own options (checked as at construction).
    void add_param_group(std::vector<Variable<T>> params, const Options& options);

    /// The options of a group (throws tapegrad::Error past the last group).
    const Options& options(std::size_t group = 0) const { return options_[this->checked_group(group)]; }
    /// Replaces the options of a group (checked); they apply from the next step on.
    void set_options(std::size_t group, const Options& options);

    /// The learning rate of a group: `options(group).lr()`.
    double lr(std::size_t group = 0) const override { return options(group).lr(); }
    using OptimizerBase::set_lr;
    /// Sets the learning rate of one group (a scheduler's way in); throws for a bad group or lr.
    void set_lr(std::size_t group, double lr) override;

    /// "state.<i>.<slot>" for each state slot of parameter i (numbered over all groups) that
    /// exists, then "param_groups.<g>.lr" for each group.
    StateDict<T> state_dict() const override;
    /// Takes a state_dict() of the same optimizer over same-shaped parameters, all or nothing: throws naming the first
    /// bad entry and changes nothing then.
    void load_state_dict(const StateDict<T>& state) override;

protected:
    /// A named piece of per-parameter state: 0-d if `scalar` (a step count), else of the
    /// parameter's shape; `values` says what load_state_dict accepts in it.
    struct Slot {
        /// Its name in the state dict ("momentum_buffer", "exp_avg", "step").
        const char* name;
        /// True for a 0-d entry (a step count), false for one of the parameter's shape.
        bool scalar;
        /// What load_state_dict accepts in it (finite values by default).
        StateValues values = StateValues::finite;
    };

    /// The derived optimizer's state slots, in the order its update() numbers them.
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

    /// The options of each group, in add_param_group() order.
    std::vector<Options> options_;

private:
    std::vector<Slot> slots_;
    std::vector<std::vector<std::optional<Tensor<T>>>> state_;  // [parameter][slot]
};

}  // namespace tapegrad::optim
