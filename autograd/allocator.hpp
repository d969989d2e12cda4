// CachingAllocator: the allocator of every tensor's data, recycling freed blocks per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

namespace tapegrad {

/// An allocation that could not be satisfied: still a std::bad_alloc (what code that copes with
/// running out of memory catches), and it says how many bytes were asked for.
class AllocationFailure : public std::bad_alloc {
public:
    /// A failure to allocate `bytes` bytes.
    explicit AllocationFailure(std::size_t bytes) noexcept;
    /// "tapegrad: cannot allocate N bytes".
    const char* what() const noexcept override { return message_; }
    /// The bytes asked for.
    std::size_t bytes() const noexcept { return bytes_; }

private:
    std::size_t bytes_;
    char message_[96];
};

/// f(); a std::bad_alloc inside becomes a tapegrad::Error naming `op` and, where known, the bytes.
template <class F>
auto naming_allocation_failures(const char* op, F&& f) -> decltype(f());

namespace detail {
[[noreturn]] void throw_allocation_error(const char* op, const std::bad_alloc& e);

// Blocks are 64-byte aligned (one cache line, one AVX-512 register) and come from
// per-thread free lists by size class; large blocks are cached up to a bound.
inline constexpr std::size_t block_alignment = 64;
inline constexpr int block_max_power = 31;  // blocks above 2 GiB are not cached
// Four size classes per power of two keep the waste of rounding under 25%.
inline constexpr int block_class_count = 1 + (block_max_power - 6) * 4;

/// A request's size class and the bytes it is rounded up to. Class -1 means "too big to cache" (and
/// beyond PTRDIFF_MAX minus the alignment, "left as it is", for the system allocation to refuse:
/// rounding it would wrap to a small size).
struct BlockClass {
    int cls;
    std::size_t rounded;
};
constexpr BlockClass block_class(std::size_t bytes) noexcept {
    if (bytes <= 64) return {0, 64};
    const std::size_t m = bytes - 1;
    const int p = 63 - __builtin_clzll(m);
    if (p >= block_max_power)
        return {-1, bytes > std::size_t(PTRDIFF_MAX) - block_alignment
                        ? bytes
                        : (bytes + block_alignment - 1) / block_alignment * block_alignment};
    // m / 2^(p-2) + 1 is 5..8: the quarter of the power of two the request rounds up to.
    const std::size_t steps = (m >> (p - 2)) + 1;
    return {1 + (p - 6) * 4 + int(steps - 5), steps << (p - 2)};
}

inline constexpr std::size_t cache_limit_bytes = std::size_t(512) << 20;

// The calling thread's free lists, one singly linked list per size class threaded through the free
// blocks themselves (every block is at least 64 bytes). Taking or giving back a block is two loads and
// two stores, inlined into every tensor's allocation; the rest of the cache lives in allocator.cpp.
struct FreeLists {
    void* heads[block_class_count];  // null when a class has no free block
    std::size_t cached_bytes;

    // A free block of class `cls` (`rounded` bytes), or null when its list is empty.
    void* take(int cls, std::size_t rounded) noexcept {
        void*& head = heads[cls];
        void* p = head;
        if (p) {
            head = *static_cast<void**>(p);
            cached_bytes -= rounded;
        }
        return p;
    }
    // Keeps block p of class `cls` for reuse if the cache has room; false when it has not.
    bool give(void* p, int cls, std::size_t rounded) noexcept {
        if (cached_bytes + rounded > cache_limit_bytes) return false;
        void*& head = heads[cls];
        *static_cast<void**>(p) = head;
        head = p;
        cached_bytes += rounded;
        return true;
    }
};
// Null before the thread's first allocation, after its cache is gone (thread exit), and always
// under AddressSanitizer (every block then goes to the system, exactly as large as asked).
extern __thread FreeLists* thread_free_lists;

// What falls through the free lists (first use, empty class, too big, cache full): out of line, so
// that the paths below need no stack frame.
[[gnu::noinline]] void* allocate_slow(std::size_t bytes);
[[gnu::noinline]] void deallocate_slow(void* p, std::size_t bytes) noexcept;

// `bytes` of class `cls` (rounded up to `rounded`): worked out at compile time for one object of a
// known type (a node), at run time for a tensor's data.
inline void* cached_allocate(int cls, std::size_t rounded, std::size_t bytes) {
    FreeLists* lists = thread_free_lists;
    if (cls >= 0 && lists)
        if (void* p = lists->take(cls, rounded)) return p;
    return allocate_slow(bytes);
}
inline void cached_deallocate(void* p, int cls, std::size_t rounded, std::size_t bytes) noexcept {
    if (!p) return;
    FreeLists* lists = thread_free_lists;
    if (cls >= 0 && lists && lists->give(p, cls, rounded)) return;
    deallocate_slow(p, bytes);
}
inline void* cached_allocate(std::size_t bytes) {
    const BlockClass c = block_class(bytes);
    return cached_allocate(c.cls, c.rounded, bytes);
}
inline void cached_deallocate(void* p, std::size_t bytes) noexcept {
    const BlockClass c = block_class(bytes);
    cached_deallocate(p, c.cls, c.rounded, bytes);
}
}  // namespace detail

/// Frees every cached block of the calling thread back to the system.
void release_cached_memory() noexcept;

/// Bytes currently held in the calling thread's cache (not in use by any tensor).
std::size_t cached_memory_bytes() noexcept;

namespace memory {
/// Standard allocator interface over the per-thread cache. glibc's memalign is slow for
/// the many small tensors of a teaching-sized graph; recycling blocks is what makes
/// per-op overhead small. (Its own namespace: Tensor<T> names it as a template argument,
/// and argument-dependent lookup must not drag tapegrad's sum/mean/exp... into xtensor's
/// internal calls.)
template <class T>
struct CachingAllocator {
    /// The standard allocator types: stateless, every instance equal.
    ///@{
    using value_type = T;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    using propagate_on_container_move_assignment = std::true_type;
    using is_always_equal = std::true_type;
    ///@}
    /// The same allocator for U (what standard containers ask for).
    template <class U>
    struct rebind {
        /// `CachingAllocator<U>`.
        using other = CachingAllocator<U>;
    };

    CachingAllocator() noexcept = default;
    /// Converts from the allocator of another type (it has no state).
    template <class U>
    CachingAllocator(const CachingAllocator<U>&) noexcept {}

    /// Room for n T's, 64-byte aligned; throws AllocationFailure (a std::bad_alloc).
    T* allocate(std::size_t n) {
        if (__builtin_constant_p(n) && n == 1) {  // std::allocate_shared's one node
            constexpr detail::BlockClass c = detail::block_class(sizeof(T));
            return static_cast<T*>(detail::cached_allocate(c.cls, c.rounded, sizeof(T)));
        }
        if (n > std::size_t(-1) / sizeof(T)) throw AllocationFailure(std::size_t(-1));  // more than 2^64 bytes
        return static_cast<T*>(detail::cached_allocate(n * sizeof(T)));
    }
    /// Returns p (from allocate(n)) to the calling thread's cache.
    void deallocate(T* p, std::size_t n) noexcept {
        if (__builtin_constant_p(n) && n == 1) {
            constexpr detail::BlockClass c = detail::block_class(sizeof(T));
            return detail::cached_deallocate(p, c.cls, c.rounded, sizeof(T));
        }
        detail::cached_deallocate(p, n * sizeof(T));
    }

    /// Always true: memory from one instance may be freed by any other.
    friend bool operator==(const CachingAllocator&, const CachingAllocator&) noexcept { return true; }
    /// Always false.
    friend bool operator!=(const CachingAllocator&, const CachingAllocator&) noexcept { return false; }
};
}  // namespace memory

template <class F>
auto naming_allocation_failures(const char* op, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const std::bad_alloc& e) {
        detail::throw_allocation_error(op, e);
    }
}

}  // namespace tapegrad
