// The fused LSTM and GRU cells: gate activations, the new state and its VJP in one op, not a dozen pointwise nodes.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include <tapegrad/autograd/kernels/rnn_cell.hpp>
#include <tapegrad/autograd/ops/activation.hpp>
#include <tapegrad/autograd/ops/sequence.hpp>

namespace tapegrad {

template <class T>
struct PlaceBlock;

/// The op behind block(): one block of a stacked tensor along axis 0.
template <class T>
struct TakeBlock {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "block";
    static constexpr const char* formula = "y = x[k] (x stacked along axis 0)   dx = g placed at k into zeros";
    std::size_t k;
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::take_block(x, k); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(PlaceBlock<T>{k, a.x(0).shape()}, a.g);
    }
    std::string describe() const { return detail::message("k=", k); }
    ///@}
};

/// The adjoint of TakeBlock: zeros of `shape` with the input at block k along axis 0.
template <class T>
struct PlaceBlock {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; any other field is a setting, filled in by the public function.
    ///@{
    static constexpr const char* name = "place_block";
    static constexpr const char* formula = "y = zeros(shape) with x at block k along axis 0   dx = g[k]";
    std::size_t k;
    Shape shape;
    Tensor<T> forward(const Tensor<T>& x) const { return kernels::place_block(x, k, shape); }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        a.dx[0] = vjp::apply(TakeBlock<T>{k}, a.g);
    }
    std::string describe() const { return detail::message("k=", k); }
    ///@}
};

/// The op behind lstm_cell(): y (2, N, H) = [h; c] from the gates (given whole, or as two terms
/// added inside) and c_prev.
template <class T>
struct LstmCell {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; `act` holds what forward saved for the VJP until release(), `terms`
    /// counts the gate inputs (1 or 2; c_prev comes after them).
    ///@{
    static constexpr const char* name = "lstm_cell";
    static constexpr const char* formula =
        "i, f, o = sigmoid, g = tanh of the gates' quarters; c = f c_prev + i g; h = o tanh(c); y = [h; c]   "
        "dc = g_c + g_h o (1 - tanh(c)^2); dgates = (dc g i(1-i), dc c_prev f(1-f), dc i (1-g^2), "
        "g_h tanh(c) o(1-o)); dc_prev = dc f";
    std::shared_ptr<Tensor<T>> act;  // (N, 5H): the activations and tanh(c)
    std::size_t terms = 1;
    Tensor<T> forward(const Tensor<T>& gates, const Tensor<T>& c_prev) {
        act = std::make_shared<Tensor<T>>();
        return kernels::lstm_cell_forward(gates, (const Tensor<T>*)nullptr, c_prev, act.get());
    }
    Tensor<T> forward(const Tensor<T>& xg, const Tensor<T>& hg, const Tensor<T>& c_prev) {
        terms = 2;
        act = std::make_shared<Tensor<T>>();
        return kernels::lstm_cell_forward(xg, &hg, c_prev, act.get());
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        const std::size_t ci = terms;  // c_prev's input index
        if constexpr (vjp::records<G>) {
            // Under create_graph the VJP is the unfused composition, so it can be differentiated again.
            const Variable<T>& cp = a.x(ci);
            const std::vector<Variable<T>> q = chunk(terms == 2 ? a.x(0) + a.x(1) : a.x(0), 4, 1);
            const Variable<T> i = sigmoid(q[0]), f = sigmoid(q[1]), g = tanh(q[2]), o = sigmoid(q[3]);
            const Variable<T> tc = tanh(f * cp + i * g);
            const Variable<T> gh = apply(TakeBlock<T>{0}, a.g), gc = apply(TakeBlock<T>{1}, a.g);
            const Variable<T> dc = gc + gh * o * (T(1) - tc * tc);
            if (a.want(0) || (terms == 2 && a.want(1))) {
                const Variable<T> dg = concat({dc * g * i * (T(1) - i), dc * cp * f * (T(1) - f),
                                               dc * i * (T(1) - g * g), gh * tc * o * (T(1) - o)},
                                              1);
                if (a.want(0)) a.dx[0] = dg;
                if (terms == 2 && a.want(1)) a.dx[1] = dg;
            }
            if (a.want(ci)) a.dx[ci] = dc * f;
        } else {
            // release() comes only after the last backward through the node, so act is there
            Tensor<T> dc_prev;
            Tensor<T> dg = kernels::lstm_cell_backward(*act, a.x(ci), a.g, a.want(ci) ? &dc_prev : nullptr);
            if (terms == 2 && a.want(1)) a.dx[1] = a.want(0) ? Tensor<T>(dg) : std::move(dg);
            if (a.want(0)) a.dx[0] = std::move(dg);
            if (a.want(ci)) a.dx[ci] = std::move(dc_prev);
        }
    }
    void release() { act.reset(); }
    ///@}
};

/// The op behind gru_cell(): h' (N, H) from the input's and the hidden state's projections and h.
template <class T>
struct GruCell {
    /// The op concept (op.hpp): `name` and `formula` label it in errors and graphs, `forward` computes y,
    /// `backward` is its VJP; `act` holds r, z and n for the VJP until release().
    ///@{
    static constexpr const char* name = "gru_cell";
    static constexpr const char* formula =
        "r = sigmoid(xr + hr), z = sigmoid(xz + hz), n = tanh(xn + r hn), y = n + z (h - n)   "
        "dn' = g (1 - z)(1 - n^2); dxg = (dn' hn r(1-r), g (h - n) z(1-z), dn'); dhg = dxg with dn' r for n; "
        "dh = g z";
    std::shared_ptr<Tensor<T>> act;  // (N, 3H): r, z, n
    Tensor<T> forward(const Tensor<T>& xg, const Tensor<T>& hg, const Tensor<T>& h) {
        act = std::make_shared<Tensor<T>>();
        return kernels::gru_cell_forward(xg, hg, h, act.get());
    }
    template <class G>
    void backward(VjpArgs<G>& a) const {
        if constexpr (vjp::records<G>) {
            // Under create_graph the VJP is the unfused composition, so it can be differentiated again.
            const std::vector<Variable<T>> x = chunk(a.x(0), 3, 1), hh = chunk(a.x(1), 3, 1);
            const Variable<T>& h = a.x(2);
            const Variable<T> r = sigmoid(x[0] + hh[0]), z = sigmoid(x[1] + hh[1]), n = tanh(x[2] + r * hh[2]);
            const Variable<T> dn = a.g * (T(1) - z) * (T(1) - n * n);
            const Variable<T> dr = dn * hh[2] * r * (T(1) - r), dz = a.g * (h - n) * z * (T(1) - z);
            if (a.want(0)) a.dx[0] = concat({dr, dz, dn}, 1);
            if (a.want(1)) a.dx[1] = concat({dr, dz, dn * r}, 1);
            if (a.want(2)) a.dx[2] = a.g * z;
        } else {
            Tensor<T> d[3];  // act is there: release() comes only after the last backward through the node
            kernels::gru_cell_backward(*act, a.x(1), a.x(2), a.g, a.want(0) ? &d[0] : nullptr,
                                       a.want(1) ? &d[1] : nullptr, a.want(2) ? &d[2] : nullptr);
            for (std::size_t k = 0; k < 3; ++k)
                if (a.want(k)) a.dx[k] = std::move(d[k]);
        }
    }
    void release() { act.reset(); }
    ///@}
};

/// Block k of x along axis 0 (x (K, ...) gives x's shape without that axis): h and c of
/// lstm_cell's stacked output, for instance. Its gradient is zeros with g at block k.
template <class T>
Variable<T> block(const Variable<T>& x, std::size_t k) {
    if (x.dim() == 0 || k >= x.shape()[0])
        throw Error(detail::message("block: expected k < the length of axis 0 of x, got k = ", k, " for x of shape ",
                                    shape_string(x.shape())));
    return apply(TakeBlock<T>{k}, x);
}

namespace detail {
/// The shape checks of lstm_cell(): gates (N, 4H) (each term) and c_prev (N, H).
template <class T>
void check_lstm_cell(const Variable<T>& gates, const Variable<T>* more, const Variable<T>& c_prev) {
    const bool ok = c_prev.dim() == 2 && gates.dim() == 2 && gates.shape()[0] == c_prev.shape()[0] &&
                    gates.shape()[1] == 4 * c_prev.shape()[1] && (!more || shape_equal(more->shape(), gates.shape()));
    if (!ok)
        throw Error(message("lstm_cell: expected gates (N, 4H)", more ? " twice" : "", " and c_prev (N, H), got gates ",
                            shape_string(gates.shape()), more ? " and " + shape_string(more->shape()) : "",
                            " and c_prev ", shape_string(c_prev.shape())));
}
}  // namespace detail

/// One LSTM step as one op: `gates` (N, 4H) are the pre-activations x W_ih^T + b_ih + h W_hh^T +
/// b_hh in PyTorch's order i, f, g, o; `c_prev` is (N, H). Returns (h, c), each (N, H):
/// c = sigmoid(f) c_prev + sigmoid(i) tanh(g), h = sigmoid(o) tanh(c). Same values and gradients
/// (first and second order) as composing chunk, sigmoid, tanh, * and +, in one pass over the
/// gates forward and one backward.
template <class T>
std::pair<Variable<T>, Variable<T>> lstm_cell(const Variable<T>& gates, const Variable<T>& c_prev) {
    detail::check_lstm_cell(gates, (const Variable<T>*)nullptr, c_prev);
    const Variable<T> y = apply(LstmCell<T>{}, gates, c_prev);
    return {apply(TakeBlock<T>{0}, y), apply(TakeBlock<T>{1}, y)};
}

/// lstm_cell(x_gates + h_gates, c_prev) with the sum taken inside the op: the input's and the
/// hidden state's projections (each (N, 4H)) as they come, with no node for their sum.
template <class T>
std::pair<Variable<T>, Variable<T>> lstm_cell(const Variable<T>& x_gates, const Variable<T>& h_gates,
                                              const Variable<T>& c_prev) {
    detail::check_lstm_cell(x_gates, &h_gates, c_prev);
    const Variable<T> y = apply(LstmCell<T>{}, x_gates, h_gates, c_prev);
    return {apply(TakeBlock<T>{0}, y), apply(TakeBlock<T>{1}, y)};
}

/// One GRU step as one op, PyTorch's nn.GRUCell from the projections `x_gates` = x W_ih^T + b_ih
/// and `h_gates` = h W_hh^T + b_hh (each (N, 3H), gates r, z, n) and `h` (N, H): h' = n + z (h - n)
/// with r = sigmoid(xr + hr), z = sigmoid(xz + hz), n = tanh(xn + r hn). Same values and gradients
/// (first and second order) as composing chunk, sigmoid, tanh, * and +.
template <class T>
Variable<T> gru_cell(const Variable<T>& x_gates, const Variable<T>& h_gates, const Variable<T>& h) {
    if (h.dim() != 2 || x_gates.dim() != 2 || x_gates.shape()[0] != h.shape()[0] ||
        x_gates.shape()[1] != 3 * h.shape()[1] || !shape_equal(h_gates.shape(), x_gates.shape()))
        throw Error(detail::message("gru_cell: expected x_gates and h_gates (N, 3H) and h (N, H), got ",
                                    shape_string(x_gates.shape()), ", ", shape_string(h_gates.shape()), " and ",
                                    shape_string(h.shape())));
    return apply(GruCell<T>{}, x_gates, h_gates, h);
}

}  // namespace tapegrad
