// Moving elements without arithmetic: permute, rows taken or added along an axis, gather/scatter, concat.
#pragma once

#include <cstddef>
#include <vector>

#include <tapegrad/autograd/kernels/shape.hpp>

namespace tapegrad::kernels {

/// Checks that every index is below `size` (the length of `axis`), or an error naming `op`.
void check_indices(const char* op, const Indices& indices, std::size_t size, int axis);
/// Checks a gather index against x's shape and returns the normalized axis, or an error naming `op`.
std::size_t check_gather_index(const char* op, const Shape& x, int axis, const Tensor<std::size_t>& index);
/// Checks that the shapes agree outside `axis` and returns the normalized axis, or an error naming concat.
std::size_t check_concat(const std::vector<Shape>& shapes, int axis);

/// Axes reordered: output axis i is input axis perm[i].
template <class T>
Tensor<T> permute(const Tensor<T>& x, const std::vector<std::size_t>& perm);

/// start, start + step, ... (count of them).
Indices strided_rows(std::size_t start, std::size_t count, std::size_t step);

/// x as (outer, n, inner) blocks along `axis`; out (outer, rows.size(), inner) with
/// out[o, j] = x[o, rows[j]]. `out_shape` is x's shape with rows.size() along `axis`.
template <class T>
Tensor<T> take_rows(const Tensor<T>& x, std::size_t axis, const Indices& rows, const Shape& out_shape);

/// The adjoint of take_rows: zeros of `shape` with out[o, rows[j]] += src[o, j].
template <class T>
Tensor<T> add_rows(const Tensor<T>& src, std::size_t axis, const Indices& rows, const Shape& shape);

/// out[o, j, i] = x[o, index[o, j, i], i] (x as (outer, n, inner), index as (outer, m, inner)).
template <class T>
Tensor<T> gather(const Tensor<T>& x, std::size_t axis, const Tensor<std::size_t>& index);

/// The adjoint of gather: zeros of `shape` with src added at `index` along `axis`.
template <class T>
Tensor<T> scatter_add(const Tensor<T>& src, std::size_t axis, const Tensor<std::size_t>& index, const Shape& shape);

/// The tensors joined along `axis` (their shapes agree elsewhere).
template <class T>
Tensor<T> concat(const std::vector<const Tensor<T>*>& xs, std::size_t axis);

}  // namespace tapegrad::kernels
