// Shape and index ops: reshape, transpose/permute, squeeze, slice, index_select, gather, concat, stack.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <vector>

#include <tapegrad/autograd/variable.hpp>

namespace tapegrad {

/// The same elements in a new shape of the same size.
template <class T> Variable<T> reshape(const Variable<T>& x, const Shape& shape);
/// As above; one dimension may be -1 and is then inferred, e.g. reshape(x, {batch, -1}).
template <class T> Variable<T> reshape(const Variable<T>& x, std::initializer_list<std::ptrdiff_t> shape);
/// Dimensions start_axis..end_axis merged into one.
template <class T> Variable<T> flatten(const Variable<T>& x, int start_axis = 0, int end_axis = -1);
/// All size-1 dimensions removed.
template <class T> Variable<T> squeeze(const Variable<T>& x);
/// Dimension `axis` (which must have size 1) removed.
template <class T> Variable<T> squeeze(const Variable<T>& x, int axis);
/// A size-1 dimension inserted at `axis` (-1 appends).
template <class T> Variable<T> unsqueeze(const Variable<T>& x, int axis);
/// Axes reversed (the matrix transpose for 2-D values).
template <class T> Variable<T> transpose(const Variable<T>& x);
/// Two axes swapped.
template <class T> Variable<T> transpose(const Variable<T>& x, int axis0, int axis1);
/// Axes reordered: output axis i is input axis axes[i].
template <class T> Variable<T> permute(const Variable<T>& x, const Axes& axes);
/// Elements start, start+step, ... before stop along `axis`; negative start/stop count from
/// the end and out-of-range bounds are clipped, as in Python.
template <class T> Variable<T> slice(const Variable<T>& x, int axis, std::ptrdiff_t start, std::ptrdiff_t stop,
                                     std::ptrdiff_t step = 1);
/// The entries `indices` along `axis` (repeats allowed).
template <class T> Variable<T> index_select(const Variable<T>& x, int axis, const Indices& indices);
/// out[.., j, ..] = x[.., index[.., j, ..], ..] along `axis`; index has x's rank and, apart
/// from `axis`, x's shape. With axis 1 and an (N,1) index of labels it picks one class per row.
template <class T> Variable<T> gather(const Variable<T>& x, int axis, const Tensor<std::size_t>& index);
/// Values joined along an existing axis.
template <class T> Variable<T> concat(const std::vector<Variable<T>>& xs, int axis = 0);
/// Values of one shape stacked along a new axis.
template <class T> Variable<T> stack(const std::vector<Variable<T>>& xs, int axis = 0);

namespace detail {
/// Adjoint of index_select: `src` added into zeros of `shape` at `indices` along `axis`.
template <class T> Variable<T> index_add(const Shape& shape, std::size_t axis, const Indices& indices,
                                         const Variable<T>& src);
/// Adjoint of gather: `src` added into zeros of `shape` at `index` along `axis`.
template <class T> Variable<T> scatter_add(const Shape& shape, std::size_t axis, const Tensor<std::size_t>& index,
                                           const Variable<T>& src);
/// Adjoint of slice: `src` placed into zeros of `shape` at start, start+step, ... along `axis`.
template <class T> Variable<T> slice_scatter(const Shape& shape, std::size_t axis, std::size_t start,
                                             std::size_t step, const Variable<T>& src);
}  // namespace detail

}  // namespace tapegrad
