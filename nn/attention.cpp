// MultiheadAttention<T>: projections, the masks as one small boolean mask plus a float one added, masked softmax.
#include <tapegrad/nn/attention.hpp>

#include <cmath>
#include <limits>
#include <fmt/format.h>

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xoperation.hpp>
#include <xtensor/xstrided_view.hpp>

#include <tapegrad/autograd/factories.hpp>
#include <tapegrad/autograd/ops.hpp>
#include <tapegrad/nn/init.hpp>

namespace tapegrad::nn {

template <class T>
MultiheadAttention<T>::MultiheadAttention(std::size_t embed_dim, std::size_t num_heads, double dropout, bool bias,
                                          bool batch_first, Generator& gen)
    : embed_(embed_dim), heads_(num_heads), dropout_p_(dropout), bias_(bias), batch_first_(batch_first) {
    if (embed_dim == 0 || num_heads == 0 || embed_dim % num_heads != 0)
        throw Error(
            fmt::format("MultiheadAttention: embed_dim must be a positive multiple of num_heads, got "
                        "embed_dim={} and num_heads={}",
                        embed_dim, num_heads));
    if (!(dropout >= 0 && dropout < 1))
        throw Error(fmt::format("MultiheadAttention: dropout must be in [0, 1), got {}", dropout));
    Variable<T> w(Tensor<T>::from_shape({3 * embed_dim, embed_dim}));
    init::xavier_uniform(w, 1.0, gen);
    this->register_parameter("in_proj_weight", w);
    if (bias) this->register_parameter("in_proj_bias", zeros<T>({3 * embed_dim}));
    out_proj_ = this->register_module("out_proj", Linear<T>(embed_dim, embed_dim, bias, gen));
    if (bias) init::zeros(out_proj_->bias());
    dropout_ = this->register_module("dropout", Dropout<T>(dropout));
}

template <class T>
AttentionOutput<T> MultiheadAttention<T>::operator()(const Variable<T>& query, const Variable<T>& key,
                                                     const Variable<T>& value, const AttentionOptions& options) const {
    const std::size_t E = embed_, h = heads_, d = E / h;
    const char* layout = batch_first_ ? "(N,L,E)" : "(L,N,E)";
    auto check = [&](const Variable<T>& v, const char* what) {
        if (v.dim() != 3 || v.shape()[2] != E)
            throw Error(fmt::format("{}: expected {} {} with E = {}, got {}", label(), what, layout, E,
                                    shape_string(v.shape())));
    };
    check(query, "query");
    check(key, "key");
    check(value, "value");
    // Everything below is batch first: (N, L, E).
    const bool self = query.node() == key.node() && key.node() == value.node();
    const Variable<T> q_in = batch_first_ ? query : transpose(query, 0, 1);
    const Variable<T> k_in = self ? q_in : batch_first_ ? key : transpose(key, 0, 1);
    const Variable<T> v_in = self ? q_in : batch_first_ ? value : transpose(value, 0, 1);
    const std::size_t N = q_in.shape()[0], L = q_in.shape()[1], S = k_in.shape()[1];
    if (k_in.shape()[0] != N || !shape_equal(k_in.shape(), v_in.shape()))
        throw Error(fmt::format("{}: key {} and value {} must have the same shape, with query's batch size {}", label(),
                                shape_string(key.shape()), shape_string(value.shape()), N));

    // The boolean masks, combined at the smallest shape that holds them ((1, 1, L, S), (N, 1, 1, S) or
    // (N, 1, L, S)), never broadcast to the scores' shape: the softmax reads them broadcast. true = left out;
    // the causal mask is not a mask at all but a bound the softmax applies per row.
    xt::xarray<bool> masked = xt::xarray<bool>::from_shape({0});
    auto join = [&](xt::xarray<bool> m) {
        if (masked.size() == 0)
            masked = std::move(m);
        else
            masked = xt::xarray<bool>(masked || m);
    };
    if (options.attn_mask().size() > 0) {
        const auto& m = options.attn_mask();
        if (m.dimension() != 2 || m.shape()[0] != L || m.shape()[1] != S)
            throw Error(
                fmt::format("{}: expected attn_mask of shape ({},{}), got {}", label(), L, S, shape_string(m.shape())));
        join(xt::xarray<bool>(xt::reshape_view(m, {std::size_t(1), std::size_t(1), L, S})));
    }
    if (options.key_padding_mask().size() > 0) {
        const auto& m = options.key_padding_mask();
        if (m.dimension() != 2 || m.shape()[0] != N || m.shape()[1] != S)
            throw Error(fmt::format("{}: expected key_padding_mask of shape ({},{}), got {}", label(), N, S,
                                    shape_string(m.shape())));
        join(xt::xarray<bool>(xt::reshape_view(m, {N, std::size_t(1), std::size_t(1), S})));
    }

    // A float mask: -inf entries join the boolean mask, the finite ones are added to the scores.
    Variable<T> additive;
    if (options.float_attn_mask().size() > 0) {
        const auto& m = options.float_attn_mask();
        const bool per_head = m.dimension() == 3;
        if (!((m.dimension() == 2 && m.shape()[0] == L && m.shape()[1] == S) ||
              (per_head && m.shape()[0] == N * h && m.shape()[1] == L && m.shape()[2] == S)))
            throw Error(fmt::format("{}: expected a float attn_mask of shape ({},{}) or ({},{},{}), got {}", label(), L,
                                    S, N * h, L, S, shape_string(m.shape())));
        Tensor<T> add = Tensor<T>::from_shape(per_head ? Shape{N, h, L, S} : Shape{1, 1, L, S});
        xt::xarray<bool> minus_inf = xt::xarray<bool>::from_shape(add.shape());
        bool any_nonzero = false;
        for (std::size_t i = 0; i < m.size(); ++i) {
            const double v = m.data()[i];
            if (std::isnan(v) || v == std::numeric_limits<double>::infinity())
                throw Error(
                    fmt::format("{}: float attn_mask has {} at flat position {} (expected finite values or "
                                "-inf)",
                                label(), v, i));
            minus_inf.data()[i] = std::isinf(v);
            add.data()[i] = std::isinf(v) ? T(0) : T(v);
            any_nonzero = any_nonzero || v != 0;
        }
        join(std::move(minus_inf));
        if (any_nonzero) additive = Variable<T>(std::move(add));
    }

    const T scale = T(1.0 / std::sqrt(double(d)));
    const bool dropping = this->is_training() && dropout_p_ > 0;
    if (self && !dropping && !options.need_weights() && !additive.defined()) {
        // Self-attention: q, k, v from one GEMM, the heads read from its rows in place (one op).
        const Variable<T> qkv =
            bias_ ? linear(q_in, in_proj_weight(), this->parameter(1)) : linear(q_in, in_proj_weight());
        const Variable<T> y = (*out_proj_)(self_attention_heads(qkv, h, scale, options.is_causal(), masked));
        return {batch_first_ ? y : transpose(y, 0, 1), Variable<T>()};
    }

    // q, k, v from the three row blocks of in_proj_weight, split into heads: (N, h, len, d).
    const Variable<T>& w = in_proj_weight();
    auto project = [&](const Variable<T>& x, std::size_t block, std::size_t len) {
        const std::ptrdiff_t b = std::ptrdiff_t(block * E), e = std::ptrdiff_t((block + 1) * E);
        const Variable<T> wb = slice(w, 0, b, e);
        const Variable<T> y = bias_ ? linear(x, wb, slice(this->parameter(1), 0, b, e)) : linear(x, wb);
        return permute(reshape(y, Shape{N, len, h, d}), {0, 2, 1, 3});
    };
    const Variable<T> q = project(q_in, 0, L), k = project(k_in, 1, S), v = project(v_in, 2, S);
    // The 1/sqrt(d) scale goes into the softmax, unless a float mask must be added after it.
    Variable<T> scores = matmul(q, k, MatmulOptions().transpose_b(true));
    if (additive.defined()) scores = scores * scale + additive;
    Variable<T> attn =
        scaled_masked_softmax(scores, masked, options.is_causal(), additive.defined() ? T(1) : scale);  // (N,h,L,S)
    AttentionOutput<T> out;
    if (options.need_weights()) out.weights = mean(attn, 1);
    if (dropping) attn = (*dropout_)(attn);
    const Variable<T> ctx = reshape(permute(matmul(attn, v), {0, 2, 1, 3}), Shape{N, L, E});
    const Variable<T> y = (*out_proj_)(ctx);
    out.output = batch_first_ ? y : transpose(y, 0, 1);
    return out;
}

template <class T>
std::string MultiheadAttention<T>::settings() const {
    return fmt::format("embed_dim={}, num_heads={}, dropout={}, bias={}, batch_first={}", embed_, heads_, dropout_p_,
                       bias_, batch_first_);
}

template <class T>
std::string MultiheadAttention<T>::label() const {
    return fmt::format("MultiheadAttention({}, {})", embed_, heads_);
}

template class MultiheadAttention<float>;
template class MultiheadAttention<double>;

}  // namespace tapegrad::nn
