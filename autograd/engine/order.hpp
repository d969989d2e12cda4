// The graph as one backward pass sees it: the nodes it reaches, numbered, and the order of the sweep.
#pragma once

#include <cstdint>
#include <vector>

#include <tapegrad/autograd/engine/node_index.hpp>
#include <tapegrad/autograd/variable.hpp>

namespace tapegrad::detail {

/// Kept apart from the nodes, so that passes on several threads can go through one graph.
/// Nodes get ids in the order the pass finds them: every op node reachable through Variables
/// that require grad, and the leaves among their inputs that require grad.
template <class T>
struct GraphOrder {
    std::vector<Node<T>*> nodes;              // by id
    std::vector<std::uint32_t> order;         // the op nodes' ids, every consumer before its inputs
    std::vector<std::uint32_t> leaves;        // the leaves' ids
    std::vector<const Variable<T>*> handles;  // by id, when asked for: the handle a node was found through
    NodeIndex index;

    /// The id of `n`, or NodeIndex::none when the pass does not reach it.
    std::uint32_t id_of(const Node<T>* n) const { return index.find(n, nodes); }
};

/// Orders the graph behind `roots` (each requires grad) depth first with an explicit stack, so
/// a chain of a million ops needs no recursion. `keep_handles`: fill `handles` (the sweep under
/// create_graph hands each op its output as a Variable). Throws when it reaches an op whose
/// graph an earlier backward released.
template <class T>
GraphOrder<T> order_graph(const std::vector<const Variable<T>*>& roots, bool keep_handles);

}  // namespace tapegrad::detail
