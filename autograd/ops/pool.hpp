// Pooling over NCHW images: max (keeps the positions of the maxima), average, and Lp pooling.
//
//   max_pool2d (a gather at the argmax positions) -> pool_scatter (adds back at them) -> pool_gather
//   avg_pool2d <-> avg_pool2d_adjoint (both linear, each the transpose of the other)
#pragma once

#include <cmath>
#include <limits>
#include <memory>

#include <tapegrad/autograd/kernels/pool.hpp>
#include <xtensor/xoperation.hpp>

#include <tapegrad/autograd/ops/arithmetic.hpp>
#include <tapegrad/autograd/ops/window_options.hpp>

namespace tapegrad {

using PoolIndexList = std::shared_ptr<const kernels::PoolIndices>;

template <class T>
struct PoolScatter;

/// Picks the pooled positions (max_pool2d()'s argmax): the backward of PoolScatter.
template <class T>
struct PoolGather {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "pool_gather";
    static constexpr const char* formula = "y = x at the kept positions   dx = pool_scatter(g)";
    PoolIndexList idx;
    Shape out_shape;
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::gather_at(x, *idx, out_shape); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(PoolScatter<T>{idx, a.x(0).shape()}, a.g);
    }
    void release() { idx.reset(); }
    ///@}
};

/// Adds the gradient back at the pooled positions: max_pool2d()'s VJP, as an op for create_graph.
template <class T>
struct PoolScatter {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "pool_scatter";
    static constexpr const char* formula = "y = zeros with g added at the kept positions   dg = h at those positions";
    PoolIndexList idx;
    Shape in_shape;
    Tensor<T> forward(const Tensor<T>& g) const { return kernels::scatter_add_at(g, *idx, in_shape); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(PoolGather<T>{idx, a.x(0).shape()}, a.g);
    }
    void release() { idx.reset(); }
    ///@}
};

/// The op behind max_pool2d(); its formula line states y and the VJP.
template <class T>
struct MaxPool2d {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "max_pool2d";
    static constexpr bool vjp_reads_inputs = false;  // op.hpp: frees unneeded values
    static constexpr bool vjp_reads_output = false;
    static constexpr const char* formula = "y = the maximum of each window   dx = g added at the maxima (pool_scatter)";
    kernels::PoolGeom geom;
    PoolIndexList idx;  // the positions of the maxima, noted by forward
    Tensor<T> forward(const Tensor<T>& x) {
        auto positions = std::make_shared<kernels::PoolIndices>();
        Tensor<T> y = kernels::max_pool(x, geom, *positions);
        idx = std::move(positions);
        return y;
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(PoolScatter<T>{idx, a.x(0).shape()}, a.g);
    }
    std::string describe() const { return geom.describe(); }
    void release() { idx.reset(); }
    ///@}
};

template <class T>
struct AvgPool2dAdjoint;

/// The op behind avg_pool2d(); its formula line states y and the VJP.
template <class T>
struct AvgPool2d {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "avg_pool2d";
    static constexpr const char* formula = "y = the mean of each window   dx = avg_pool2d_adjoint(g)";
    kernels::PoolGeom geom;
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::avg_pool(x, geom); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(AvgPool2dAdjoint<T>{geom}, a.g);
    }
    std::string describe() const { return geom.describe(); }
    ///@}
};

/// Spreads a gradient evenly over each window: avg_pool2d()'s VJP, as an op for create_graph.
template <class T>
struct AvgPool2dAdjoint {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "avg_pool2d_adjoint";
    static constexpr const char* formula = "y = g spread evenly over each window   dg = avg_pool2d(h)";
    kernels::PoolGeom geom;
    Tensor<T> forward(const Tensor<T>& g) const { return kernels::avg_pool_adjoint(g, geom); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(AvgPool2d<T>{geom}, a.g);
    }
    std::string describe() const { return geom.describe(); }
    ///@}
};

/// Largest value of each window of x (N, C, H, W); padding never wins. The positions of the
/// maxima are kept, and the gradient goes to them alone.
template <class T>
Variable<T> max_pool2d(const Variable<T>& x, const Pool2dOptions& options) {
    const kernels::PoolGeom g = kernels::check_pool("max_pool2d", x.shape(), options, true);
    if (x.size() > std::numeric_limits<kernels::PoolIndex>::max())
        throw Error(detail::message("max_pool2d: input ", shape_string(x.shape()), " has more than 2^32 elements"));
    return apply(MaxPool2d<T>{g, nullptr}, x);
}
/// Mean of each window of x (N, C, H, W).
template <class T>
Variable<T> avg_pool2d(const Variable<T>& x, const Pool2dOptions& options) {
    return apply(AvgPool2d<T>{kernels::check_pool("avg_pool2d", x.shape(), options, false)}, x);
}
/// (sum of x^p over each window)^(1/p); p = 2 is the L2 pooling of Nielsen's book. Made of
/// pow and avg_pool2d, so its gradient needs nothing of its own (it is infinite where a
/// whole window is 0, as for sqrt).
template <class T>
Variable<T> lp_pool2d(const Variable<T>& x, double p, const Pool2dOptions& options) {
    if (!(p > 0) || !std::isfinite(p))
        throw Error(detail::message("lp_pool2d: p must be positive and finite, got ", p));
    Pool2dOptions sum_options = options;
    sum_options.count_include_pad(true);
    const kernels::PoolGeom g = kernels::check_pool("lp_pool2d", x.shape(), sum_options, false);
    const Variable<T> powered = p == 1 ? x : pow(x, T(p));
    Variable<T> sums = mul(apply(AvgPool2d<T>{g}, powered), T(g.kh * g.kw));
    // As PyTorch: no gradient through a window whose sum is exactly 0, where the root's derivative
    // is infinite (its inf would meet p x^(p-1) = 0 and give NaN).
    const Mask nonzero = xt::not_equal(sums.value(), T(0));
    if (!xt::all(nonzero)) sums = tapegrad::where(nonzero, sums, T(0));
    return p == 1 ? sums : pow(sums, T(1.0 / p));
}

/// The pool ops whose nodes the library compiles (see detail::OpList in op.hpp).
template <>
struct detail::BuiltinOps<detail::OpFamily::pool> {
    using type = OpList<PoolGather, PoolScatter, MaxPool2d, AvgPool2d, AvgPool2dAdjoint>;
};

}  // namespace tapegrad
