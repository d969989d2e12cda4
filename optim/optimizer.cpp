// Optimizer<T>: checking parameters, zero_grad, and the default step(closure).
#include <tapegrad/optim/optimizer.hpp>

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/grad_mode.hpp>

namespace tapegrad::optim {

double OptimizerBase::step(const Closure& closure) {
    if (!closure) fail("step(closure) was given an empty closure");
    return run(closure);
}

double OptimizerBase::run(const Closure& closure) {
    double loss;
    {
        GradModeGuard recording(true);
        loss = closure();
    }
    update();
    return loss;
}

void OptimizerBase::set_lr(double lr) {
    for (std::size_t g = 0; g < num_param_groups(); ++g) set_lr(g, lr);
}

void OptimizerBase::fail(const std::string& what) const { throw Error(fmt::format("{}: {}", name(), what)); }

template <class T>
void Optimizer<T>::zero_grad(bool set_to_none) {
    for (auto& group : groups_)
        for (auto& p : group) {
            if (set_to_none)
                p.zero_grad();
            else if (p.has_grad())
                std::fill(p.mutable_grad().begin(), p.mutable_grad().end(), T(0));
        }
}

template <class T>
const std::vector<Variable<T>>& Optimizer<T>::params(std::size_t group) const {
    return groups_[checked_group(group)];
}

template <class T>
std::size_t Optimizer<T>::num_params() const noexcept {
    std::size_t n = 0;
    for (const auto& group : groups_) n += group.size();
    return n;
}

template <class T>
std::size_t Optimizer<T>::checked_group(std::size_t group) const {
    if (group >= groups_.size())
        fail(fmt::format("parameter group {} does not exist (there {} {})", group, groups_.size() == 1 ? "is" : "are",
                         groups_.size()));
    return group;
}

template <class T>
void Optimizer<T>::add_params(std::vector<Variable<T>> params) {
    const std::size_t first = num_params();
    if (params.empty())
        fail(groups_.empty() ? "got an empty parameter list"
                             : fmt::format("parameter group {} is empty", groups_.size()));
    std::unordered_map<const Node<T>*, std::size_t> seen;
    std::size_t index = 0;
    for (const auto& group : groups_)
        for (const auto& p : group) seen.emplace(p.node(), index++);
    for (std::size_t i = 0; i < params.size(); ++i) {
        const Variable<T>& p = params[i];
        const std::size_t k = first + i;
        if (!p.defined()) fail(fmt::format("parameter {} is an empty Variable", k));
        if (!p.is_leaf())
            fail(
                fmt::format("parameter {} of shape {} is the output of '{}', not a leaf; optimizers update "
                            "leaves (parameter(), or detach() and set_requires_grad(true))",
                            k, shape_string(p.shape()), p.op_name()));
        if (!p.requires_grad())
            fail(
                fmt::format("parameter {} of shape {} does not require grad (make it with parameter() or "
                            "call set_requires_grad(true))",
                            k, shape_string(p.shape())));
        auto [it, fresh] = seen.emplace(p.node(), k);
        if (!fresh)
            fail(
                fmt::format("parameter {} of shape {} is the same Variable as parameter {}; give each "
                            "parameter once",
                            k, shape_string(p.shape()), it->second));
    }
    groups_.push_back(std::move(params));
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace tapegrad::optim
