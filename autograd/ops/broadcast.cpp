// broadcast_to and sum_to: each other's VJP, which is what makes broadcasting differentiable twice.
#include <tapegrad/autograd/ops/broadcast.hpp>

#include <fmt/format.h>

#include <tapegrad/autograd/op.hpp>
#include <tapegrad/autograd/ops/dual.hpp>

namespace tapegrad {
namespace {

/// y = x repeated to a larger shape.   dx = sum_to(g, x.shape)
template <class T>
struct BroadcastTo final : Op<BroadcastTo<T>, T, 1> {
    const char* op_name() const noexcept override { return "broadcast_to"; }
    template <class G>
    void backward(VjpArgs<G>& a) const { a.dx[0] = sum_to(std::move(a.g), a.x(0).shape()); }
};

/// y = x summed down to a smaller shape.   dx = broadcast_to(g, x.shape)
template <class T>
struct SumTo final : Op<SumTo<T>, T, 1> {
    const char* op_name() const noexcept override { return "sum_to"; }
    template <class G>
    void backward(VjpArgs<G>& a) const { a.dx[0] = broadcast_to(a.g, a.x(0).shape()); }
};

}  // namespace

template <class T>
Variable<T> broadcast_to(const Variable<T>& x, const Shape& shape) {
    if (!kernels::broadcasts_to(x.shape(), shape))
        throw Error(fmt::format("broadcast_to: shape {} does not broadcast to {}", shape_string(x.shape()),
                                shape_string(shape)));
    if (shape_equal(x.shape(), shape)) return x;
    shape_size(shape, "broadcast_to");
    return record<BroadcastTo<T>>(kernels::broadcast_to(x.value(), shape), {&x});
}

template <class T>
Variable<T> sum_to(const Variable<T>& x, const Shape& shape) {
    if (!kernels::broadcasts_to(shape, x.shape()))
        throw Error(fmt::format("sum_to: shape {} does not broadcast to the input's shape {}", shape_string(shape),
                                shape_string(x.shape())));
    if (shape_equal(x.shape(), shape)) return x;
    shape_size(shape, "sum_to");  // (0, 2^32, 2^32) summed to (2^32, 2^32)
    return record<SumTo<T>>(kernels::sum_to(x.value(), shape), {&x});
}

template Variable<float> broadcast_to(const Variable<float>&, const Shape&);
template Variable<double> broadcast_to(const Variable<double>&, const Shape&);
template Variable<float> sum_to(const Variable<float>&, const Shape&);
template Variable<double> sum_to(const Variable<double>&, const Shape&);

}  // namespace tapegrad
