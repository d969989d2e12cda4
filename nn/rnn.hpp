// Recurrent layers with PyTorch's parameter names and gate layout: RNNCell, LSTMCell, GRUCell, and the
// multi-layer RNN, LSTM and GRU (batch_first, initial state in, final state out).
#pragma once

#include <cstddef>

#include <tapegrad/autograd/random.hpp>
#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

/// An LSTM's state: hidden h and cell c, each (N, hidden) for a cell, (num_layers, N, hidden)
/// for a multi-layer LSTM. Empty Variables stand for zeros.
template <class T>
struct LstmState {
    /// The hidden state h and the cell state c.
    ///@{
    Variable<T> h, c;
    ///@}
};

/// What RNN and GRU return: output (L, N, hidden), or (N, L, hidden) with batch_first: the
/// last layer's h at every step; h_n (num_layers, N, hidden): every layer's h after the last step.
template <class T>
struct RnnOutput {
    /// The per-step output and the final hidden state of every layer.
    ///@{
    Variable<T> output, h_n;
    ///@}
};

/// What LSTM returns: as RnnOutput, and c_n (num_layers, N, hidden), every layer's final cell state.
template <class T>
struct LstmOutput {
    /// The per-step output, and the final hidden and cell states of every layer.
    ///@{
    Variable<T> output, h_n, c_n;
    ///@}
};

namespace detail {
enum class RecurrentKind { rnn, lstm, gru };
}  // namespace detail

/// The parameters of one recurrent cell and its step: weight_ih (G*hidden, input),
/// weight_hh (G*hidden, hidden), bias_ih and bias_hh (G*hidden), G = 1 (RNN), 4 (LSTM: gates
/// i, f, g, o) or 3 (GRU: gates r, z, n), initialised uniform in +-1/sqrt(hidden) as PyTorch does.
template <class T>
class RecurrentCell : public Module<T> {
public:
    /// Features of x at each step (the columns of weight_ih).
    std::size_t input_size() const { return in_; }
    /// Features of h (and c).
    std::size_t hidden_size() const { return hidden_; }
    /// True when the cell has bias_ih and bias_hh.
    bool has_bias() const { return bias_; }
    std::string settings() const override;

protected:
    /// Registers the four parameters (two without bias), drawn from `gen`, for the derived cell.
    RecurrentCell(detail::RecurrentKind kind, std::size_t input_size, std::size_t hidden_size, bool bias,
                  Generator& gen);
    std::string label() const override;
    /// x (N, input) checked, and h (or zeros) checked against (N, hidden).
    Variable<T> checked_state(const Variable<T>& x, const Variable<T>& h, const char* what) const;
    /// One step: (h', c') from x, h and (LSTM) c.
    LstmState<T> step(const Variable<T>& x, const Variable<T>& h, const Variable<T>& c) const;

private:
    detail::RecurrentKind kind_;
    std::size_t in_, hidden_;
    bool bias_;
};

/// h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh), as PyTorch's nn.RNNCell.
template <class T>
class RNNCell : public RecurrentCell<T> {
public:
    /// A cell from `input_size` features to `hidden_size` (bias: with bias_ih, bias_hh); weights drawn from `gen`.
    RNNCell(std::size_t input_size, std::size_t hidden_size, bool bias = true, Generator& gen = default_generator())
        : RecurrentCell<T>(detail::RecurrentKind::rnn, input_size, hidden_size, bias, gen) {}
    /// h' for x (N, input) and h (N, hidden); an empty h is zeros.
    Variable<T> operator()(const Variable<T>& x, const Variable<T>& h) const;
    Variable<T> forward(const Variable<T>& x) override { return (*this)(x, Variable<T>()); }
    std::string name() const override { return "RNNCell"; }
};

/// PyTorch's nn.LSTMCell: gates x W_ih^T + b_ih + h W_hh^T + b_hh split as i, f, g, o;
/// c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c').
template <class T>
class LSTMCell : public RecurrentCell<T> {
public:
    /// A cell from `input_size` features to `hidden_size` (bias: with bias_ih, bias_hh); weights drawn from `gen`.
    LSTMCell(std::size_t input_size, std::size_t hidden_size, bool bias = true, Generator& gen = default_generator())
        : RecurrentCell<T>(detail::RecurrentKind::lstm, input_size, hidden_size, bias, gen) {}
    /// (h', c') for x (N, input) and the state (N, hidden) each; empty ones are zeros.
    LstmState<T> operator()(const Variable<T>& x, const LstmState<T>& state = {}) const;
    /// h' from zero state.
    Variable<T> forward(const Variable<T>& x) override { return (*this)(x).h; }
    std::string name() const override { return "LSTMCell"; }
};

/// PyTorch's nn.GRUCell: r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z likewise,
/// n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h.
template <class T>
class GRUCell : public RecurrentCell<T> {
public:
    /// A cell from `input_size` features to `hidden_size` (bias: with bias_ih, bias_hh); weights drawn from `gen`.
    GRUCell(std::size_t input_size, std::size_t hidden_size, bool bias = true, Generator& gen = default_generator())
        : RecurrentCell<T>(detail::RecurrentKind::gru, input_size, hidden_size, bias, gen) {}
    /// h' for x (N, input) and h (N, hidden); an empty h is zeros.
    Variable<T> operator()(const Variable<T>& x, const Variable<T>& h) const;
    Variable<T> forward(const Variable<T>& x) override { return (*this)(x, Variable<T>()); }
    std::string name() const override { return "GRUCell"; }
};

/// Settings of RNN, LSTM and GRU beyond the sizes (PyTorch's keyword arguments).
struct RecurrentOptions {
    /// Layers stacked, each one's h the next one's input (default 1).
    RecurrentOptions& num_layers(std::size_t v) {
        num_layers_ = v;
        return *this;
    }
    /// With or without the bias vectors (default with).
    RecurrentOptions& bias(bool v) {
        bias_ = v;
        return *this;
    }
    /// Input and output (N, L, features) instead of (L, N, features); states stay (layers, N, hidden).
    RecurrentOptions& batch_first(bool v) {
        batch_first_ = v;
        return *this;
    }
    /// A second pass over the sequence backwards in every layer: parameters *_reverse, output
    /// (L, N, 2*hidden) with the forward half first, states (2*num_layers, N, hidden) ordered
    /// layer 0 forward, layer 0 backward, layer 1 forward, ... (PyTorch's layout).
    RecurrentOptions& bidirectional(bool v) {
        bidirectional_ = v;
        return *this;
    }
    /// Dropout on the outputs of every layer but the last, in training mode only.
    RecurrentOptions& dropout(double p) {
        dropout_ = p;
        return *this;
    }
    /// The value set by num_layers(std::size_t) (default 1).
    std::size_t num_layers() const { return num_layers_; }
    /// The value set by bias(bool) (default true).
    bool bias() const { return bias_; }
    /// The value set by batch_first(bool) (default false).
    bool batch_first() const { return batch_first_; }
    /// The value set by bidirectional(bool) (default false).
    bool bidirectional() const { return bidirectional_; }
    /// The value set by dropout(double) (default 0).
    double dropout() const { return dropout_; }
    /// 2 when bidirectional, else 1.
    std::size_t directions() const { return bidirectional_ ? 2 : 1; }

private:
    std::size_t num_layers_ = 1;
    double dropout_ = 0.0;
    bool bias_ = true, batch_first_ = false, bidirectional_ = false;
};

/// A stack of recurrent layers run over a sequence, each layer's h the next one's input. The
/// parameters are PyTorch's: weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} per
/// layer k (and the same with _reverse for the backward direction), gates laid out as in the cells, so a state_dict
/// moves between the two. The time loop is define-by-run: backward through it is backprop through time, with no code of
/// its own.
template <class T>
class Recurrent : public Module<T> {
public:
    /// Features of x at each step (the input of layer 0).
    std::size_t input_size() const { return in_; }
    /// Features of h in every layer.
    std::size_t hidden_size() const { return hidden_; }
    /// Layers, bias and layout, as given to the constructor.
    const RecurrentOptions& options() const { return options_; }
    /// The output sequence alone, from zero state (so a recurrent layer fits in a Sequential).
    Variable<T> forward(const Variable<T>& x) override { return run(x, Variable<T>(), Variable<T>()).output; }
    std::string settings() const override;

protected:
    /// Registers every layer's parameters, drawn from `gen`, for the derived module.
    Recurrent(detail::RecurrentKind kind, std::size_t input_size, std::size_t hidden_size,
              const RecurrentOptions& options, Generator& gen);
    std::string label() const override;
    /// The whole pass; c0 and c_n only for an LSTM.
    LstmOutput<T> run(const Variable<T>& x, const Variable<T>& h0, const Variable<T>& c0) const;

private:
    detail::RecurrentKind kind_;
    std::size_t in_, hidden_;
    RecurrentOptions options_;
};

/// PyTorch's nn.RNN with tanh: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) per layer.
template <class T>
class RNN : public Recurrent<T> {
public:
    /// `options.num_layers()` layers from `input_size` features to `hidden_size`; weights drawn from `gen`.
    RNN(std::size_t input_size, std::size_t hidden_size, const RecurrentOptions& options = {},
        Generator& gen = default_generator())
        : Recurrent<T>(detail::RecurrentKind::rnn, input_size, hidden_size, options, gen) {}
    /// Over x (L, N, input) (or (N, L, input) with batch_first) from h0 (num_layers, N, hidden), empty: zeros.
    RnnOutput<T> operator()(const Variable<T>& x, const Variable<T>& h0 = {}) const;
    std::string name() const override { return "RNN"; }
};

/// PyTorch's nn.LSTM (gates i, f, g, o).
template <class T>
class LSTM : public Recurrent<T> {
public:
    /// `options.num_layers()` layers from `input_size` features to `hidden_size`; weights drawn from `gen`.
    LSTM(std::size_t input_size, std::size_t hidden_size, const RecurrentOptions& options = {},
         Generator& gen = default_generator())
        : Recurrent<T>(detail::RecurrentKind::lstm, input_size, hidden_size, options, gen) {}
    /// Over x from the state (h0, c0), each (num_layers, N, hidden); empty ones are zeros.
    LstmOutput<T> operator()(const Variable<T>& x, const LstmState<T>& state = {}) const;
    std::string name() const override { return "LSTM"; }
};

/// PyTorch's nn.GRU (gates r, z, n).
template <class T>
class GRU : public Recurrent<T> {
public:
    /// `options.num_layers()` layers from `input_size` features to `hidden_size`; weights drawn from `gen`.
    GRU(std::size_t input_size, std::size_t hidden_size, const RecurrentOptions& options = {},
        Generator& gen = default_generator())
        : Recurrent<T>(detail::RecurrentKind::gru, input_size, hidden_size, options, gen) {}
    /// Over x (L, N, input) (or (N, L, input) with batch_first) from h0 (num_layers, N, hidden), empty: zeros.
    RnnOutput<T> operator()(const Variable<T>& x, const Variable<T>& h0 = {}) const;
    std::string name() const override { return "GRU"; }
};

extern template class RecurrentCell<float>;
extern template class RecurrentCell<double>;
extern template class RNNCell<float>;
extern template class RNNCell<double>;
extern template class LSTMCell<float>;
extern template class LSTMCell<double>;
extern template class GRUCell<float>;
extern template class GRUCell<double>;
extern template class Recurrent<float>;
extern template class Recurrent<double>;
extern template class RNN<float>;
extern template class RNN<double>;
extern template class LSTM<float>;
extern template class LSTM<double>;
extern template class GRU<float>;
extern template class GRU<double>;

}  // namespace tapegrad::nn
