// Storage<T>: the elements of a Tensor, with xt::uvector's interface; a tensor of up to 16 bytes keeps
// them inside the object itself.
#pragma once

#include <algorithm>
#include <cstring>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <type_traits>

#include <tapegrad/autograd/allocator.hpp>

namespace tapegrad::memory {

/// Like xt::uvector (the elements are left uninitialised by a resize, and a resize keeps none of them),
/// with two differences that make a scalar's tape cheap: up to 16 bytes of elements live inside the
/// object (a 1-element value or gradient costs no allocation), and small copies are plain stores, not
/// a call to memcpy. Larger blocks come from A (the per-thread cache, 64-byte aligned) and change hands
/// on a move; inline elements are copied by a move, so their address is not kept.
template <class T, class A = CachingAllocator<T>>
class Storage {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>,
                  "tapegrad tensors hold numbers (trivially copyable element types)");

public:
    /// The standard container types; iterators are pointers.
    ///@{
    using allocator_type = A;
    using value_type = T;
    using reference = T&;
    using const_reference = const T&;
    using pointer = T*;
    using const_pointer = const T*;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    using iterator = T*;
    using const_iterator = const T*;
    using reverse_iterator = std::reverse_iterator<iterator>;
    using const_reverse_iterator = std::reverse_iterator<const_iterator>;
    ///@}

    /// Elements that fit inside the object.
    static constexpr size_type inline_capacity = 16 / sizeof(T) > 0 ? 16 / sizeof(T) : 1;

    /// Empty.
    Storage() noexcept = default;
    /// Empty (the allocator has no state).
    explicit Storage(const allocator_type&) noexcept {}
    /// `count` uninitialised elements.
    explicit Storage(size_type count, const allocator_type& = allocator_type()) { acquire(count); }
    /// `count` copies of `value`.
    Storage(size_type count, const_reference value, const allocator_type& = allocator_type()) {
        acquire(count);
        std::fill(begin_, end_, value);
    }
    /// The elements of [first, last).
    template <class InputIt, class = std::enable_if_t<std::is_convertible_v<
                                 typename std::iterator_traits<InputIt>::iterator_category, std::input_iterator_tag>>>
    Storage(InputIt first, InputIt last, const allocator_type& = allocator_type()) {
        acquire(size_type(std::distance(first, last)));
        std::copy(first, last, begin_);
    }
    /// The elements of `init`.
    Storage(std::initializer_list<T> init, const allocator_type& = allocator_type()) {
        acquire(init.size());
        std::copy(init.begin(), init.end(), begin_);
    }
    ~Storage() { release(); }

    /// A copy of every element.
    Storage(const Storage& rhs) {
        acquire(rhs.size());
        copy_from(rhs);
    }
    /// A copy of every element.
    Storage(const Storage& rhs, const allocator_type&) : Storage(rhs) {}
    /// Every element of rhs, kept in a block of the same size when there is one.
    Storage& operator=(const Storage& rhs) {
        if (this != &rhs) {
            resize(rhs.size());
            copy_from(rhs);
        }
        return *this;
    }

    /// Takes rhs's block (or copies its inline elements); rhs is left empty.
    Storage(Storage&& rhs) noexcept { take(rhs); }
    /// The same.
    Storage(Storage&& rhs, const allocator_type&) noexcept { take(rhs); }
    /// The same, after freeing this one's block.
    Storage& operator=(Storage&& rhs) noexcept {
        if (this != &rhs) {
            release();
            take(rhs);
        }
        return *this;
    }

    /// A (stateless) allocator.
    allocator_type get_allocator() const noexcept { return allocator_type(); }

    /// size() == 0.
    bool empty() const noexcept { return begin_ == end_; }
    /// The number of elements.
    size_type size() const noexcept { return size_type(end_ - begin_); }
    /// `count` uninitialised elements: as xt::uvector, none of the old ones are kept (a block of the same
    /// size is kept as it is).
    void resize(size_type count) {
        if (count == size()) return;
        release();
        acquire(count);
    }
    /// The most elements there could be.
    size_type max_size() const noexcept { return size_type(PTRDIFF_MAX) / sizeof(T); }
    /// Does nothing beyond what resize does (as xt::uvector: capacity is the size).
    void reserve(size_type) {}
    /// The number of elements.
    size_type capacity() const noexcept { return size(); }
    /// Does nothing.
    void shrink_to_fit() {}
    /// No elements.
    void clear() { resize(0); }

    /// Element access; at() checks i.
    ///@{
    reference operator[](size_type i) { return begin_[i]; }
    const_reference operator[](size_type i) const { return begin_[i]; }
    reference at(size_type i) {
        if (i >= size()) throw std::out_of_range("tapegrad::memory::Storage: index out of range");
        return begin_[i];
    }
    const_reference at(size_type i) const { return const_cast<Storage*>(this)->at(i); }
    reference front() { return *begin_; }
    const_reference front() const { return *begin_; }
    reference back() { return end_[-1]; }
    const_reference back() const { return end_[-1]; }
    pointer data() noexcept { return begin_; }
    const_pointer data() const noexcept { return begin_; }
    ///@}

    /// Iterators (pointers).
    ///@{
    iterator begin() noexcept { return begin_; }
    iterator end() noexcept { return end_; }
    const_iterator begin() const noexcept { return begin_; }
    const_iterator end() const noexcept { return end_; }
    const_iterator cbegin() const noexcept { return begin_; }
    const_iterator cend() const noexcept { return end_; }
    reverse_iterator rbegin() noexcept { return reverse_iterator(end_); }
    reverse_iterator rend() noexcept { return reverse_iterator(begin_); }
    const_reverse_iterator rbegin() const noexcept { return const_reverse_iterator(end_); }
    const_reverse_iterator rend() const noexcept { return const_reverse_iterator(begin_); }
    const_reverse_iterator crbegin() const noexcept { return rbegin(); }
    const_reverse_iterator crend() const noexcept { return rend(); }
    ///@}

    /// Exchanges the elements of the two.
    void swap(Storage& rhs) noexcept {
        Storage t(std::move(rhs));
        rhs = std::move(*this);
        *this = std::move(t);
    }

    /// The two hold equal elements.
    friend bool operator==(const Storage& a, const Storage& b) {
        return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
    }
    /// !(a == b).
    friend bool operator!=(const Storage& a, const Storage& b) { return !(a == b); }

private:
    T* inline_data() noexcept { return reinterpret_cast<T*>(inline_); }
    bool is_inline() const noexcept { return begin_ == reinterpret_cast<const T*>(inline_); }

    // Room for `count` elements; the object is empty (no block) on entry.
    void acquire(size_type count) {
        if (count == 0) return;
        if (count <= inline_capacity) {
            begin_ = inline_data();
        } else {
            begin_ = A().allocate(count);
        }
        end_ = begin_ + count;
    }
    // Frees the block (if any); the object is empty after.
    void release() noexcept {
        if (begin_ && !is_inline()) A().deallocate(begin_, size());
        begin_ = end_ = nullptr;
    }
    // rhs's elements into this object, empty on entry; rhs is left empty.
    void take(Storage& rhs) noexcept {
        if (rhs.is_inline()) {
            const size_type n = rhs.size();
            std::memcpy(inline_, rhs.inline_, sizeof inline_);  // a constant size: two stores, no call
            begin_ = inline_data();
            end_ = begin_ + n;
        } else {
            begin_ = rhs.begin_;
            end_ = rhs.end_;
        }
        rhs.begin_ = rhs.end_ = nullptr;
    }
    // rhs's elements into this object's room for as many.
    void copy_from(const Storage& rhs) noexcept {
        if (is_inline())  // then so is rhs (inline or not is a matter of size alone)
            std::memcpy(inline_, rhs.inline_, sizeof inline_);
        else
            std::copy(rhs.begin_, rhs.end_, begin_);
    }

    T* begin_ = nullptr;
    T* end_ = nullptr;
    alignas(16) unsigned char inline_[inline_capacity * sizeof(T)];
};

}  // namespace tapegrad::memory
