// The per-thread block cache behind CachingAllocator.
#include <tapegrad/autograd/allocator.hpp>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>

#if defined(__SANITIZE_ADDRESS__)
#define TAPEGRAD_NO_BLOCK_CACHE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TAPEGRAD_NO_BLOCK_CACHE 1
#endif
#endif

namespace tapegrad {
namespace {

constexpr std::size_t alignment = detail::block_alignment;
constexpr int class_count = detail::block_class_count;
constexpr std::size_t cache_limit_bytes = std::size_t(512) << 20;

// Nothing larger can exist (pointer differences must fit in ptrdiff_t), and rounding it up to
// the alignment cannot wrap.
constexpr std::size_t max_bytes = std::size_t(PTRDIFF_MAX) - alignment;

void* system_allocate(std::size_t bytes) {
    const std::size_t asked = bytes;
    if (bytes > max_bytes) throw AllocationFailure(asked);
    // aligned_alloc wants a multiple of the alignment (size classes step by 16 below 256 bytes).
    bytes = (bytes + alignment - 1) / alignment * alignment;
    void* p = std::aligned_alloc(alignment, bytes);
    if (!p) throw AllocationFailure(asked);
    return p;
}

// Each size class keeps its free blocks in a singly linked list threaded through the blocks themselves
// (every block is at least 64 bytes): giving a block back or taking one is two loads and two stores,
// with no bookkeeping vector to grow, and so nothing that can fail on the way back.
struct BlockCache {
    std::array<void*, class_count> free_blocks{};  // head of each class's list, null when empty
    std::size_t cached_bytes = 0;

    static void*& next_of(void* block) noexcept { return *static_cast<void**>(block); }

    // A free block of class `cls` (`rounded` bytes), or null when its list is empty.
    void* take(int cls, std::size_t rounded) noexcept {
        void*& head = free_blocks[std::size_t(cls)];
        void* p = head;
        if (p) {
            head = next_of(p);
            cached_bytes -= rounded;
        }
        return p;
    }
    // Keeps block p of class `cls` for reuse if the cache has room; false when it has not.
    bool give(void* p, int cls, std::size_t rounded) noexcept {
        if (cached_bytes + rounded > cache_limit_bytes) return false;
        void*& head = free_blocks[std::size_t(cls)];
        next_of(p) = head;
        head = p;
        cached_bytes += rounded;
        return true;
    }

    void clear() noexcept {
        for (void*& head : free_blocks) {
            while (head) {
                void* p = head;
                head = next_of(p);
                std::free(p);
            }
        }
        cached_bytes = 0;
    }
    ~BlockCache();
};

// Set once the thread's cache is gone, so that tensors freed later during thread exit
// go straight back to the system.
thread_local bool cache_destroyed = false;
thread_local BlockCache cache;
// The thread's cache once it exists, null before and after. A plain pointer: reading it needs no
// check that the thread_local object above is constructed (which every access to `cache` makes, on
// the path of every tensor's allocation).
thread_local BlockCache* current = nullptr;

BlockCache::~BlockCache() {
    clear();
    cache_destroyed = true;
    current = nullptr;
}

// The calling thread's cache, constructed on first use; null once it is gone (thread exit).
[[maybe_unused]] __attribute__((noinline)) BlockCache* first_use() noexcept {
    if (cache_destroyed) return nullptr;
    current = &cache;
    return current;
}
[[maybe_unused]] inline BlockCache* thread_cache() noexcept {
    BlockCache* c = current;
    return c ? c : first_use();
}

// The paths that fall through the free lists: kept out of line, so that the fast paths below
// them need no stack frame (a tiny op allocates and frees about eight blocks).
__attribute__((noinline)) void* allocate_slow(std::size_t bytes) {
#ifdef TAPEGRAD_NO_BLOCK_CACHE
    // Under AddressSanitizer: exactly the bytes asked for (no size class, no rounding), so
    // that a read or write one element past the end of a tensor is reported.
    void* p = nullptr;
    if (bytes > max_bytes || posix_memalign(&p, alignment, bytes ? bytes : 1) != 0) throw AllocationFailure(bytes);
    return p;
#endif
    const detail::BlockClass k = detail::block_class(bytes);
#ifndef TAPEGRAD_NO_BLOCK_CACHE
    if (k.cls >= 0) {
        if (BlockCache* c = thread_cache())  // the first block of this thread makes its cache
            if (void* p = c->take(k.cls, k.rounded)) return p;
    }
#endif
    return system_allocate(k.rounded);
}

__attribute__((noinline)) void deallocate_slow(void* p, std::size_t bytes) noexcept {
#ifndef TAPEGRAD_NO_BLOCK_CACHE
    const detail::BlockClass k = detail::block_class(bytes);
    BlockCache* c = k.cls >= 0 ? thread_cache() : nullptr;
    if (c && c->give(p, k.cls, k.rounded)) return;
#else
    (void)bytes;
#endif
    std::free(p);
}

}  // namespace

namespace detail {

void* cached_allocate(std::size_t bytes) {
    const BlockClass c = block_class(bytes);
    return cached_allocate(c.cls, c.rounded, bytes);
}

void* cached_allocate(int cls, std::size_t rounded, std::size_t bytes) {
#ifndef TAPEGRAD_NO_BLOCK_CACHE
    // The thread's cache exists and the block's class has a free block: take it.
    BlockCache* c = current;
    if (cls >= 0 && c)
        if (void* p = c->take(cls, rounded)) return p;
#else
    (void)cls;
    (void)rounded;
#endif
    return allocate_slow(bytes);
}

void cached_deallocate(void* p, std::size_t bytes) noexcept {
    const BlockClass c = block_class(bytes);
    cached_deallocate(p, c.cls, c.rounded, bytes);
}

void cached_deallocate(void* p, int cls, std::size_t rounded, std::size_t bytes) noexcept {
    if (!p) return;
#ifndef TAPEGRAD_NO_BLOCK_CACHE
    BlockCache* c = current;
    if (cls >= 0 && c && c->give(p, cls, rounded)) return;
#else
    (void)cls;
    (void)rounded;
#endif
    deallocate_slow(p, bytes);
}

void throw_allocation_error(const char* op, const std::bad_alloc& e) {
    if (const auto* f = dynamic_cast<const AllocationFailure*>(&e)) {
        if (f->bytes() == std::size_t(-1))
            throw Error(fmt::format("{}: cannot allocate more than 2^64 bytes: out of memory", op));
        throw Error(fmt::format("{}: cannot allocate {} bytes ({:.3g} GiB): out of memory", op, f->bytes(),
                                double(f->bytes()) / double(1ull << 30)));
    }
    throw Error(fmt::format("{}: out of memory ({})", op, e.what()));
}

}  // namespace detail

AllocationFailure::AllocationFailure(std::size_t bytes) noexcept : bytes_(bytes) {
    std::snprintf(message_, sizeof message_, "tapegrad: cannot allocate %zu bytes", bytes);
}

void release_cached_memory() noexcept {
    if (!cache_destroyed) cache.clear();
}

std::size_t cached_memory_bytes() noexcept { return cache_destroyed ? 0 : cache.cached_bytes; }

}  // namespace tapegrad
