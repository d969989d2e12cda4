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

// The thread's free lists (detail::FreeLists, whose fast paths are inline in the header) and what
// frees them at thread exit.
struct BlockCache {
    detail::FreeLists lists{};

    void clear() noexcept {
        for (void*& head : lists.heads) {
            while (head) {
                void* p = head;
                head = *static_cast<void**>(p);
                std::free(p);
            }
        }
        lists.cached_bytes = 0;
    }
    ~BlockCache();
};

// Set once the thread's cache is gone, so that tensors freed later during thread exit
// go straight back to the system.
thread_local bool cache_destroyed = false;
thread_local BlockCache cache;

BlockCache::~BlockCache() {
    clear();
    cache_destroyed = true;
    detail::thread_free_lists = nullptr;
}

// The calling thread's free lists, made on first use; null once they are gone (thread exit).
[[maybe_unused]] detail::FreeLists* thread_lists() noexcept {
    if (detail::thread_free_lists) return detail::thread_free_lists;
    if (cache_destroyed) return nullptr;
    detail::thread_free_lists = &cache.lists;
    return detail::thread_free_lists;
}

}  // namespace

namespace detail {

__thread FreeLists* thread_free_lists = nullptr;

void* allocate_slow(std::size_t bytes) {
#ifdef TAPEGRAD_NO_BLOCK_CACHE
    // Under AddressSanitizer: exactly the bytes asked for (no size class, no rounding), so
    // that a read or write one element past the end of a tensor is reported.
    void* p = nullptr;
    if (bytes > max_bytes || posix_memalign(&p, alignment, bytes ? bytes : 1) != 0) throw AllocationFailure(bytes);
    return p;
#else
    const BlockClass k = block_class(bytes);
    if (k.cls >= 0) {
        if (FreeLists* lists = thread_lists())  // the first block of this thread makes its cache
            if (void* p = lists->take(k.cls, k.rounded)) return p;
    }
    return system_allocate(k.rounded);
#endif
}

void deallocate_slow(void* p, std::size_t bytes) noexcept {
#ifndef TAPEGRAD_NO_BLOCK_CACHE
    const BlockClass k = block_class(bytes);
    FreeLists* lists = k.cls >= 0 ? thread_lists() : nullptr;
    if (lists && lists->give(p, k.cls, k.rounded)) return;
#else
    (void)bytes;
#endif
    std::free(p);
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

std::size_t cached_memory_bytes() noexcept { return cache_destroyed ? 0 : cache.lists.cached_bytes; }

}  // namespace tapegrad
