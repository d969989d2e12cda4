// NodeRef: the owning handle to a node (what a Variable holds), and WeakNodeRef, one that only watches.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include <tapegrad/autograd/allocator.hpp>

namespace tapegrad {

template <class N>
class NodeRef;
template <class N>
class WeakNodeRef;

/// The part of a node every handle uses, whatever the node's element type: its type is known only through the
/// virtual destructor, so that one worklist can release float and double nodes alike.
class NodeBase {
public:
    NodeBase() noexcept = default;
    NodeBase(const NodeBase&) = delete;
    NodeBase& operator=(const NodeBase&) = delete;
    virtual ~NodeBase() = default;

protected:
    /// Destroys the node and gives its block back (only the final node classes know their size).
    virtual void delete_self() noexcept = 0;

    template <class N>
    friend class NodeRef;
    template <class N>
    friend class WeakNodeRef;
    friend struct NodeAccess;
};

namespace detail {

/// The counts of a node's handles, kept in front of the node in its block: the counts outlive the node while a
/// WeakNodeRef still watches it. The count of owners is in the block with the node, not in a separate control
/// block: a handle is one pointer, and making or dropping a node one allocation and no indirect calls but the
/// destructor (std::shared_ptr cost ~140 instructions per op of a 1-element chain; performance.md).
struct NodeCounts {
    std::atomic<std::size_t> owners{1};
    std::atomic<std::uint32_t> watchers{1};  // the watchers, plus one while any owner is left
    std::uint32_t bytes = 0;                 // the whole block
};
inline constexpr std::size_t node_header_bytes = 16;
static_assert(sizeof(NodeCounts) <= node_header_bytes, "NodeCounts fits in front of the node");

inline NodeCounts& counts_of(const NodeBase* n) noexcept {
    return *std::launder(
        reinterpret_cast<NodeCounts*>(const_cast<char*>(reinterpret_cast<const char*>(n)) - node_header_bytes));
}

/// The block of a node of type N, from the caching allocator (its size class worked out at compile time).
template <class N>
void* allocate_node_block() {
    constexpr std::size_t bytes = node_header_bytes + sizeof(N);
    constexpr BlockClass c = block_class(bytes);
    return cached_allocate(c.cls, c.rounded, bytes);
}
template <class N>
void free_node_block(void* block) noexcept {
    constexpr std::size_t bytes = node_header_bytes + sizeof(N);
    constexpr BlockClass c = block_class(bytes);
    cached_deallocate(block, c.cls, c.rounded, bytes);
}

/// What the final node classes' delete_self() does.
template <class N>
void delete_node(N* node) noexcept {
    void* block = &counts_of(node);
    node->~N();
    free_node_block<N>(block);
}

}  // namespace detail

/// Owning handle to a node, counted in the node's own block (intrusive). Copies count atomically, so handles to
/// one node may be copied and dropped on several threads, as with std::shared_ptr.
template <class N>
class NodeRef {
public:
    /// Empty handles, copies (one owner more), moves (the owner changes hands) and conversions from a handle to a
    /// derived node type.
    ///@{
    NodeRef() noexcept = default;
    NodeRef(std::nullptr_t) noexcept {}
    NodeRef(const NodeRef& other) noexcept : p_(other.p_) { retain(); }
    NodeRef(NodeRef&& other) noexcept : p_(other.p_) { other.p_ = nullptr; }
    template <class M, class = std::enable_if_t<std::is_convertible_v<M*, N*>>>
    NodeRef(const NodeRef<M>& other) noexcept : p_(other.get()) {
        retain();
    }
    template <class M, class = std::enable_if_t<std::is_convertible_v<M*, N*>>>
    NodeRef(NodeRef<M>&& other) noexcept : p_(other.p_) {
        other.p_ = nullptr;
    }
    NodeRef& operator=(const NodeRef& other) noexcept {
        NodeRef(other).swap(*this);
        return *this;
    }
    NodeRef& operator=(NodeRef&& other) noexcept {
        if (&other == this) return *this;
        N* old = p_;  // dropped last: it may own whatever holds `other`
        p_ = other.p_;
        other.p_ = nullptr;
        if (old) release(old);
        return *this;
    }
    ///@}
    /// Drops this owner: the last one destroys the node.
    ~NodeRef() {
        if (p_) release(p_);
    }

    /// A new node of type N made from `args`, owned by the handle returned.
    template <class... Args>
    static NodeRef make(Args&&... args) {
        static_assert(alignof(N) <= detail::node_header_bytes, "a node fits after its counts, aligned");
        void* block = detail::allocate_node_block<N>();
        auto* counts = ::new (block) detail::NodeCounts;
        counts->bytes = std::uint32_t(detail::node_header_bytes + sizeof(N));
        N* node;
        try {
            node = ::new (static_cast<char*>(block) + detail::node_header_bytes) N(std::forward<Args>(args)...);
        } catch (...) {
            detail::free_node_block<N>(block);
            throw;
        }
        NodeRef r;
        r.p_ = node;
        return r;
    }

    /// The node, as with a std::shared_ptr: get() (null when empty), ->, * and the test for one.
    ///@{
    N* get() const noexcept { return p_; }
    N* operator->() const noexcept { return p_; }
    N& operator*() const noexcept { return *p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    ///@}
    /// How many NodeRefs own the node (0 for an empty handle). Exact only while no other thread copies or drops one.
    long use_count() const noexcept {
        return p_ ? long(detail::counts_of(p_).owners.load(std::memory_order_relaxed)) : 0;
    }
    /// Leaves the handle empty (dropping its owner) or swaps two handles.
    ///@{
    void reset() noexcept {
        if (N* old = std::exchange(p_, nullptr)) release(old);
    }
    void swap(NodeRef& other) noexcept { std::swap(p_, other.p_); }
    ///@}
    /// True when both handles point to the same node (or both are empty).
    ///@{
    friend bool operator==(const NodeRef& a, const NodeRef& b) noexcept { return a.p_ == b.p_; }
    friend bool operator!=(const NodeRef& a, const NodeRef& b) noexcept { return a.p_ != b.p_; }
    ///@}

private:
    template <class M>
    friend class NodeRef;
    template <class M>
    friend class WeakNodeRef;

    void retain() const noexcept {
        if (p_) detail::counts_of(p_).owners.fetch_add(1, std::memory_order_relaxed);
    }
    // The usual case, inline: the one owner and nobody watching, so no other thread can reach the node and there is
    // nothing to count down (the owners are read first: while this handle is the only one, no watcher can appear).
    static void release(N* node) noexcept {
        NodeBase* n = node;
        const detail::NodeCounts& c = detail::counts_of(n);
        if (c.owners.load(std::memory_order_acquire) == 1 && c.watchers.load(std::memory_order_acquire) == 1)
            n->delete_self();
        else
            release_shared(n);
    }
    [[gnu::noinline]] static void release_shared(NodeBase* n) noexcept {
        detail::NodeCounts& c = detail::counts_of(n);
        if (c.owners.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        if (c.watchers.load(std::memory_order_acquire) == 1) {  // no watcher, and none can appear now
            n->delete_self();
            return;
        }
        n->~NodeBase();  // watchers keep the counts, and so the block, until the last of them goes
        if (c.watchers.fetch_sub(1, std::memory_order_acq_rel) == 1) free_counts(c);
    }
    static void free_counts(detail::NodeCounts& c) noexcept {
        const std::size_t bytes = c.bytes;
        c.~NodeCounts();
        detail::cached_deallocate(&c, bytes);
    }

    N* p_ = nullptr;
};

/// A handle that watches a node without owning it: expired() once its last NodeRef is gone (leak and release tests).
template <class N>
class WeakNodeRef {
public:
    /// An empty watcher, one watching `owner`'s node, and copies.
    ///@{
    WeakNodeRef() noexcept = default;
    template <class M, class = std::enable_if_t<std::is_convertible_v<M*, N*>>>
    WeakNodeRef(const NodeRef<M>& owner) noexcept : p_(owner.get()) {
        if (p_) detail::counts_of(p_).watchers.fetch_add(1, std::memory_order_relaxed);
    }
    WeakNodeRef(const WeakNodeRef& other) noexcept : p_(other.p_) {
        if (p_) detail::counts_of(p_).watchers.fetch_add(1, std::memory_order_relaxed);
    }
    WeakNodeRef& operator=(const WeakNodeRef& other) noexcept {
        WeakNodeRef copy(other);
        std::swap(p_, copy.p_);
        return *this;
    }
    ///@}
    /// The last watcher of a destroyed node gives its block back.
    ~WeakNodeRef() {
        if (!p_) return;
        detail::NodeCounts& c = detail::counts_of(p_);
        if (c.watchers.fetch_sub(1, std::memory_order_acq_rel) == 1) NodeRef<N>::free_counts(c);
    }

    /// True once no NodeRef owns the node (it is destroyed), or for an empty handle.
    bool expired() const noexcept { return !p_ || detail::counts_of(p_).owners.load(std::memory_order_acquire) == 0; }
    /// An owning handle to the node, or an empty one once it has expired.
    NodeRef<N> lock() const noexcept {
        NodeRef<N> r;
        if (!p_) return r;
        std::atomic<std::size_t>& owners = detail::counts_of(p_).owners;
        std::size_t n = owners.load(std::memory_order_relaxed);
        while (n != 0)
            if (owners.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel, std::memory_order_relaxed)) {
                r.p_ = p_;
                break;
            }
        return r;
    }

private:
    N* p_ = nullptr;
};

}  // namespace tapegrad
