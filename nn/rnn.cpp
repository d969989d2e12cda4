// Recurrent cells and layers: PyTorch's parameters and gate equations, the time loop written as plain ops.
#include <tapegrad/nn/rnn.hpp>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <vector>

#include <tapegrad/autograd/factories.hpp>
#include <tapegrad/autograd/ops.hpp>
#include <tapegrad/autograd/ops/rnn_cell.hpp>
#include <tapegrad/nn/dropout.hpp>
#include <tapegrad/nn/format.hpp>
#include <tapegrad/nn/init.hpp>

namespace tapegrad::nn {

namespace {

using detail::RecurrentKind;

std::size_t gates(RecurrentKind kind) { return kind == RecurrentKind::lstm ? 4 : kind == RecurrentKind::gru ? 3 : 1; }

/// One layer's (or cell's) parameters.
template <class T>
struct Weights {
    Variable<T> w_ih, w_hh, b_ih, b_hh;  // biases empty without bias
};

template <class T>
Variable<T> affine(const Variable<T>& x, const Variable<T>& w, const Variable<T>& b) {
    return b.defined() ? linear(x, w, b) : linear(x, w);
}

/// One step from xi = x W_ih^T + b_ih (N, G*hidden), computed beforehand for the whole sequence.
/// zero_h: h is zeros we made (no initial state given).
template <class T>
LstmState<T> step(RecurrentKind kind, const Variable<T>& xi, const Variable<T>& h, const Variable<T>& c,
                  const Weights<T>& w, bool zero_h = false) {
    if (zero_h && !w.b_hh.defined() && kind != RecurrentKind::gru) {
        // h W_hh^T is 0 (and b_hh is folded into xi or absent): no product, and W_hh's gradient
        // from this step is 0 anyway
        if (kind == RecurrentKind::rnn) return {tanh(xi), Variable<T>()};
        auto [h2, c2] = lstm_cell(xi, c);
        return {std::move(h2), std::move(c2)};
    }
    const Variable<T> hh = affine(h, w.w_hh, w.b_hh);
    switch (kind) {
        case RecurrentKind::rnn:
            return {tanh(xi + hh), Variable<T>()};
        case RecurrentKind::lstm: {
            auto [h2, c2] = lstm_cell(xi, hh, c);  // gates i, f, g, o and their sum fused in one op
            return {std::move(h2), std::move(c2)};
        }
        case RecurrentKind::gru: {
            return {gru_cell(xi, hh, h), Variable<T>()};  // gates r, z, n fused in one op
        }
    }
    return {};
}

template <class T>
void init_uniform(const Variable<T>& v, std::size_t hidden, Generator& gen) {
    const double k = 1.0 / std::sqrt(double(hidden));
    init::uniform(v, -k, k, gen);
}

void check_sizes(const char* layer, std::size_t in, std::size_t hidden) {
    if (in == 0 || hidden == 0)
        throw Error(fmt::format("{}: input_size and hidden_size must be at least 1, got {} and {}", layer, in, hidden));
}

}  // namespace

// ------------------------------------------------------------------------------------ cells

template <class T>
RecurrentCell<T>::RecurrentCell(RecurrentKind kind, std::size_t input_size, std::size_t hidden_size, bool bias,
                                Generator& gen)
    : kind_(kind), in_(input_size), hidden_(hidden_size), bias_(bias) {
    check_sizes(kind == RecurrentKind::lstm  ? "LSTMCell"
                : kind == RecurrentKind::gru ? "GRUCell"
                                             : "RNNCell",
                input_size, hidden_size);
    const std::size_t g = gates(kind) * hidden_size;
    const Shape shapes[4] = {{g, input_size}, {g, hidden_size}, {g}, {g}};
    const char* names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    for (std::size_t i = 0; i < (bias ? 4u : 2u); ++i) {
        Variable<T> p(Tensor<T>::from_shape(shapes[i]));
        init_uniform(p, hidden_size, gen);
        this->register_parameter(names[i], p);
    }
}

template <class T>
Variable<T> RecurrentCell<T>::checked_state(const Variable<T>& x, const Variable<T>& h, const char* what) const {
    if (x.dim() != 2 || x.shape()[1] != in_)
        throw Error(fmt::format("{}: expected input (N,{}), got {}", label(), in_, shape_string(x.shape())));
    const Shape want{x.shape()[0], hidden_};
    if (!h.defined()) return zeros<T>(want);
    if (!shape_equal(h.shape(), want))
        throw Error(fmt::format("{}: expected {} of shape {}, got {}", label(), what, shape_string(want),
                                shape_string(h.shape())));
    return h;
}

template <class T>
LstmState<T> RecurrentCell<T>::step(const Variable<T>& x, const Variable<T>& h, const Variable<T>& c) const {
    Weights<T> w{this->parameter(0), this->parameter(1), bias_ ? this->parameter(2) : Variable<T>(),
                 bias_ ? this->parameter(3) : Variable<T>()};
    return nn::step(kind_, affine(x, w.w_ih, w.b_ih), h, c, w);
}

template <class T>
std::string RecurrentCell<T>::settings() const {
    return fmt::format("{}, {}, bias={}", in_, hidden_, bias_);
}

template <class T>
std::string RecurrentCell<T>::label() const {
    return fmt::format("{}({}, {})", this->name(), in_, hidden_);
}

template <class T>
Variable<T> RNNCell<T>::operator()(const Variable<T>& x, const Variable<T>& h) const {
    return this->step(x, this->checked_state(x, h, "h"), Variable<T>()).h;
}

template <class T>
LstmState<T> LSTMCell<T>::operator()(const Variable<T>& x, const LstmState<T>& state) const {
    return this->step(x, this->checked_state(x, state.h, "h"), this->checked_state(x, state.c, "c"));
}

template <class T>
Variable<T> GRUCell<T>::operator()(const Variable<T>& x, const Variable<T>& h) const {
    return this->step(x, this->checked_state(x, h, "h"), Variable<T>()).h;
}

// ------------------------------------------------------------------------------------ layers

template <class T>
Recurrent<T>::Recurrent(RecurrentKind kind, std::size_t input_size, std::size_t hidden_size,
                        const RecurrentOptions& options, Generator& gen)
    : kind_(kind), in_(input_size), hidden_(hidden_size), options_(options) {
    const char* layer = kind == RecurrentKind::lstm ? "LSTM" : kind == RecurrentKind::gru ? "GRU" : "RNN";
    check_sizes(layer, input_size, hidden_size);
    if (options.num_layers() == 0) throw Error(fmt::format("{}: num_layers must be at least 1, got 0", layer));
    if (!(options.dropout() >= 0 && options.dropout() <= 1))
        throw Error(fmt::format("{}: dropout must be in [0, 1], got {}", layer, options.dropout()));
    const std::size_t g = gates(kind) * hidden_size, dirs = options.directions();
    for (std::size_t l = 0; l < options.num_layers(); ++l) {
        const std::size_t in = l == 0 ? input_size : dirs * hidden_size;
        const Shape shapes[4] = {{g, in}, {g, hidden_size}, {g}, {g}};
        const char* names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
        for (std::size_t d = 0; d < dirs; ++d)
            for (std::size_t i = 0; i < (options.bias() ? 4u : 2u); ++i) {
                Variable<T> p(Tensor<T>::from_shape(shapes[i]));
                init_uniform(p, hidden_size, gen);
                this->register_parameter(fmt::format("{}_l{}{}", names[i], l, d ? "_reverse" : ""), p);
            }
    }
}

template <class T>
LstmOutput<T> Recurrent<T>::run(const Variable<T>& input, const Variable<T>& h0, const Variable<T>& c0) const {
    const bool bf = options_.batch_first();
    if (input.dim() != 3 || input.shape()[2] != in_ || input.shape()[bf ? 1 : 0] == 0)
        throw Error(fmt::format("{}: expected input {} with L >= 1, got {}", label(),
                                bf ? fmt::format("(N,L,{}) (batch_first)", in_) : fmt::format("(L,N,{})", in_),
                                shape_string(input.shape())));
    const Variable<T> x = bf ? transpose(input, 0, 1) : input;
    const std::size_t steps = x.shape()[0], batch = x.shape()[1], layers = options_.num_layers();
    const std::size_t dirs = options_.directions();
    const Shape state_shape{layers * dirs, batch, hidden_};
    auto checked = [&](const Variable<T>& s, const char* what) {
        if (s.defined() && !shape_equal(s.shape(), state_shape))
            throw Error(fmt::format("{}: expected {} of shape {}, got {}", label(), what, shape_string(state_shape),
                                    shape_string(s.shape())));
        return s;
    };
    checked(h0, "h0");
    checked(c0, "c0");
    const bool lstm = kind_ == RecurrentKind::lstm, direct_out = bf && dirs == 1;
    const std::size_t per_layer = options_.bias() ? 4 : 2;
    std::vector<Variable<T>> h_n, c_n, outs(steps), halves;
    Variable<T> seq = x;
    for (std::size_t l = 0; l < layers; ++l) {
        if (l > 0 && options_.dropout() > 0 && this->is_training()) {
            Dropout<T> drop(options_.dropout());
            seq = drop(seq);
        }
        halves.clear();
        for (std::size_t d = 0; d < dirs; ++d) {
            const std::size_t k = l * dirs + d, p = k * per_layer;
            Weights<T> w{this->parameter(p), this->parameter(p + 1),
                         options_.bias() ? this->parameter(p + 2) : Variable<T>(),
                         options_.bias() ? this->parameter(p + 3) : Variable<T>()};
            if (options_.bias() && kind_ != RecurrentKind::gru) {
                // b_ih + b_hh once, added with the input's projection: no bias add or row sum per
                // step (GRU keeps b_hn apart: it is scaled by r)
                w.b_ih = w.b_ih + w.b_hh;
                w.b_hh = Variable<T>();
            }
            auto layer_state = [&](const Variable<T>& s) {
                return s.defined() ? squeeze(slice(s, 0, std::ptrdiff_t(k), std::ptrdiff_t(k) + 1), 0)
                                   : zeros<T>({batch, hidden_});
            };
            Variable<T> h = layer_state(h0);
            Variable<T> c = lstm ? layer_state(c0) : Variable<T>();
            // The input half of every step: each step's slice of a sequence-wide tensor costs, in
            // backward, a zero-filled gradient of the whole tensor. So slice the narrower one: the
            // input (then one product per step), or its projection (one product for the sequence).
            const std::size_t width = w.w_ih.shape()[0];
            const bool project_all = seq.shape()[2] >= width;
            const Variable<T> src = project_all ? affine(seq, w.w_ih, w.b_ih) : seq;
            // And cut in two levels: blocks of about sqrt(L) steps, then steps, so those zero fills
            // add up to about 2 L sqrt(L) steps' worth rather than L^2.
            const std::size_t span = std::max<std::size_t>(1, std::size_t(std::sqrt(double(steps))));
            std::vector<Variable<T>> spans((steps + span - 1) / span);
            for (std::size_t i = 0; i < steps; ++i) {
                const std::size_t t = d ? steps - 1 - i : i;  // the reverse direction reads the sequence backwards
                Variable<T>& from = spans[t / span];
                if (!from.defined())
                    from = span == steps ? src
                                         : slice(src, 0, std::ptrdiff_t(t / span * span),
                                                 std::ptrdiff_t(std::min(steps, (t / span + 1) * span)));
                const Variable<T> st = block(from, t % span);
                const Variable<T> xt = project_all ? st : affine(st, w.w_ih, w.b_ih);
                LstmState<T> next = step(kind_, xt, h, c, w, i == 0 && !h0.defined());
                h = std::move(next.h);
                c = std::move(next.c);
                outs[t] = h;
            }
            // the last layer of a one-way batch_first module stacks straight into (N, L, hidden)
            halves.push_back(stack(outs, direct_out && l + 1 == layers ? 1 : 0));
            h_n.push_back(h);
            if (lstm) c_n.push_back(c);
        }
        seq = dirs == 1 ? halves[0] : concat(halves, 2);
    }
    LstmOutput<T> out;
    out.output = bf && !direct_out ? transpose(seq, 0, 1) : seq;
    out.h_n = stack(h_n, 0);
    if (lstm) out.c_n = stack(c_n, 0);
    return out;
}

template <class T>
std::string Recurrent<T>::settings() const {
    std::string s = fmt::format("{}, {}, num_layers={}, bias={}, batch_first={}", in_, hidden_, options_.num_layers(),
                                options_.bias(), options_.batch_first());
    if (options_.dropout() > 0) s += ", dropout=" + detail::format_number(options_.dropout());
    if (options_.bidirectional()) s += ", bidirectional=true";
    return s;
}

template <class T>
std::string Recurrent<T>::label() const {
    return fmt::format("{}({}, {}, num_layers={})", this->name(), in_, hidden_, options_.num_layers());
}

template <class T>
RnnOutput<T> RNN<T>::operator()(const Variable<T>& x, const Variable<T>& h0) const {
    LstmOutput<T> r = this->run(x, h0, Variable<T>());
    return {std::move(r.output), std::move(r.h_n)};
}

template <class T>
LstmOutput<T> LSTM<T>::operator()(const Variable<T>& x, const LstmState<T>& state) const {
    return this->run(x, state.h, state.c);
}

template <class T>
RnnOutput<T> GRU<T>::operator()(const Variable<T>& x, const Variable<T>& h0) const {
    LstmOutput<T> r = this->run(x, h0, Variable<T>());
    return {std::move(r.output), std::move(r.h_n)};
}

template class RecurrentCell<float>;
template class RecurrentCell<double>;
template class RNNCell<float>;
template class RNNCell<double>;
template class LSTMCell<float>;
template class LSTMCell<double>;
template class GRUCell<float>;
template class GRUCell<double>;
template class Recurrent<float>;
template class Recurrent<double>;
template class RNN<float>;
template class RNN<double>;
template class LSTM<float>;
template class LSTM<double>;
template class GRU<float>;
template class GRU<double>;

}  // namespace tapegrad::nn
