// Shape arithmetic: axes, broadcast shapes and strides, axis splits.
#include <tapegrad/autograd/kernels/shape.hpp>

#include <algorithm>
#include <fmt/format.h>

namespace tapegrad::kernels {

std::size_t normalize_axis(const char* op, int axis, std::size_t ndim) {
    const long n = long(ndim);
    if (axis < -n || axis >= n)
        throw Error(fmt::format("{}: axis {} is out of range for a value with {} dimension{}", op, axis, ndim,
                                ndim == 1 ? "" : "s"));
    return std::size_t(axis < 0 ? axis + n : axis);
}

std::vector<std::size_t> normalize_axes(const char* op, const Axes& axes, std::size_t ndim) {
    std::vector<std::size_t> out;
    for (int a : axes) out.push_back(normalize_axis(op, a, ndim));
    std::sort(out.begin(), out.end());
    if (std::adjacent_find(out.begin(), out.end()) != out.end())
        throw Error(fmt::format("{}: axis {} is given twice", op, *std::adjacent_find(out.begin(), out.end())));
    return out;
}

std::vector<std::size_t> all_axes(std::size_t ndim) {
    std::vector<std::size_t> out(ndim);
    for (std::size_t i = 0; i < ndim; ++i) out[i] = i;
    return out;
}

Shape broadcast_shape(const char* op, const Shape& a, const Shape& b) {
    if (shape_equal(a, b)) return a;
    const std::size_t nd = std::max(a.size(), b.size());
    Shape out(nd);
    for (std::size_t i = 0; i < nd; ++i) {
        const std::size_t da = i < nd - a.size() ? 1 : a[i - (nd - a.size())];
        const std::size_t db = i < nd - b.size() ? 1 : b[i - (nd - b.size())];
        if (da != db && da != 1 && db != 1)
            throw Error(fmt::format("{}: shapes {} and {} do not broadcast (dimension {}: {} vs {})", op,
                                    shape_string(a), shape_string(b), i, da, db));
        out[i] = da == 1 ? db : da;
    }
    shape_size(out, op);  // (2^40, 1) and (1, 2^40) broadcast to more elements than fit
    return out;
}

bool broadcasts_to(const Shape& from, const Shape& to) {
    if (from.size() > to.size()) return false;
    const std::size_t off = to.size() - from.size();
    for (std::size_t i = 0; i < from.size(); ++i)
        if (from[i] != 1 && from[i] != to[off + i]) return false;
    return true;
}

Shape reduced_shape(const Shape& shape, const std::vector<std::size_t>& axes, bool keepdims) {
    Shape out;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        const bool reduced = std::binary_search(axes.begin(), axes.end(), i);
        if (!reduced)
            out.push_back(shape[i]);
        else if (keepdims)
            out.push_back(1);
    }
    // Removing a 0 dimension can leave dimensions whose product wraps: (0, 2^32, 2^32) summed over axis 0.
    shape_size(out, "reduction");
    return out;
}

std::vector<std::ptrdiff_t> broadcast_strides(const Shape& shape, const Shape& out) {
    const std::size_t nd = out.size();
    const std::size_t off = nd - shape.size();
    std::vector<std::ptrdiff_t> strides(nd, 0);
    std::ptrdiff_t s = 1;
    for (std::size_t i = shape.size(); i-- > 0;) {
        strides[off + i] = shape[i] == 1 ? 0 : s;
        s *= std::ptrdiff_t(shape[i]);
    }
    return strides;
}

AxisSplit split_at(const Shape& shape, std::size_t axis) {
    AxisSplit s{1, shape[axis], 1};
    for (std::size_t i = 0; i < axis; ++i) s.outer *= shape[i];
    for (std::size_t i = axis + 1; i < shape.size(); ++i) s.inner *= shape[i];
    return s;
}

std::vector<std::size_t> permutation(const char* op, const Axes& axes, const Shape& shape) {
    const std::size_t ndim = shape.size();
    if (axes.size() != ndim)
        throw Error(fmt::format("{}: {} axes given for a value of shape {}", op, axes.size(), shape_string(shape)));
    std::vector<std::size_t> perm;
    std::vector<char> seen(ndim, 0);
    for (int a : axes) {
        const std::size_t p = normalize_axis(op, a, ndim);
        if (seen[p]) throw Error(fmt::format("{}: axis {} is given twice", op, a));
        seen[p] = 1;
        perm.push_back(p);
    }
    return perm;
}

Shape infer_shape(const char* op, const Shape& from, const std::vector<std::ptrdiff_t>& dims) {
    Shape out;
    std::size_t known = 1;
    int infer_at = -1;
    for (std::ptrdiff_t d : dims) {
        if (d == -1) {
            if (infer_at >= 0) throw Error(fmt::format("{}: only one dimension can be -1", op));
            infer_at = int(out.size());
            out.push_back(1);
        } else if (d < 0) {
            throw Error(fmt::format("{}: dimension {} is negative", op, d));
        } else {
            out.push_back(std::size_t(d));
            known = checked_mul(op, "the product of the given dimensions", known, std::size_t(d));
        }
    }
    const std::size_t total = shape_size(from);
    if (infer_at >= 0) {
        if (known == 0 || total % known != 0)
            throw Error(fmt::format("{}: cannot reshape {} ({} elements) into ({}) with -1 inferred", op,
                                    shape_string(from), total, fmt::join(dims, ",")));
        out[std::size_t(infer_at)] = total / known;
    }
    return out;
}

Shape flattened_shape(const Shape& shape, int start_axis, int end_axis) {
    const std::size_t nd = shape.size();
    if (nd == 0) return Shape{1};
    const std::size_t s = normalize_axis("flatten", start_axis, nd);
    const std::size_t e = normalize_axis("flatten", end_axis, nd);
    if (s > e) throw Error(fmt::format("flatten: start axis {} comes after end axis {}", start_axis, end_axis));
    Shape out;
    for (std::size_t i = 0; i < s; ++i) out.push_back(shape[i]);
    std::size_t merged = 1;  // may wrap when another dimension is 0
    for (std::size_t i = s; i <= e; ++i) merged = checked_mul("flatten", "the merged dimension", merged, shape[i]);
    out.push_back(merged);
    for (std::size_t i = e + 1; i < nd; ++i) out.push_back(shape[i]);
    return out;
}

Shape squeezed_shape(const Shape& shape) {
    Shape out;
    for (std::size_t d : shape)
        if (d != 1) out.push_back(d);
    return out;
}

Shape squeezed_shape(const Shape& shape, int axis) {
    const std::size_t a = normalize_axis("squeeze", axis, shape.size());
    if (shape[a] != 1)
        throw Error(
            fmt::format("squeeze: axis {} of shape {} has size {}, not 1", axis, shape_string(shape), shape[a]));
    Shape out = shape;
    out.erase(out.begin() + std::ptrdiff_t(a));
    return out;
}

Shape unsqueezed_shape(const Shape& shape, int axis) {
    const std::size_t nd = shape.size();
    const std::size_t a = normalize_axis("unsqueeze", axis, nd + 1);
    Shape out;
    for (std::size_t i = 0; i <= nd; ++i) {
        if (i == a) out.push_back(1);
        if (i < nd) out.push_back(shape[i]);
    }
    return out;
}

Axes swapped_axes(const char* op, std::size_t ndim, int axis0, int axis1) {
    const std::size_t a = normalize_axis(op, axis0, ndim);
    const std::size_t b = normalize_axis(op, axis1, ndim);
    Axes axes(ndim);
    for (std::size_t i = 0; i < ndim; ++i) axes[i] = int(i);
    std::swap(axes[a], axes[b]);
    return axes;
}

Shape with_axis(Shape shape, std::size_t axis, std::size_t size) {
    shape[axis] = size;
    return shape;
}

}  // namespace tapegrad::kernels
