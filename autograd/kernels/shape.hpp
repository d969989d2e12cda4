// Shape arithmetic shared by ops and kernels: axes, broadcast shapes and strides, axis splits.
#pragma once

#include <cstddef>
#include <vector>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/tensor.hpp>

namespace tapegrad::kernels {

/// Axis `axis` (negative counts from the end) of a rank-`ndim` value, or an error naming `op`.
std::size_t normalize_axis(const char* op, int axis, std::size_t ndim);
/// Sorted, distinct, non-negative axes, or an error naming `op`.
std::vector<std::size_t> normalize_axes(const char* op, const Axes& axes, std::size_t ndim);
/// All axes of a rank-`ndim` value.
std::vector<std::size_t> all_axes(std::size_t ndim);

/// The NumPy broadcast of two shapes, or an error naming `op` and both shapes.
Shape broadcast_shape(const char* op, const Shape& a, const Shape& b);
/// True when `from` broadcasts to `to`.
bool broadcasts_to(const Shape& from, const Shape& to);
/// `shape` with `axes` removed, or set to 1 if keepdims.
Shape reduced_shape(const Shape& shape, const std::vector<std::size_t>& axes, bool keepdims);
/// `shape` with dimension `axis` set to `size`.
Shape with_axis(Shape shape, std::size_t axis, std::size_t size);

/// Strides (in elements) of `shape` viewed inside the broadcast shape `out`: 0 where the
/// dimension is broadcast or missing.
std::vector<std::ptrdiff_t> broadcast_strides(const Shape& shape, const Shape& out);

/// `axes` (negative counts from the end) checked to be a permutation of the axes of a value of
/// `shape`, or an error naming `op`.
std::vector<std::size_t> permutation(const char* op, const Axes& axes, const Shape& shape);

/// `dims` with one -1 (if any) inferred so that the shape has as many elements as `from`, or an
/// error naming `op`.
Shape infer_shape(const char* op, const Shape& from, const std::vector<std::ptrdiff_t>& dims);

/// The shape of flatten(x, start_axis, end_axis), or an error naming flatten.
Shape flattened_shape(const Shape& shape, int start_axis, int end_axis);
/// `shape` without its size-1 dimensions.
Shape squeezed_shape(const Shape& shape);
/// `shape` without dimension `axis`, which must have size 1 (or an error naming squeeze).
Shape squeezed_shape(const Shape& shape, int axis);
/// `shape` with a size-1 dimension inserted at `axis` (-1 appends), or an error naming unsqueeze.
Shape unsqueezed_shape(const Shape& shape, int axis);
/// The axes 0..ndim-1 with axis0 and axis1 swapped, or an error naming `op`.
Axes swapped_axes(const char* op, std::size_t ndim, int axis0, int axis1);

/// The sizes before, along and after one axis: the value is a (outer, n, inner) block.
struct AxisSplit {
    std::size_t outer, n, inner;
};
AxisSplit split_at(const Shape& shape, std::size_t axis);

}  // namespace tapegrad::kernels
