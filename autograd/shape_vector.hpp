// ShapeVector: the small vector holding a Tensor's shape, strides and back-strides.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include <xtensor/xstorage.hpp>
#include <xtensor/xutils.hpp>

namespace tapegrad {
// Its own namespace, like memory::CachingAllocator: Tensor<T> names ShapeVector as a template argument,
// and argument-dependent lookup must not bring tapegrad's sum/mean/exp... into xtensor's internal calls.
namespace shape_container {

/// A vector of up to N trivially copyable values stored inline, on the heap beyond. Why not xtensor's
/// svector: every Tensor holds three of these (shape, strides, back-strides), and a tiny op constructs,
/// moves and destroys several Tensors. Here a move is a copy of a few words (the inline elements or the
/// heap pointer) with no pointer into itself to fix up, and destruction is one test when inline.
/// The interface is std::vector's, as xtensor expects of a shape container.
template <class T, std::size_t N = 4>
class ShapeVector {
    static_assert(std::is_trivially_copyable<T>::value, "ShapeVector holds trivially copyable values");
    static_assert(N > 0, "ShapeVector needs room for at least one value inline");

public:
    /// Element type.
    using value_type = T;
    /// Unsigned size type.
    using size_type = std::size_t;
    /// Signed distance type.
    using difference_type = std::ptrdiff_t;
    /// Element reference.
    using reference = T&;
    /// Read-only element reference.
    using const_reference = const T&;
    /// Element pointer.
    using pointer = T*;
    /// Read-only element pointer.
    using const_pointer = const T*;
    /// Random-access iterator.
    using iterator = T*;
    /// Read-only random-access iterator.
    using const_iterator = const T*;
    /// Reverse iterator.
    using reverse_iterator = std::reverse_iterator<iterator>;
    /// Read-only reverse iterator.
    using const_reverse_iterator = std::reverse_iterator<const_iterator>;

    /// Empty, inline.
    ShapeVector() noexcept = default;
    /// n value-initialised (zero) elements.
    explicit ShapeVector(size_type n) { resize(n); }
    /// n copies of v.
    ShapeVector(size_type n, const T& v) { assign(n, v); }
    /// The given values, e.g. Shape{64, 784}.
    ShapeVector(std::initializer_list<T> il) { assign(il.begin(), il.end()); }
    /// The values of [first, last).
    template <class It, class = std::enable_if_t<!std::is_integral<It>::value>>
    ShapeVector(It first, It last) {
        assign(first, last);
    }
    /// The values of a std::vector (implicit, as xtensor's svector).
    ShapeVector(const std::vector<T>& v) { assign(v.begin(), v.end()); }
    /// The values of an xtensor svector, such as the shape of a plain xt::xarray or of an expression.
    template <std::size_t N2, class A2, bool I2>
    ShapeVector(const xt::svector<T, N2, A2, I2>& v) {
        assign(v.begin(), v.end());
    }
    /// A copy; inline values are copied as one block.
    /// (The store is initialised from other's, not zeroed first and then overwritten: a Tensor copies three
    /// of these on every tiny op.)
    ShapeVector(const ShapeVector& other)
        : m_size(other.is_inline() ? other.m_size : 0), m_store(other.is_inline() ? other.m_store : Store{}) {
        if (!other.is_inline()) assign(other.begin(), other.end());
    }
    /// Takes other's values (inline) or heap block; other is left empty.
    ShapeVector(ShapeVector&& other) noexcept
        : m_size(other.m_size), m_capacity(other.m_capacity), m_store(other.m_store) {
        other.m_size = 0;
        other.m_capacity = N;
    }
    ~ShapeVector() {
        if (!is_inline()) ::operator delete(m_store.heap);
    }

    /// Copy assignment; reuses this vector's storage when it is large enough.
    ShapeVector& operator=(const ShapeVector& other) {
        if (this != &other) {
            if (is_inline() && other.is_inline()) {
                m_size = other.m_size;
                m_store = other.m_store;
            } else {
                assign(other.begin(), other.end());
            }
        }
        return *this;
    }
    /// Move assignment: frees this vector's heap block, then takes other's storage.
    ShapeVector& operator=(ShapeVector&& other) noexcept {
        if (this != &other) {
            if (!is_inline()) ::operator delete(m_store.heap);
            m_size = other.m_size;
            m_capacity = other.m_capacity;
            m_store = other.m_store;
            other.m_size = 0;
            other.m_capacity = N;
        }
        return *this;
    }
    /// Replaces the values by the given ones.
    ShapeVector& operator=(std::initializer_list<T> il) {
        assign(il.begin(), il.end());
        return *this;
    }
    /// Replaces the values by a std::vector's.
    ShapeVector& operator=(const std::vector<T>& v) {
        assign(v.begin(), v.end());
        return *this;
    }

    /// n copies of v.
    void assign(size_type n, const T& v) {
        reserve_discard(n);
        std::fill_n(data(), n, v);
        m_size = std::uint32_t(n);
    }
    /// The given values.
    template <class V>
    void assign(std::initializer_list<V> il) {
        assign(il.begin(), il.end());
    }
    /// The values of [first, last).
    template <class It, class = std::enable_if_t<!std::is_integral<It>::value>>
    void assign(It first, It last) {
        const auto n = size_type(std::distance(first, last));
        reserve_discard(n);
        // More than N values are on the heap: said outright, GCC 12 stops seeing a copy past the inline block.
        std::copy(first, last, n > N ? m_store.heap : data());
        m_size = std::uint32_t(n);
    }

    /// Element i (unchecked).
    reference operator[](size_type i) { return data()[i]; }
    /// Element i (unchecked).
    const_reference operator[](size_type i) const { return data()[i]; }
    /// Element i, or std::out_of_range.
    reference at(size_type i) {
        if (i >= size()) throw std::out_of_range("ShapeVector::at: index out of range");
        return data()[i];
    }
    /// Element i, or std::out_of_range.
    const_reference at(size_type i) const {
        if (i >= size()) throw std::out_of_range("ShapeVector::at: index out of range");
        return data()[i];
    }
    /// First element.
    reference front() { return data()[0]; }
    /// First element.
    const_reference front() const { return data()[0]; }
    /// Last element.
    reference back() { return data()[m_size - 1]; }
    /// Last element.
    const_reference back() const { return data()[m_size - 1]; }
    /// The elements, contiguous.
    pointer data() noexcept { return is_inline() ? m_store.values : m_store.heap; }
    /// The elements, contiguous.
    const_pointer data() const noexcept { return is_inline() ? m_store.values : m_store.heap; }

    /// Iterator to the first element.
    iterator begin() noexcept { return data(); }
    /// Iterator past the last element.
    iterator end() noexcept { return data() + m_size; }
    /// Iterator to the first element.
    const_iterator begin() const noexcept { return data(); }
    /// Iterator past the last element.
    const_iterator end() const noexcept { return data() + m_size; }
    /// Iterator to the first element.
    const_iterator cbegin() const noexcept { return begin(); }
    /// Iterator past the last element.
    const_iterator cend() const noexcept { return end(); }
    /// Reverse iterator to the last element.
    reverse_iterator rbegin() noexcept { return reverse_iterator(end()); }
    /// Reverse iterator before the first element.
    reverse_iterator rend() noexcept { return reverse_iterator(begin()); }
    /// Reverse iterator to the last element.
    const_reverse_iterator rbegin() const noexcept { return const_reverse_iterator(end()); }
    /// Reverse iterator before the first element.
    const_reverse_iterator rend() const noexcept { return const_reverse_iterator(begin()); }
    /// Reverse iterator to the last element.
    const_reverse_iterator crbegin() const noexcept { return rbegin(); }
    /// Reverse iterator before the first element.
    const_reverse_iterator crend() const noexcept { return rend(); }

    /// True when there are no elements.
    bool empty() const noexcept { return m_size == 0; }
    /// Number of elements.
    size_type size() const noexcept { return m_size; }
    /// Largest possible number of elements.
    size_type max_size() const noexcept { return std::numeric_limits<std::uint32_t>::max(); }
    /// Number of elements the current storage holds.
    size_type capacity() const noexcept { return m_capacity; }
    /// The capacity a vector of capacity `current` grows to for `n <= max_size()` elements: doubled,
    /// at least `n`, and never past max_size() (the count is stored in 32 bits).
    static size_type grown_capacity(size_type n, size_type current) noexcept {
        return std::min(std::max(n, 2 * current), size_type(std::numeric_limits<std::uint32_t>::max()));
    }
    /// True while the elements are stored inline (no heap block).
    bool on_stack() const noexcept { return is_inline(); }
    /// Makes room for n elements, keeping the current ones.
    void reserve(size_type n) {
        if (n > m_capacity) grow(n, true);
    }
    /// Keeps the storage (a shape's heap block is small).
    void shrink_to_fit() noexcept {}
    /// n elements: the first ones kept, new ones zero.
    void resize(size_type n) {
        if (n > m_capacity) grow(n, true);
        if (n > m_size) {
            if (is_inline()) {
                // A fixed, unrolled pass over the inline slots: a fill of the exact range is a call to
                // memset, 31 of the ~350 instructions of making a 1-element Tensor (xtensor resizes the
                // strides and back-strides of every Tensor it makes).
                T* d = m_store.values;
#pragma GCC unroll 8
                for (size_type i = 0; i < N; ++i)
                    if (i >= m_size) d[i] = T();
            } else {
                std::fill(m_store.heap + m_size, m_store.heap + n, T());
            }
        }
        m_size = std::uint32_t(n);
    }
    /// n elements: the first ones kept, new ones copies of v.
    void resize(size_type n, const T& v) {
        if (n > m_capacity) grow(n, true);
        if (n > m_size) std::fill(data() + m_size, data() + n, v);
        m_size = std::uint32_t(n);
    }
    /// No elements (the storage is kept).
    void clear() noexcept { m_size = 0; }
    /// Appends v.
    void push_back(const T& v) {
        const T copy = v;  // v may be one of this vector's elements
        if (m_size == m_capacity) grow(size_type(m_size) + 1, true);
        data()[m_size++] = copy;
    }
    /// Removes the last element.
    void pop_back() noexcept { --m_size; }
    /// Removes the element at pos; returns the iterator to the one after it.
    iterator erase(const_iterator pos) { return erase(pos, pos + 1); }
    /// Removes [first, last); returns the iterator to the element after them.
    iterator erase(const_iterator first, const_iterator last) {
        iterator f = begin() + (first - cbegin());
        std::copy(last, cend(), f);
        m_size -= std::uint32_t(last - first);
        return f;
    }
    /// Inserts v before pos.
    iterator insert(const_iterator pos, const T& v) {
        const T copy = v;
        return insert(pos, &copy, &copy + 1);
    }
    /// Inserts the given values before pos.
    iterator insert(const_iterator pos, std::initializer_list<T> il) { return insert(pos, il.begin(), il.end()); }
    /// Inserts [first, last) (not from this vector) before pos.
    template <class It, class = std::enable_if_t<!std::is_integral<It>::value>>
    iterator insert(const_iterator pos, It first, It last) {
        const size_type at = size_type(pos - cbegin());
        const size_type n = size_type(std::distance(first, last));
        const size_type old = m_size;
        if (old + n > m_capacity) grow(old + n, true);
        T* d = data();
        std::copy_backward(d + at, d + old, d + old + n);
        std::copy(first, last, d + at);
        m_size = std::uint32_t(old + n);
        return d + at;
    }
    /// Exchanges the contents of two vectors.
    void swap(ShapeVector& other) noexcept {
        ShapeVector tmp(std::move(other));
        other = std::move(*this);
        *this = std::move(tmp);
    }

private:
    union Store {
        T values[N];
        T* heap;
    };

    bool is_inline() const noexcept { return m_capacity == N; }

    // Room for n elements; when `keep`, the current ones move to the new storage.
    void grow(size_type n, bool keep) {
        if (n > max_size()) throw std::length_error("ShapeVector: too many elements");
        const size_type cap = grown_capacity(n, m_capacity);
        T* block = static_cast<T*>(::operator new(cap * sizeof(T)));
        if (keep) std::copy(begin(), end(), block);
        if (!is_inline()) ::operator delete(m_store.heap);
        m_store.heap = block;
        m_capacity = std::uint32_t(cap);
    }
    // Room for n elements whose current values are not needed.
    void reserve_discard(size_type n) {
        if (n > m_capacity) grow(n, false);
    }

    std::uint32_t m_size = 0;
    std::uint32_t m_capacity = N;  // N exactly while inline; a heap block is always larger than N
    Store m_store{};               // zeroed: copying an inline vector copies the whole block
};

/// Same length and values.
template <class T, std::size_t N1, std::size_t N2>
bool operator==(const ShapeVector<T, N1>& a, const ShapeVector<T, N2>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) return false;
    return true;
}
/// Not operator==.
template <class T, std::size_t N1, std::size_t N2>
bool operator!=(const ShapeVector<T, N1>& a, const ShapeVector<T, N2>& b) {
    return !(a == b);
}
/// Lexicographic order.
template <class T, std::size_t N1, std::size_t N2>
bool operator<(const ShapeVector<T, N1>& a, const ShapeVector<T, N2>& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
}
/// Lexicographic order.
template <class T, std::size_t N1, std::size_t N2>
bool operator>(const ShapeVector<T, N1>& a, const ShapeVector<T, N2>& b) {
    return b < a;
}
/// Lexicographic order.
template <class T, std::size_t N1, std::size_t N2>
bool operator<=(const ShapeVector<T, N1>& a, const ShapeVector<T, N2>& b) {
    return !(b < a);
}
/// Lexicographic order.
template <class T, std::size_t N1, std::size_t N2>
bool operator>=(const ShapeVector<T, N1>& a, const ShapeVector<T, N2>& b) {
    return !(a < b);
}
/// Same values as a std::vector.
template <class T, std::size_t N>
bool operator==(const ShapeVector<T, N>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}
/// Same values as a std::vector.
template <class T, std::size_t N>
bool operator==(const std::vector<T>& a, const ShapeVector<T, N>& b) {
    return b == a;
}
/// Not operator==.
template <class T, std::size_t N>
bool operator!=(const ShapeVector<T, N>& a, const std::vector<T>& b) {
    return !(a == b);
}
/// Not operator==.
template <class T, std::size_t N>
bool operator!=(const std::vector<T>& a, const ShapeVector<T, N>& b) {
    return !(b == a);
}
/// Same values as an xtensor svector (the shape of a plain xt::xarray or of an expression).
template <class T, std::size_t N, std::size_t N2, class A2, bool I2>
bool operator==(const ShapeVector<T, N>& a, const xt::svector<T, N2, A2, I2>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}
/// Same values as an xtensor svector.
template <class T, std::size_t N, std::size_t N2, class A2, bool I2>
bool operator==(const xt::svector<T, N2, A2, I2>& a, const ShapeVector<T, N>& b) {
    return b == a;
}
/// Not operator==.
template <class T, std::size_t N, std::size_t N2, class A2, bool I2>
bool operator!=(const ShapeVector<T, N>& a, const xt::svector<T, N2, A2, I2>& b) {
    return !(a == b);
}
/// Not operator==.
template <class T, std::size_t N, std::size_t N2, class A2, bool I2>
bool operator!=(const xt::svector<T, N2, A2, I2>& a, const ShapeVector<T, N>& b) {
    return !(b == a);
}
/// Exchanges two vectors' contents.
template <class T, std::size_t N>
void swap(ShapeVector<T, N>& a, ShapeVector<T, N>& b) noexcept {
    a.swap(b);
}

}  // namespace shape_container

using shape_container::ShapeVector;

}  // namespace tapegrad

namespace xt {
/// xtensor derives a container's strides type from its shape type by rebinding the value type.
template <class X, class T, std::size_t N>
struct rebind_container<X, tapegrad::shape_container::ShapeVector<T, N>> {
    /// The same small vector of X.
    using type = tapegrad::shape_container::ShapeVector<X, N>;
};
}  // namespace xt
