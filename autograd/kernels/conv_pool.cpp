// conv2d -> relu -> max pooling: the forward and the plain backward of the fused op.
#include <tapegrad/autograd/kernels/conv_pool.hpp>

#include <type_traits>

#include <tapegrad/autograd/kernels/activation.hpp>
#include <tapegrad/autograd/kernels/detail/conv_onednn.hpp>

namespace tapegrad::kernels {

template <class T>
Tensor<T> conv_relu_max_pool(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>* b, const ConvGeom& cg,
                             const PoolGeom& pg, PoolIndices& idx) {
    if (!(std::is_same_v<T, float> && onednn_preferred(cg))) return im2col_conv_relu_max_pool(x, w, b, cg, pg, idx);
    // oneDNN writes the whole activation: it lives only for the pooling, its block back to the allocator at once
    const Tensor<T> c = conv_forward(x, w, b, cg, true);
    return max_pool(c, pg, idx);
}

template <class T>
void conv_relu_max_pool_backward(const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& y, Tensor<T>& gy,
                                 const PoolIndices& idx, const ConvGeom& cg, Tensor<T>* dx, Tensor<T>* dw,
                                 Tensor<T>* db) {
    check_output_grad("conv2d_relu_max_pool2d", gy.shape(), y.shape());
    // relu's mask on the pooled values: the activation at each maximum is the pooled value itself, and a
    // position no window picked gets 0 either way.
    relu_mask_inplace(gy.data(), y.data(), gy.size());
    // im2col's weight gradient alone (a first layer: no dx) adds each image's gradient back just before its GEMM
    const bool onednn_shape = std::is_same_v<T, float> && onednn_preferred(cg);
    if (!dx && !onednn_shape && im2col_conv_relu_max_pool_weight_grad(x, gy, idx, cg, dw, db)) return;
    const Tensor<T> gc = scatter_add_at(gy, idx, cg.output_shape());
    conv_backward(x, w, gc, cg, dx, dw, db);
}

#define TAPEGRAD_INSTANTIATE(T)                                                                                  \
    template Tensor<T> conv_relu_max_pool(const Tensor<T>&, const Tensor<T>&, const Tensor<T>*, const ConvGeom&, \
                                          const PoolGeom&, PoolIndices&);                                        \
    template void conv_relu_max_pool_backward(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&, Tensor<T>&,  \
                                              const PoolIndices&, const ConvGeom&, Tensor<T>*, Tensor<T>*,       \
                                              Tensor<T>*);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::kernels
