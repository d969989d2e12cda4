// Shape and index ops, each forward next to its VJP; the index ops come in adjoint pairs.
#include <tapegrad/autograd/ops/shape.hpp>

#include <fmt/format.h>
#include <numeric>

#include <tapegrad/autograd/op.hpp>
#include <tapegrad/autograd/ops/dual.hpp>

namespace tapegrad {
namespace {

// ---------------------------------------------------------------- tensor kernels

/// Rows of `inner` elements: x as (outer, n, inner), out as (outer, m, inner), with
/// out[o, j] = x[o, rows[j]].
template <class T>
Tensor<T> take_rows(const Tensor<T>& x, std::size_t axis, const Indices& rows, Shape out_shape) {
    const kernels::AxisSplit s = kernels::split_at(x.shape(), axis);
    Tensor<T> y = Tensor<T>::from_shape(out_shape);
    const T* px = x.data();
    T* py = y.data();
    const std::size_t m = rows.size();
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t j = 0; j < m; ++j) {
            const T* src = px + (o * s.n + rows[j]) * s.inner;
            std::copy(src, src + s.inner, py + (o * m + j) * s.inner);
        }
    return y;
}

/// The adjoint of take_rows: out (outer, n, inner) zeros with out[o, rows[j]] += src[o, j].
template <class T>
Tensor<T> add_rows(const Tensor<T>& src, std::size_t axis, const Indices& rows, const Shape& shape) {
    const kernels::AxisSplit s = kernels::split_at(shape, axis);
    Tensor<T> y(shape, T(0));
    const T* ps = src.data();
    T* py = y.data();
    const std::size_t m = rows.size();
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t j = 0; j < m; ++j) {
            T* dst = py + (o * s.n + rows[j]) * s.inner;
            const T* r = ps + (o * m + j) * s.inner;
#pragma omp simd
            for (std::size_t i = 0; i < s.inner; ++i) dst[i] += r[i];
        }
    return y;
}

Indices strided_rows(std::size_t start, std::size_t count, std::size_t step) {
    Indices rows(count);
    for (std::size_t j = 0; j < count; ++j) rows[j] = start + j * step;
    return rows;
}

/// out[o, j, i] = x[o, index[o, j, i], i] (x as (outer, n, inner), index as (outer, m, inner)).
template <class T>
Tensor<T> gather_kernel(const Tensor<T>& x, std::size_t axis, const Tensor<std::size_t>& index) {
    const kernels::AxisSplit s = kernels::split_at(x.shape(), axis);
    const std::size_t m = index.shape()[axis];
    Tensor<T> y = Tensor<T>::from_shape(Shape(index.shape().begin(), index.shape().end()));
    const T* px = x.data();
    const std::size_t* pi = index.data();
    T* py = y.data();
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t j = 0; j < m; ++j)
            for (std::size_t i = 0; i < s.inner; ++i) {
                const std::size_t at = (o * m + j) * s.inner + i;
                py[at] = px[(o * s.n + pi[at]) * s.inner + i];
            }
    return y;
}

template <class T>
Tensor<T> scatter_add_kernel(const Tensor<T>& src, std::size_t axis, const Tensor<std::size_t>& index,
                             const Shape& shape) {
    const kernels::AxisSplit s = kernels::split_at(shape, axis);
    const std::size_t m = index.shape()[axis];
    Tensor<T> y(shape, T(0));
    const T* ps = src.data();
    const std::size_t* pi = index.data();
    T* py = y.data();
    for (std::size_t o = 0; o < s.outer; ++o)
        for (std::size_t j = 0; j < m; ++j)
            for (std::size_t i = 0; i < s.inner; ++i) {
                const std::size_t at = (o * m + j) * s.inner + i;
                py[(o * s.n + pi[at]) * s.inner + i] += ps[at];
            }
    return y;
}

Shape with_axis(Shape shape, std::size_t axis, std::size_t size) {
    shape[axis] = size;
    return shape;
}

// ---------------------------------------------------------------- ops

/// y = x in another shape.   dx = g in x's shape
template <class T>
struct Reshape final : Op<Reshape<T>, T, 1> {
    const char* op_name() const noexcept override { return "reshape"; }
    template <class G>
    void backward(VjpArgs<G>& a) const { a.dx[0] = dual::reshape(std::move(a.g), a.x(0).shape()); }
};

/// y = x with axes reordered.   dx = g with the inverse order
template <class T>
struct Permute final : Op<Permute<T>, T, 1> {
    explicit Permute(std::vector<std::size_t> perm) : perm(std::move(perm)) {}
    const char* op_name() const noexcept override { return "permute"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        std::vector<std::size_t> inverse(perm.size());
        for (std::size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = i;
        a.dx[0] = dual::permute(a.g, inverse);
    }
    std::string describe() const override { return fmt::format("axes=({})", fmt::join(perm, ",")); }
    std::vector<std::size_t> perm;
};

/// y = x[start : start + m*step : step] along axis.   dx = g placed back into zeros
template <class T>
struct Slice final : Op<Slice<T>, T, 1> {
    Slice(std::size_t axis, std::size_t start, std::size_t step) : axis(axis), start(start), step(step) {}
    const char* op_name() const noexcept override { return "slice"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const Shape& xs = a.x(0).shape();
        if constexpr (is_variable_v<G>) {
            a.dx[0] = detail::slice_scatter(xs, axis, start, step, a.g);
        } else {
            a.dx[0] = add_rows(a.g, axis, strided_rows(start, a.g.shape()[axis], step), xs);
        }
    }
    std::string describe() const override { return fmt::format("axis={}, start={}, step={}", axis, start, step); }
    std::size_t axis, start, step;
};

/// y = zeros(shape) with src at start, start+step, ... along axis.   dsrc = slice of g
template <class T>
struct SliceScatter final : Op<SliceScatter<T>, T, 1> {
    SliceScatter(std::size_t axis, std::size_t start, std::size_t step) : axis(axis), start(start), step(step) {}
    const char* op_name() const noexcept override { return "slice_scatter"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const std::size_t m = a.x(0).shape()[axis];
        if constexpr (is_variable_v<G>) {
            const std::size_t stop = m == 0 ? start : start + (m - 1) * step + 1;
            a.dx[0] = slice(a.g, int(axis), std::ptrdiff_t(start), std::ptrdiff_t(stop), std::ptrdiff_t(step));
        } else {
            a.dx[0] = take_rows(a.g, axis, strided_rows(start, m, step), a.x(0).shape());
        }
    }
    std::size_t axis, start, step;
};

/// y = x[indices] along axis.   dx = g added into zeros at indices
template <class T>
struct IndexSelect final : Op<IndexSelect<T>, T, 1> {
    IndexSelect(std::size_t axis, Indices indices) : axis(axis), indices(std::move(indices)) {}
    const char* op_name() const noexcept override { return "index_select"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if constexpr (is_variable_v<G>)
            a.dx[0] = detail::index_add(a.x(0).shape(), axis, indices, a.g);
        else
            a.dx[0] = add_rows(a.g, axis, indices, a.x(0).shape());
    }
    void release_saved() noexcept { indices = Indices(); }
    std::size_t axis;
    Indices indices;
};

/// y = zeros(shape) + src at indices along axis.   dsrc = g[indices]
template <class T>
struct IndexAdd final : Op<IndexAdd<T>, T, 1> {
    IndexAdd(std::size_t axis, Indices indices) : axis(axis), indices(std::move(indices)) {}
    const char* op_name() const noexcept override { return "index_add"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if constexpr (is_variable_v<G>)
            a.dx[0] = index_select(a.g, int(axis), indices);
        else
            a.dx[0] = take_rows(a.g, axis, indices, a.x(0).shape());
    }
    void release_saved() noexcept { indices = Indices(); }
    std::size_t axis;
    Indices indices;
};

/// y[.., j, ..] = x[.., index[.., j, ..], ..].   dx = g scattered-added at index
template <class T>
struct Gather final : Op<Gather<T>, T, 1> {
    Gather(std::size_t axis, Tensor<std::size_t> index) : axis(axis), index(std::move(index)) {}
    const char* op_name() const noexcept override { return "gather"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if constexpr (is_variable_v<G>)
            a.dx[0] = detail::scatter_add(a.x(0).shape(), axis, index, a.g);
        else
            a.dx[0] = scatter_add_kernel(a.g, axis, index, a.x(0).shape());
    }
    void release_saved() noexcept { index = Tensor<std::size_t>(); }
    std::size_t axis;
    Tensor<std::size_t> index;
};

/// y = zeros(shape) + src scattered at index.   dsrc = gather(g, index)
template <class T>
struct ScatterAdd final : Op<ScatterAdd<T>, T, 1> {
    ScatterAdd(std::size_t axis, Tensor<std::size_t> index) : axis(axis), index(std::move(index)) {}
    const char* op_name() const noexcept override { return "scatter_add"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if constexpr (is_variable_v<G>)
            a.dx[0] = gather(a.g, int(axis), index);
        else
            a.dx[0] = gather_kernel(a.g, axis, index);
    }
    void release_saved() noexcept { index = Tensor<std::size_t>(); }
    std::size_t axis;
    Tensor<std::size_t> index;
};

/// y = inputs joined along axis.   dx_k = the k-th block of g
template <class T>
struct Concat final : Op<Concat<T>, T, 0> {
    explicit Concat(std::size_t axis) : axis(axis) {}
    const char* op_name() const noexcept override { return "concat"; }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        std::size_t offset = 0;
        for (std::size_t k = 0; k < this->num_inputs; ++k) {
            const std::size_t n = a.x(k).shape()[axis];
            if (a.want(k)) {
                if constexpr (is_variable_v<G>)
                    a.dx[k] = slice(a.g, int(axis), std::ptrdiff_t(offset), std::ptrdiff_t(offset + n));
                else
                    a.dx[k] = take_rows(a.g, axis, strided_rows(offset, n, 1), a.x(k).shape());
            }
            offset += n;
        }
    }
    std::size_t axis;
};

Shape infer_shape(const char* op, const Shape& from, std::initializer_list<std::ptrdiff_t> dims) {
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

}  // namespace

template <class T>
Variable<T> reshape(const Variable<T>& x, const Shape& shape) {
    const std::size_t size = shape_size(shape, "reshape");
    if (size != x.size())
        throw Error(fmt::format("reshape: cannot reshape {} ({} elements) into {} ({} elements)",
                                shape_string(x.shape()), x.size(), shape_string(shape), size));
    if (shape == x.shape()) return x;
    Tensor<T> y = x.value();
    y.reshape(shape);
    return record<Reshape<T>>(std::move(y), {&x});
}

template <class T>
Variable<T> reshape(const Variable<T>& x, std::initializer_list<std::ptrdiff_t> shape) {
    return reshape(x, infer_shape("reshape", x.shape(), shape));
}

template <class T>
Variable<T> flatten(const Variable<T>& x, int start_axis, int end_axis) {
    const std::size_t nd = x.dim();
    if (nd == 0) return reshape(x, Shape{1});
    const std::size_t s = kernels::normalize_axis("flatten", start_axis, nd);
    const std::size_t e = kernels::normalize_axis("flatten", end_axis, nd);
    if (s > e) throw Error(fmt::format("flatten: start axis {} comes after end axis {}", start_axis, end_axis));
    Shape out;
    for (std::size_t i = 0; i < s; ++i) out.push_back(x.shape()[i]);
    std::size_t merged = 1;  // may wrap when another dimension is 0
    for (std::size_t i = s; i <= e; ++i) merged = checked_mul("flatten", "the merged dimension", merged, x.shape()[i]);
    out.push_back(merged);
    for (std::size_t i = e + 1; i < nd; ++i) out.push_back(x.shape()[i]);
    return reshape(x, out);
}

template <class T>
Variable<T> squeeze(const Variable<T>& x) {
    Shape out;
    for (std::size_t d : x.shape())
        if (d != 1) out.push_back(d);
    return reshape(x, out);
}

template <class T>
Variable<T> squeeze(const Variable<T>& x, int axis) {
    const std::size_t a = kernels::normalize_axis("squeeze", axis, x.dim());
    if (x.shape()[a] != 1)
        throw Error(fmt::format("squeeze: axis {} of shape {} has size {}, not 1", axis, shape_string(x.shape()),
                                x.shape()[a]));
    Shape out = x.shape();
    out.erase(out.begin() + std::ptrdiff_t(a));
    return reshape(x, out);
}

template <class T>
Variable<T> unsqueeze(const Variable<T>& x, int axis) {
    const std::size_t a = kernels::normalize_axis("unsqueeze", axis, x.dim() + 1);
    Shape out;
    for (std::size_t i = 0; i <= x.dim(); ++i) {
        if (i == a) out.push_back(1);
        if (i < x.dim()) out.push_back(x.shape()[i]);
    }
    return reshape(x, out);
}

template <class T>
Variable<T> permute(const Variable<T>& x, const Axes& axes) {
    const std::size_t nd = x.dim();
    if (axes.size() != nd)
        throw Error(fmt::format("permute: {} axes given for a value of shape {}", axes.size(),
                                shape_string(x.shape())));
    std::vector<std::size_t> perm;
    std::vector<char> seen(nd, 0);
    for (int a : axes) {
        const std::size_t p = kernels::normalize_axis("permute", a, nd);
        if (seen[p]) throw Error(fmt::format("permute: axis {} is given twice", a));
        seen[p] = 1;
        perm.push_back(p);
    }
    bool identity = true;
    for (std::size_t i = 0; i < nd; ++i) identity = identity && perm[i] == i;
    if (identity) return x;
    return record<Permute<T>>(kernels::permute(x.value(), perm), {&x}, perm);
}

template <class T>
Variable<T> transpose(const Variable<T>& x) {
    Axes axes(x.dim());
    std::iota(axes.rbegin(), axes.rend(), 0);
    return permute(x, axes);
}

template <class T>
Variable<T> transpose(const Variable<T>& x, int axis0, int axis1) {
    const std::size_t nd = x.dim();
    const std::size_t a = kernels::normalize_axis("transpose", axis0, nd);
    const std::size_t b = kernels::normalize_axis("transpose", axis1, nd);
    Axes axes(nd);
    std::iota(axes.begin(), axes.end(), 0);
    std::swap(axes[a], axes[b]);
    return permute(x, axes);
}

template <class T>
Variable<T> slice(const Variable<T>& x, int axis, std::ptrdiff_t start, std::ptrdiff_t stop, std::ptrdiff_t step) {
    const std::size_t a = kernels::normalize_axis("slice", axis, x.dim());
    if (step < 1) throw Error(fmt::format("slice: step must be >= 1, got {}", step));
    const std::ptrdiff_t n = std::ptrdiff_t(x.shape()[a]);
    auto clip = [n](std::ptrdiff_t i) { return std::clamp(i < 0 ? i + n : i, std::ptrdiff_t(0), n); };
    const std::ptrdiff_t b = clip(start), e = clip(stop);
    const std::size_t m = e > b ? std::size_t((e - b + step - 1) / step) : 0;
    const Shape out = with_axis(x.shape(), a, m);
    return record<Slice<T>>(take_rows(x.value(), a, strided_rows(std::size_t(b), m, std::size_t(step)), out), {&x},
                            a, std::size_t(b), std::size_t(step));
}

template <class T>
Variable<T> index_select(const Variable<T>& x, int axis, const Indices& indices) {
    const std::size_t a = kernels::normalize_axis("index_select", axis, x.dim());
    const std::size_t n = x.shape()[a];
    for (std::size_t j = 0; j < indices.size(); ++j)
        if (indices[j] >= n)
            throw Error(fmt::format("index_select: index {} (at position {}) is out of range for axis {} of size {}",
                                    indices[j], j, axis, n));
    const Shape out = with_axis(x.shape(), a, indices.size());
    shape_size(out, "index_select");
    return record<IndexSelect<T>>(take_rows(x.value(), a, indices, out), {&x}, a, indices);
}

template <class T>
Variable<T> gather(const Variable<T>& x, int axis, const Tensor<std::size_t>& index) {
    const std::size_t a = kernels::normalize_axis("gather", axis, x.dim());
    const auto& is = index.shape();
    bool ok = is.size() == x.dim();
    for (std::size_t d = 0; ok && d < is.size(); ++d) ok = d == a || is[d] == x.shape()[d];
    if (!ok)
        throw Error(fmt::format("gather: index of shape {} must have the shape of x {} except along axis {}",
                                shape_string(is), shape_string(x.shape()), axis));
    const std::size_t n = x.shape()[a];
    for (std::size_t j = 0; j < index.size(); ++j)
        if (index.data()[j] >= n)
            throw Error(fmt::format("gather: index {} (flat position {}) is out of range for axis {} of size {}",
                                    index.data()[j], j, axis, n));
    return record<Gather<T>>(gather_kernel(x.value(), a, index), {&x}, a, index);
}

template <class T>
Variable<T> concat(const std::vector<Variable<T>>& xs, int axis) {
    if (xs.empty()) throw Error("concat: no values given");
    const Shape& first = xs[0].shape();
    const std::size_t a = kernels::normalize_axis("concat", axis, first.size());
    std::size_t total = 0;
    for (std::size_t k = 0; k < xs.size(); ++k) {
        const Shape& s = xs[k].shape();
        bool ok = s.size() == first.size();
        for (std::size_t d = 0; ok && d < s.size(); ++d) ok = d == a || s[d] == first[d];
        if (!ok)
            throw Error(fmt::format("concat: value {} has shape {}, which does not match {} outside axis {}", k,
                                    shape_string(s), shape_string(first), axis));
        total = checked_add("concat", "the joined dimension", total, s[a]);
    }
    const Shape out = with_axis(first, a, total);
    shape_size(out, "concat");
    Tensor<T> y = Tensor<T>::from_shape(out);
    const kernels::AxisSplit s = kernels::split_at(out, a);
    T* py = y.data();
    for (std::size_t o = 0; o < s.outer; ++o)
        for (const auto& x : xs) {
            const std::size_t block = x.shape()[a] * s.inner;
            const T* src = x.value().data() + o * block;
            py = std::copy(src, src + block, py);
        }
    std::vector<const Variable<T>*> inputs;
    for (const auto& x : xs) inputs.push_back(&x);
    return record_n<Concat<T>>(std::move(y), inputs, a);
}

template <class T>
Variable<T> stack(const std::vector<Variable<T>>& xs, int axis) {
    if (xs.empty()) throw Error("stack: no values given");
    const std::size_t a = kernels::normalize_axis("stack", axis, xs[0].dim() + 1);
    std::vector<Variable<T>> parts;
    for (std::size_t k = 0; k < xs.size(); ++k) {
        if (xs[k].shape() != xs[0].shape())
            throw Error(fmt::format("stack: value {} has shape {}, value 0 has {}", k, shape_string(xs[k].shape()),
                                    shape_string(xs[0].shape())));
        parts.push_back(unsqueeze(xs[k], int(a)));
    }
    return concat(parts, int(a));
}

namespace detail {

template <class T>
Variable<T> index_add(const Shape& shape, std::size_t axis, const Indices& indices, const Variable<T>& src) {
    return record<IndexAdd<T>>(add_rows(src.value(), axis, indices, shape), {&src}, axis, indices);
}

template <class T>
Variable<T> scatter_add(const Shape& shape, std::size_t axis, const Tensor<std::size_t>& index,
                        const Variable<T>& src) {
    return record<ScatterAdd<T>>(scatter_add_kernel(src.value(), axis, index, shape), {&src}, axis, index);
}

template <class T>
Variable<T> slice_scatter(const Shape& shape, std::size_t axis, std::size_t start, std::size_t step,
                          const Variable<T>& src) {
    const Indices rows = strided_rows(start, src.shape()[axis], step);
    return record<SliceScatter<T>>(add_rows(src.value(), axis, rows, shape), {&src}, axis, start, step);
}

}  // namespace detail

#define TAPEGRAD_INSTANTIATE(T)                                                                                 \
    template Variable<T> reshape(const Variable<T>&, const Shape&);                                             \
    template Variable<T> reshape(const Variable<T>&, std::initializer_list<std::ptrdiff_t>);                    \
    template Variable<T> flatten(const Variable<T>&, int, int);                                                 \
    template Variable<T> squeeze(const Variable<T>&);                                                           \
    template Variable<T> squeeze(const Variable<T>&, int);                                                      \
    template Variable<T> unsqueeze(const Variable<T>&, int);                                                    \
    template Variable<T> transpose(const Variable<T>&);                                                         \
    template Variable<T> transpose(const Variable<T>&, int, int);                                               \
    template Variable<T> permute(const Variable<T>&, const Axes&);                                              \
    template Variable<T> slice(const Variable<T>&, int, std::ptrdiff_t, std::ptrdiff_t, std::ptrdiff_t);       \
    template Variable<T> index_select(const Variable<T>&, int, const Indices&);                                 \
    template Variable<T> gather(const Variable<T>&, int, const Tensor<std::size_t>&);                           \
    template Variable<T> concat(const std::vector<Variable<T>>&, int);                                          \
    template Variable<T> stack(const std::vector<Variable<T>>&, int);                                           \
    template Variable<T> detail::index_add(const Shape&, std::size_t, const Indices&, const Variable<T>&);       \
    template Variable<T> detail::scatter_add(const Shape&, std::size_t, const Tensor<std::size_t>&,             \
                                             const Variable<T>&);                                               \
    template Variable<T> detail::slice_scatter(const Shape&, std::size_t, std::size_t, std::size_t,             \
                                               const Variable<T>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad
