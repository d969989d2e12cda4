// Shape ops: reshape (and flatten, squeeze, unsqueeze on top of it), permute (and transpose).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <algorithm>
#include <numeric>
#include <vector>

#include <tapegrad/autograd/kernels/layout.hpp>
#include <tapegrad/autograd/op.hpp>
#include <tapegrad/autograd/vjp.hpp>

namespace tapegrad {

namespace vjp {
template <class E>
decltype(auto) reshape(E&& g, const Shape& shape);
template <class G>
G permute(const G& g, const std::vector<std::size_t>& perm);
}  // namespace vjp

/// The op behind reshape(); its formula line states y and the VJP.
template <class T>
struct Reshape {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "reshape";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula = "y = x in another shape   dx = g in x's shape";
    Shape shape;
    Tensor<T> forward(const Tensor<T>& x) const {
        const std::size_t size = shape_size(shape, name);
        if (size != x.size())
            throw Error(detail::message("reshape: cannot reshape ", shape_string(x.shape()), " (", x.size(),
                                        " elements) into ", shape_string(shape), " (", size, " elements)"));
        Tensor<T> y = x;
        y.reshape(shape);
        return y;
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::reshape(std::move(a.g), a.x(0).shape());
    }
    ///@}
};

/// The op behind permute(); its formula line states y and the VJP.
template <class T>
struct Permute {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "permute";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula = "y = x with axes reordered   dx = g with the inverse order";
    std::vector<std::size_t> perm;
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::permute(x, perm); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        std::vector<std::size_t> inverse(perm.size());
        for (std::size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = i;
        a.dx[0] = vjp::permute(a.g, inverse);
    }
    std::string describe() const { return "axes=(" + detail::join(perm) + ")"; }
    ///@}
};

/// The same elements in a new shape of the same size.
template <class T>
Variable<T> reshape(const Variable<T>& x, const Shape& shape) {
    return shape_equal(shape, x.shape()) ? x : apply(Reshape<T>{shape}, x);
}
/// As above; one dimension may be -1 and is then inferred, e.g. reshape(x, {batch, -1}).
template <class T>
Variable<T> reshape(const Variable<T>& x, std::initializer_list<std::ptrdiff_t> shape) {
    return reshape(x, kernels::infer_shape("reshape", x.shape(), shape));
}
/// Dimensions start_axis..end_axis merged into one.
template <class T>
Variable<T> flatten(const Variable<T>& x, int start_axis = 0, int end_axis = -1) {
    return reshape(x, kernels::flattened_shape(x.shape(), start_axis, end_axis));
}
/// All size-1 dimensions removed.
template <class T>
Variable<T> squeeze(const Variable<T>& x) {
    return reshape(x, kernels::squeezed_shape(x.shape()));
}
/// Dimension `axis` (which must have size 1) removed.
template <class T>
Variable<T> squeeze(const Variable<T>& x, int axis) {
    return reshape(x, kernels::squeezed_shape(x.shape(), axis));
}
/// A size-1 dimension inserted at `axis` (-1 appends).
template <class T>
Variable<T> unsqueeze(const Variable<T>& x, int axis) {
    return reshape(x, kernels::unsqueezed_shape(x.shape(), axis));
}

/// Axes reordered: output axis i is input axis axes[i].
template <class T>
Variable<T> permute(const Variable<T>& x, const Axes& axes) {
    std::vector<std::size_t> perm = kernels::permutation("permute", axes, x.shape());
    const bool identity = std::is_sorted(perm.begin(), perm.end());
    return identity ? x : apply(Permute<T>{std::move(perm)}, x);
}
/// Axes reversed (the matrix transpose for 2-D values).
template <class T>
Variable<T> transpose(const Variable<T>& x) {
    Axes axes(x.dim());
    std::iota(axes.rbegin(), axes.rend(), 0);
    return permute(x, axes);
}
/// Two axes swapped.
template <class T>
Variable<T> transpose(const Variable<T>& x, int axis0, int axis1) {
    return permute(x, kernels::swapped_axes("transpose", x.dim(), axis0, axis1));
}

namespace vjp {
/// g in another shape; a tensor passed as an rvalue is reshaped in place and handed back itself
/// (use the result only as `a.dx[i] = vjp::reshape(...)`).
template <class E>
decltype(auto) reshape(E&& g, const Shape& shape) {
    using D = std::decay_t<E>;
    if constexpr (records<D>) {
        return tapegrad::reshape(g, shape);
    } else if constexpr (std::is_rvalue_reference_v<E&&>) {
        g.reshape(shape);
        return std::move(g);
    } else {
        D t = g;
        t.reshape(shape);
        return t;
    }
}
/// g with its axes reordered: output axis i is axis perm[i] of g.
template <class G>
G permute(const G& g, const std::vector<std::size_t>& perm) {
    return vjp::apply(Permute<typename G::value_type>{perm}, g);
}
}  // namespace vjp

/// The shape ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::shape> {
    using type = OpList<Reshape, Permute>;
};

}  // namespace tapegrad
