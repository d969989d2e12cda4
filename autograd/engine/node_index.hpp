// NodeIndex: the numbers one backward pass gives the nodes it reaches, found from a node's address.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace tapegrad::detail {

/// Open addressing with linear probing. The table holds only ids (4 bytes a slot, at most 70%
/// full); the addresses themselves are the caller's `keys` vector, keys[id]. Lookups compare
/// addresses without following them, so a key whose node the sweep has freed is harmless.
class NodeIndex {
public:
    static constexpr std::uint32_t none = 0xffffffffu;

    /// The id of the node at `p`, or none.
    template <class K>
    std::uint32_t find(const void* p, const std::vector<K*>& keys) const {
        if (slots_.empty()) return none;
        for (std::size_t h = hash(p);; h = (h + 1) & mask_) {
            const std::uint32_t id = slots_[h];
            if (id == none || keys[id] == p) return id;
        }
    }

    /// Room for `count` keys without growing (the table is empty: call before the first add).
    template <class K>
    void reserve(std::size_t count, const std::vector<K*>& keys) {
        if (count > capacity_) grow(keys, count);
    }

    /// The id of `p`, appending it to `keys` first if it is not there; true when appended.
    template <class K>
    std::pair<std::uint32_t, bool> add(K* p, std::vector<K*>& keys) {
        if (keys.size() >= capacity_) grow(keys, keys.size() + 1);
        std::size_t h = hash(p);
        for (;; h = (h + 1) & mask_) {
            const std::uint32_t id = slots_[h];
            if (id == none) break;
            if (keys[id] == p) return {id, false};
        }
        const auto id = std::uint32_t(keys.size());
        keys.push_back(p);
        slots_[h] = id;
        return {id, true};
    }

private:
    // Fibonacci hashing: the top bits of the address times 2^64 / phi.
    std::size_t hash(const void* p) const {
        return std::size_t((std::uint64_t(reinterpret_cast<std::uintptr_t>(p)) * 0x9E3779B97F4A7C15ull) >> shift_);
    }

    template <class K>
    void grow(const std::vector<K*>& keys, std::size_t count) {
        std::size_t capacity = slots_.empty() ? 64 : slots_.size() * 2;
        while (count * 10 > capacity * 7) capacity *= 2;
        int bits = 0;
        while ((std::size_t(1) << bits) < capacity) ++bits;
        std::vector<std::uint32_t>().swap(slots_);  // the old table goes before the new one comes
        slots_.assign(capacity, none);
        mask_ = capacity - 1;
        shift_ = 64 - bits;
        capacity_ = capacity * 7 / 10;
        for (std::uint32_t id = 0; id < keys.size(); ++id) {
            std::size_t h = hash(keys[id]);
            while (slots_[h] != none) h = (h + 1) & mask_;
            slots_[h] = id;
        }
    }

    std::vector<std::uint32_t> slots_;
    std::size_t capacity_ = 0;  // keys the table holds before it grows (70% of its slots)
    std::size_t mask_ = 0;
    int shift_ = 64;
};

}  // namespace tapegrad::detail
