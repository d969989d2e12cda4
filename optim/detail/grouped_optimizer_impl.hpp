// GroupedOptimizer<T, Options> definitions; included only by the .cpp files that instantiate it.
#pragma once

#include <charconv>
#include <cmath>
#include <cstring>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include <tapegrad/optim/check.hpp>
#include <tapegrad/optim/grouped_optimizer.hpp>
#include <tapegrad/optim/detail/state_check.hpp>

namespace tapegrad::optim {

template <class T, class Options>
void GroupedOptimizer<T, Options>::add_param_group(std::vector<Variable<T>> params, const Options& options) {
    check(options);
    this->add_params(std::move(params));
    options_.push_back(options);
    state_.resize(this->num_params(), std::vector<std::optional<Tensor<T>>>(slots_.size()));
}

template <class T, class Options>
void GroupedOptimizer<T, Options>::set_options(std::size_t group, const Options& options) {
    this->checked_group(group);
    check(options);
    options_[group] = options;
}

template <class T, class Options>
void GroupedOptimizer<T, Options>::set_lr(std::size_t group, double lr) {
    this->checked_group(group);
    detail::check_nonnegative(this->name(), "lr", lr);
    options_[group].lr(lr);
}

template <class T, class Options>
Tensor<T>& GroupedOptimizer<T, Options>::slot(std::size_t k, std::size_t s, const Variable<T>& p, T init) {
    std::optional<Tensor<T>>& t = state_[k][s];
    if (!t) {
        t = slots_[s].scalar ? Tensor<T>::from_shape({}) : Tensor<T>::from_shape(p.shape());
        std::fill(t->begin(), t->end(), init);
    }
    return *t;
}

template <class T, class Options>
void GroupedOptimizer<T, Options>::check_shapes() const {
    std::size_t k = 0;
    for (const auto& group : this->groups_)
        for (const auto& p : group) {
            const std::size_t idx = k++;
            if (p.has_grad() && p.grad().shape() != p.shape())
                this->fail(fmt::format("step: parameter {} has shape {} but its gradient has shape {}", idx,
                                       shape_string(p.shape()), shape_string(p.grad().shape())));
            for (std::size_t s = 0; s < slots_.size(); ++s) {
                const auto& t = state_[idx][s];
                if (!t || slots_[s].scalar || t->shape() == p.shape()) continue;
                this->fail(
                    fmt::format("step: parameter {} now has shape {}, but its state '{}' has shape {} (its "
                                "value was replaced by one of another shape after a step); make a new "
                                "optimizer for it, or load_state_dict a state of the new shape",
                                idx, shape_string(p.shape()), slots_[s].name, shape_string(t->shape())));
            }
        }
}

template <class T, class Options>
StateDict<T> GroupedOptimizer<T, Options>::state_dict() const {
    StateDict<T> out;
    for (std::size_t k = 0; k < state_.size(); ++k)
        for (std::size_t s = 0; s < slots_.size(); ++s)
            if (state_[k][s]) out.emplace_back(fmt::format("state.{}.{}", k, slots_[s].name), *state_[k][s]);
    for (std::size_t g = 0; g < options_.size(); ++g) {
        Tensor<T> lr = Tensor<T>::from_shape({});
        lr() = T(options_[g].lr());
        out.emplace_back(fmt::format("param_groups.{}.lr", g), std::move(lr));
    }
    return out;
}

namespace detail {
/// Splits "a.12.b" into its three parts; false unless it has exactly that form with a decimal
/// index (no sign, no leading zeros).
inline bool split_entry(std::string_view name, std::string_view& head, std::size_t& index, std::string_view& tail) {
    const auto dot1 = name.find('.');
    if (dot1 == std::string_view::npos) return false;
    const auto dot2 = name.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos) return false;
    head = name.substr(0, dot1);
    const std::string_view digits = name.substr(dot1 + 1, dot2 - dot1 - 1);
    tail = name.substr(dot2 + 1);
    if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) return false;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    return ec == std::errc() && end == digits.data() + digits.size();
}
}  // namespace detail

template <class T, class Options>
void GroupedOptimizer<T, Options>::load_state_dict(const StateDict<T>& state) {
    // Everything is checked into copies first, so a bad entry changes nothing.
    auto new_state = state_;
    for (auto& per_param : new_state)
        for (auto& s : per_param) s.reset();
    std::vector<double> lrs(options_.size());
    for (std::size_t g = 0; g < options_.size(); ++g) lrs[g] = options_[g].lr();

    std::vector<const Variable<T>*> params;
    for (const auto& group : this->groups_)
        for (const auto& p : group) params.push_back(&p);

    std::set<std::string_view> seen;
    for (const auto& [name, value] : state) {
        if (!seen.insert(name).second) this->fail(fmt::format("load_state_dict: entry '{}' appears twice", name));
        std::string_view head, tail;
        std::size_t index = 0;
        if (!detail::split_entry(name, head, index, tail))
            this->fail(
                fmt::format("load_state_dict: unexpected entry '{}' (expected 'state.<i>.<slot>' or "
                            "'param_groups.<g>.lr')",
                            name));
        if (head == "param_groups" && tail == "lr") {
            if (index >= options_.size())
                this->fail(fmt::format("load_state_dict: entry '{}' names group {}, but there {} {}", name, index,
                                       options_.size() == 1 ? "is" : "are", options_.size()));
            if (value.size() != 1)
                this->fail(fmt::format("load_state_dict: entry '{}' must hold one value, got shape {}", name,
                                       shape_string(value.shape())));
            const double lr = double(value.data()[0]);
            if (!(lr >= 0)) this->fail(fmt::format("load_state_dict: entry '{}' holds lr {}, must be >= 0", name, lr));
            if (!std::isfinite(lr))
                this->fail(fmt::format("load_state_dict: entry '{}' holds lr {}, must be finite", name, lr));
            // Stored as T: keep the current (double) lr when it rounds to the stored value.
            if (T(lrs[index]) != value.data()[0]) lrs[index] = lr;
            continue;
        }
        std::size_t s = slots_.size();
        for (std::size_t i = 0; i < slots_.size(); ++i)
            if (tail == slots_[i].name) s = i;
        if (head != "state" || s == slots_.size()) {
            std::string known;
            for (const auto& sl : slots_) known += fmt::format("{}'{}'", known.empty() ? "" : ", ", sl.name);
            this->fail(fmt::format("load_state_dict: unexpected entry '{}' ({} keeps {} per parameter)", name,
                                   this->name(), known.empty() ? "no state" : known));
        }
        if (index >= params.size())
            this->fail(fmt::format("load_state_dict: entry '{}' names parameter {}, but there {} {}", name, index,
                                   params.size() == 1 ? "is" : "are", params.size()));
        const Shape expected = slots_[s].scalar ? Shape{} : params[index]->shape();
        if (value.shape() != expected)
            this->fail(fmt::format("load_state_dict: entry '{}' has shape {}, expected {}", name,
                                   shape_string(value.shape()), shape_string(expected)));
        const std::string bad = detail::bad_values(value, slots_[s].values);
        if (!bad.empty()) this->fail(fmt::format("load_state_dict: entry '{}' {}", name, bad));
        new_state[index][s] = value;
    }
    state_ = std::move(new_state);
    for (std::size_t g = 0; g < options_.size(); ++g) options_[g].lr(lrs[g]);
}

}  // namespace tapegrad::optim
