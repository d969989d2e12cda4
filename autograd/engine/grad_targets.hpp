// grad()'s side of a pass: which reached nodes it was asked about, and which lead down to one of them.
#pragma once

#include <cstdint>
#include <vector>

#include <tapegrad/autograd/engine/order.hpp>

namespace tapegrad::detail {

/// For grad(outputs, inputs): the inputs ("targets") among the nodes a pass reaches, and the
/// nodes whose gradient is needed at all. A side table of the pass's own; the nodes are not
/// written to.
template <class T>
class GradTargets {
public:
    GradTargets(const GraphOrder<T>& graph, const std::vector<Variable<T>>& inputs);

    /// A gradient flowing into node `id` is needed: it is a target leaf, or an op node at or
    /// above a target.
    bool wanted(std::uint32_t id) const { return flags_[id] & wanted_flag; }
    /// The input number node `id` was asked for as (its first, if asked twice), or -1.
    int target_of(std::uint32_t id) const;

    /// How many inputs grad() was asked about.
    std::size_t count() const { return input_id_.size(); }
    /// The node input j stands for, or NodeIndex::none when the pass does not reach it or an
    /// earlier input is the same node.
    std::uint32_t id_of_input(std::size_t j) const { return input_id_[j]; }
    /// The earlier input that is the same node as input j, or -1.
    int same_as(std::size_t j) const { return same_as_[j]; }
    /// Input j is reached from the outputs (a gradient of zero is then a true zero).
    bool reachable(std::size_t j) const;

private:
    static constexpr std::uint8_t wanted_flag = 1, target_flag = 2;
    std::vector<std::uint8_t> flags_;      // by id
    std::vector<std::uint32_t> input_id_;  // by input number
    std::vector<int> same_as_;             // by input number
};

}  // namespace tapegrad::detail
