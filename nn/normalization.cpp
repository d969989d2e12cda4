// BatchNorm<T> (batch statistics in training, running ones in evaluation), LayerNorm<T> and RMSNorm<T>.
#include <tapegrad/nn/normalization.hpp>

#include <cmath>
#include <fmt/format.h>
#include <limits>

#include <tapegrad/autograd/factories.hpp>
#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/autograd/ops.hpp>
#include <tapegrad/nn/format.hpp>

namespace tapegrad::nn {

template <class T>
BatchNorm<T>::BatchNorm(std::size_t num_features, double eps, double momentum, bool affine, std::size_t min_rank,
                        std::size_t max_rank, const char* layer_name)
    : features_(num_features),
      eps_(eps),
      momentum_(momentum),
      affine_(affine),
      min_rank_(min_rank),
      max_rank_(max_rank),
      layer_name_(layer_name) {
    if (num_features == 0) throw Error(fmt::format("{}: num_features must be at least 1", label()));
    if (!(eps > 0)) throw Error(fmt::format("{}: eps must be > 0, got {}", label(), eps));
    if (!(momentum >= 0 && momentum <= 1))
        throw Error(fmt::format("{}: momentum must be in [0, 1], got {}", label(), momentum));
    if (affine) {
        this->register_parameter("weight", ones<T>({num_features}));
        this->register_parameter("bias", zeros<T>({num_features}));
    }
    this->register_buffer("running_mean", zeros<T>({num_features}));
    this->register_buffer("running_var", ones<T>({num_features}));
    batches_ = this->register_counter("num_batches_tracked");
}

template <class T>
Variable<T> BatchNorm<T>::forward(const Variable<T>& x) {
    const std::size_t rank = x.dim();
    if (rank < min_rank_ || rank > max_rank_ || x.shape()[1] != features_) {
        const std::string expected = max_rank_ == 4 ? fmt::format("(N,{},H,W)", features_)
                                                    : fmt::format("(N,{}) or (N,{},L)", features_, features_);
        throw Error(fmt::format("{}: expected input {}, got {}", label(), expected, shape_string(x.shape())));
    }
    Axes axes{0};
    Shape channel_shape{1, features_};  // (C,) viewed so that it broadcasts along axis 1
    for (std::size_t d = 2; d < rank; ++d) {
        axes.push_back(int(d));
        channel_shape.push_back(1);
    }
    Variable<T> normalized;
    if (this->is_training()) {
        const std::size_t count = x.size() / features_;
        if (count < 2)
            throw Error(fmt::format("{}: training needs more than one value per channel, got input {}", label(),
                                    shape_string(x.shape())));
        const Variable<T> mean = tapegrad::mean(x, axes, true);
        const Variable<T> centered = x - mean;
        const Variable<T> var = tapegrad::mean(centered * centered, axes, true);
        normalized = centered / sqrt(var + T(eps_));
        {  // running statistics, outside the graph
            NoGradGuard no_grad;
            const T m = T(momentum_), unbias = T(double(count) / double(count - 1));
            Tensor<T>& rm = Variable<T>(running_mean()).mutable_value();
            Tensor<T>& rv = Variable<T>(running_var()).mutable_value();
            const T* bm = mean.value().data();
            const T* bv = var.value().data();
            for (std::size_t c = 0; c < features_; ++c) {
                rm.data()[c] = (T(1) - m) * rm.data()[c] + m * bm[c];
                rv.data()[c] = (T(1) - m) * rv.data()[c] + m * bv[c] * unbias;
            }
            ++*batches_;
        }
    } else {
        const Variable<T> mean = reshape(running_mean(), channel_shape);
        const Variable<T> var = reshape(running_var(), channel_shape);
        normalized = (x - mean) / sqrt(var + T(eps_));
    }
    if (!affine_) return normalized;
    return normalized * reshape(this->parameter(0), channel_shape) + reshape(this->parameter(1), channel_shape);
}

template <class T>
std::string BatchNorm<T>::settings() const {
    return fmt::format("{}, eps={}, momentum={}, affine={}", features_, detail::format_number(eps_),
                       detail::format_number(momentum_), affine_);
}

template <class T>
std::string BatchNorm<T>::label() const {
    return fmt::format("{}({})", layer_name_, features_);
}

namespace {
/// The axes of the trailing `shape` in x, or an error naming `label`.
Axes trailing_axes(const std::string& label, const Shape& x, const Shape& shape) {
    bool ok = x.size() >= shape.size();
    for (std::size_t i = 0; ok && i < shape.size(); ++i) ok = x[x.size() - shape.size() + i] == shape[i];
    if (!ok) {
        std::string dims;
        for (std::size_t d : shape) dims += fmt::format(",{}", d);
        throw Error(fmt::format("{}: expected input (...{}), got {}", label, dims, shape_string(x)));
    }
    Axes axes;
    for (std::size_t i = 0; i < shape.size(); ++i) axes.push_back(int(x.size() - shape.size() + i));
    return axes;
}
void check_norm_settings(const char* layer, const Shape& shape, double eps) {
    if (shape.empty() || shape_size(shape, layer) == 0)
        throw Error(fmt::format("{}: normalized_shape must be non-empty with no zero dimension, got {}", layer,
                                shape_string(shape)));
    if (!(eps >= 0)) throw Error(fmt::format("{}: eps must be >= 0, got {}", layer, eps));
}
}  // namespace

template <class T>
LayerNorm<T>::LayerNorm(Shape normalized_shape, double eps, bool elementwise_affine, bool bias)
    : shape_(std::move(normalized_shape)), eps_(eps), affine_(elementwise_affine), bias_(bias) {
    check_norm_settings("LayerNorm", shape_, eps);
    if (affine_) {
        this->register_parameter("weight", ones<T>(shape_));
        if (bias_) this->register_parameter("bias", zeros<T>(shape_));
    }
}

template <class T>
Variable<T> LayerNorm<T>::forward(const Variable<T>& x) {
    trailing_axes(label(), x.shape(), shape_);  // the module's own error message
    return layer_norm(x, shape_, affine_ ? this->parameter(0) : Variable<T>(),
                      affine_ && bias_ ? this->parameter(1) : Variable<T>(), T(eps_));
}

template <class T>
std::string LayerNorm<T>::settings() const {
    return fmt::format("{}, eps={}, elementwise_affine={}, bias={}", shape_string(shape_), detail::format_number(eps_),
                       affine_, bias_);
}

template <class T>
std::string LayerNorm<T>::label() const {
    return fmt::format("LayerNorm({})", shape_string(shape_));
}

template <class T>
RMSNorm<T>::RMSNorm(Shape normalized_shape, std::optional<double> eps, bool elementwise_affine)
    : shape_(std::move(normalized_shape)),
      eps_(eps ? *eps : double(std::numeric_limits<T>::epsilon())),
      affine_(elementwise_affine) {
    check_norm_settings("RMSNorm", shape_, eps_);
    if (affine_) this->register_parameter("weight", ones<T>(shape_));
}

template <class T>
Variable<T> RMSNorm<T>::forward(const Variable<T>& x) {
    const Axes axes = trailing_axes(label(), x.shape(), shape_);
    Variable<T> y = x / sqrt(tapegrad::mean(x * x, axes, true) + T(eps_));
    return affine_ ? y * this->parameter(0) : y;
}

template <class T>
std::string RMSNorm<T>::settings() const {
    return fmt::format("{}, eps={}, elementwise_affine={}", shape_string(shape_), detail::format_number(eps_), affine_);
}

template <class T>
std::string RMSNorm<T>::label() const {
    return fmt::format("RMSNorm({})", shape_string(shape_));
}

template class BatchNorm<float>;
template class BatchNorm<double>;
template class LayerNorm<float>;
template class LayerNorm<double>;
template class RMSNorm<float>;
template class RMSNorm<double>;

}  // namespace tapegrad::nn
