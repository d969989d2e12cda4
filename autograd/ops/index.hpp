// Index ops in adjoint pairs: slice / slice_scatter, index_select / index_add, gather / scatter_add; concat, stack.
#pragma once

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <vector>

#include <tapegrad/autograd/kernels/layout.hpp>
#include <tapegrad/autograd/op.hpp>
#include <tapegrad/autograd/ops/shape.hpp>
#include <tapegrad/autograd/vjp.hpp>

namespace tapegrad {

template <class T>
struct SliceScatter;
template <class T>
struct IndexAdd;
template <class T>
struct ScatterAdd;

/// The op behind slice(); its formula line states y and the VJP.
template <class T>
struct Slice {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "slice";
    static constexpr const char* formula =
        "y = x[start : start + count*step : step] along axis   dx = g placed back into zeros";
    std::size_t axis, start, step, count;
    Tensor<T> forward(const Tensor<T>& x) const {
        return kernels::take_rows(x, axis, kernels::strided_rows(start, count, step),
                                  kernels::with_axis(x.shape(), axis, count));
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(SliceScatter<T>{axis, start, step, a.x(0).shape()}, a.g);
    }
    std::string describe() const { return detail::message("axis=", axis, ", start=", start, ", step=", step); }
    ///@}
};

/// The op behind slice_scatter(); its formula line states y and the VJP.
template <class T>
struct SliceScatter {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "slice_scatter";
    static constexpr const char* formula =
        "y = zeros(shape) with src at start, start+step, ... along axis   dsrc = slice of g";
    std::size_t axis, start, step;
    Shape shape;
    Tensor<T> forward(const Tensor<T>& src) const {
        return kernels::add_rows(src, axis, kernels::strided_rows(start, src.shape()[axis], step), shape);
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(Slice<T>{axis, start, step, a.x(0).shape()[axis]}, a.g);
    }
    ///@}
};

/// The op behind index_select(); its formula line states y and the VJP.
template <class T>
struct IndexSelect {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "index_select";
    static constexpr const char* formula = "y = x[indices] along axis   dx = g added into zeros at indices";
    std::size_t axis;
    std::shared_ptr<const Indices> indices;
    Tensor<T> forward(const Tensor<T>& x) const {
        const Shape out = kernels::with_axis(x.shape(), axis, indices->size());
        shape_size(out, name);
        return kernels::take_rows(x, axis, *indices, out);
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(IndexAdd<T>{axis, indices, a.x(0).shape()}, a.g);
    }
    void release() { indices.reset(); }
    ///@}
};

/// The op behind index_add(); its formula line states y and the VJP.
template <class T>
struct IndexAdd {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "index_add";
    static constexpr const char* formula = "y = zeros(shape) + src added at indices along axis   dsrc = g[indices]";
    std::size_t axis;
    std::shared_ptr<const Indices> indices;
    Shape shape;
    Tensor<T> forward(const Tensor<T>& src) const { return kernels::add_rows(src, axis, *indices, shape); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(IndexSelect<T>{axis, indices}, a.g);
    }
    void release() { indices.reset(); }
    ///@}
};

/// The op behind gather(); its formula line states y and the VJP.
template <class T>
struct Gather {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "gather";
    static constexpr const char* formula = "y[.., j, ..] = x[.., index[.., j, ..], ..]   dx = g scatter-added at index";
    std::size_t axis;
    std::shared_ptr<const Tensor<std::size_t>> index;
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::gather(x, axis, *index); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(ScatterAdd<T>{axis, index, a.x(0).shape()}, a.g);
    }
    void release() { index.reset(); }
    ///@}
};

/// The op behind scatter_add(); its formula line states y and the VJP.
template <class T>
struct ScatterAdd {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "scatter_add";
    static constexpr const char* formula = "y = zeros(shape) + src scattered at index   dsrc = gather(g, index)";
    std::size_t axis;
    std::shared_ptr<const Tensor<std::size_t>> index;
    Shape shape;
    Tensor<T> forward(const Tensor<T>& src) const { return kernels::scatter_add(src, axis, *index, shape); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(Gather<T>{axis, index}, a.g);
    }
    void release() { index.reset(); }
    ///@}
};

/// The op behind concat(); its formula line states y and the VJP.
template <class T>
struct Concat {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "concat";
    static constexpr const char* formula = "y = inputs joined along axis   dx_k = the k-th block of g";
    std::size_t axis;
    std::vector<std::size_t> sizes;  // of each input along the axis, noted by forward
    Tensor<T> forward(const std::vector<const Tensor<T>*>& xs) {
        sizes.clear();
        for (const Tensor<T>* x : xs) sizes.push_back(x->shape()[axis]);
        return kernels::concat(xs, axis);
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        std::size_t offset = 0;
        for (std::size_t k = 0; k < sizes.size(); ++k) {
            if (a.want(k)) a.dx[k] = vjp::apply(Slice<T>{axis, offset, 1, sizes[k]}, a.g);
            offset += sizes[k];
        }
    }
    ///@}
};

/// Elements start, start+step, ... before stop along `axis`; negative start/stop count from
/// the end and out-of-range bounds are clipped, as in Python.
template <class T>
Variable<T> slice(const Variable<T>& x, int axis, std::ptrdiff_t start, std::ptrdiff_t stop, std::ptrdiff_t step = 1) {
    const std::size_t a = kernels::normalize_axis("slice", axis, x.dim());
    if (step < 1) throw Error(detail::message("slice: step must be >= 1, got ", step));
    const std::ptrdiff_t n = std::ptrdiff_t(x.shape()[a]);
    auto clip = [n](std::ptrdiff_t i) { return std::clamp(i < 0 ? i + n : i, std::ptrdiff_t(0), n); };
    const std::ptrdiff_t b = clip(start), e = clip(stop);
    const std::size_t count = e > b ? std::size_t((e - b + step - 1) / step) : 0;
    return apply(Slice<T>{a, std::size_t(b), std::size_t(step), count}, x);
}
/// Zeros of `shape` with src placed at start, start+step, ... along `axis` (the adjoint of slice).
template <class T>
Variable<T> slice_scatter(const Shape& shape, std::size_t axis, std::size_t start, std::size_t step,
                          const Variable<T>& src) {
    return apply(SliceScatter<T>{axis, start, step, shape}, src);
}

/// The entries `indices` along `axis` (repeats allowed).
template <class T>
Variable<T> index_select(const Variable<T>& x, int axis, const Indices& indices) {
    const std::size_t a = kernels::normalize_axis("index_select", axis, x.dim());
    kernels::check_indices("index_select", indices, x.shape()[a], axis);
    return apply(IndexSelect<T>{a, std::make_shared<const Indices>(indices)}, x);
}
/// Zeros of `shape` with src added at `indices` along `axis` (the adjoint of index_select).
template <class T>
Variable<T> index_add(const Shape& shape, std::size_t axis, const Indices& indices, const Variable<T>& src) {
    return apply(IndexAdd<T>{axis, std::make_shared<const Indices>(indices), shape}, src);
}

/// out[.., j, ..] = x[.., index[.., j, ..], ..] along `axis`; index has x's rank and, apart
/// from `axis`, x's shape. With axis 1 and an (N,1) index of labels it picks one class per row.
template <class T>
Variable<T> gather(const Variable<T>& x, int axis, const Tensor<std::size_t>& index) {
    const std::size_t a = kernels::check_gather_index("gather", x.shape(), axis, index);
    return apply(Gather<T>{a, std::make_shared<const Tensor<std::size_t>>(index)}, x);
}
/// Zeros of `shape` with src added at `index` along `axis` (the adjoint of gather).
template <class T>
Variable<T> scatter_add(const Shape& shape, std::size_t axis, const Tensor<std::size_t>& index,
                        const Variable<T>& src) {
    return apply(ScatterAdd<T>{axis, std::make_shared<const Tensor<std::size_t>>(index), shape}, src);
}

/// Values joined along an existing axis.
template <class T>
Variable<T> concat(const std::vector<Variable<T>>& xs, int axis = 0) {
    std::vector<Shape> shapes;
    for (const Variable<T>& x : xs) shapes.push_back(x.shape());
    return apply(Concat<T>{kernels::check_concat(shapes, axis), {}}, xs);
}
/// concat({x, h}, 1): a braced list of Variables.
template <class T>
Variable<T> concat(std::initializer_list<Variable<T>> xs, int axis = 0) {
    return concat(std::vector<Variable<T>>(xs), axis);
}
/// Values of one shape stacked along a new axis.
template <class T>
Variable<T> stack(const std::vector<Variable<T>>& xs, int axis = 0) {
    if (xs.empty()) throw Error("stack: no values given");
    const std::size_t a = kernels::normalize_axis("stack", axis, xs[0].dim() + 1);
    std::vector<Variable<T>> parts;
    for (std::size_t k = 0; k < xs.size(); ++k) {
        if (xs[k].shape() != xs[0].shape())
            throw Error(detail::message("stack: value ", k, " has shape ", shape_string(xs[k].shape()),
                                        ", value 0 has ", shape_string(xs[0].shape())));
        parts.push_back(unsqueeze(xs[k], int(a)));
    }
    return concat(parts, int(a));
}
/// stack({x, y}): a braced list of Variables.
template <class T>
Variable<T> stack(std::initializer_list<Variable<T>> xs, int axis = 0) {
    return stack(std::vector<Variable<T>>(xs), axis);
}

/// The index ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::index> {
    using type = OpList<Slice, SliceScatter, IndexSelect, IndexAdd, Gather, ScatterAdd, Concat>;
};

}  // namespace tapegrad
