// The graph as one backward pass sees it: the nodes it reaches, numbered, and the order of the sweep.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include <tapegrad/autograd/engine/node_index.hpp>
#include <tapegrad/autograd/variable.hpp>

namespace tapegrad::detail {

/// A growable array of ids. Unlike std::vector it appends a run of entries without an
/// out-of-line call: the ordering appends one entry per op node and one per input.
class IdArray {
public:
    /// Appends `value`.
    void push_back(std::uint32_t value) { *append(1) = value; }
    /// Appends `n` entries left for the caller to set (no fill: a call to memset costs more than
    /// the one or two ids of a small op); returns the first.
    std::uint32_t* append(std::size_t n) {
        if (size_ + n > capacity_) grow(size_ + n);
        std::uint32_t* p = data_.get() + size_;
        size_ += n;
        return p;
    }
    /// Room for `n` entries without growing.
    void reserve(std::size_t n) {
        if (n > capacity_) grow(n);
    }
    /// Entry i (i < size()).
    std::uint32_t& operator[](std::size_t i) { return data_[i]; }
    /// Entry i (i < size()).
    std::uint32_t operator[](std::size_t i) const { return data_[i]; }
    /// The entries.
    const std::uint32_t* data() const { return data_.get(); }
    /// How many entries there are.
    std::size_t size() const { return size_; }

private:
    void grow(std::size_t n) {
        const std::size_t capacity = n > 2 * capacity_ ? n : 2 * capacity_;
        std::unique_ptr<std::uint32_t[]> bigger(new std::uint32_t[capacity]);
        if (size_) std::memcpy(bigger.get(), data_.get(), size_ * sizeof(std::uint32_t));
        data_ = std::move(bigger);
        capacity_ = capacity;
    }
    std::unique_ptr<std::uint32_t[]> data_;
    std::size_t size_ = 0, capacity_ = 0;
};

/// Kept apart from the nodes, so that passes on several threads can go through one graph.
/// Nodes get ids in the order the pass finds them: every op node reachable through Variables
/// that require grad, and the leaves among their inputs that require grad.
template <class T>
struct GraphOrder {
    std::vector<Node<T>*> nodes;              // by id
    std::vector<std::uint32_t> order;         // the op nodes' ids, every consumer before its inputs
    std::vector<std::uint32_t> leaves;        // the leaves' ids
    std::vector<const Variable<T>*> handles;  // by id, when asked for: the handle a node was found through
    IdArray first_input;                      // by id: where an op node's entries in input_ids start
    IdArray input_ids;                        // one per input of each op node: its id, none if it needs no grad
    NodeIndex index;

    /// The id of `n`, or NodeIndex::none when the pass does not reach it.
    std::uint32_t id_of(const Node<T>* n) const { return index.find(n, nodes); }
    /// The ids of op node `id`'s inputs in order (none for an input that does not require grad):
    /// found while ordering, so that the sweep never looks a node up by its address.
    const std::uint32_t* input_ids_of(std::uint32_t id) const { return input_ids.data() + first_input[id]; }
};

/// Orders the graph behind `roots` (each requires grad) depth first with an explicit stack, so
/// a chain of a million ops needs no recursion. `keep_handles`: fill `handles` (the sweep under
/// create_graph hands each op its output as a Variable). Throws when it reaches an op whose
/// graph an earlier backward released.
template <class T>
GraphOrder<T> order_graph(const std::vector<const Variable<T>*>& roots, bool keep_handles);

}  // namespace tapegrad::detail
