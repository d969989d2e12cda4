// Random-graph test: the builders of the sequence ops' rows (embedding, masks, cumsum, tril/triu, topk,
// split/chunk); OpTable (random_graph_ops.hpp) derives from them and lists them in its table.
#pragma once

#include <string>

#include <tapegrad/tapegrad.hpp>

#include "random_graph_draw.hpp"

namespace tgtest::random_graph {

/// Builders for the sequence ops, each drawing one step from an operand as OpTable's builders do.
class SequenceOps : protected Draw {
protected:
    using Draw::Draw;

    /// A random mask of x's shape (each element left out with probability p).
    tg::Mask random_mask(const tg::Shape& shape, double p) {
        tg::Mask m = tg::Mask::from_shape(shape);
        for (auto& b : m) b = coin(p);
        return m;
    }
    static std::string bits(const tg::Mask& m) {
        std::string s;
        for (bool b : m) s += b ? '1' : '0';
        return s;
    }
    /// x seen as an embedding table (n, d), looked up at random ids (repeats allowed).
    bool embedding(const Operand& o) {
        std::vector<std::size_t> ns;
        for (std::size_t n = 1; n <= o.x.size(); ++n)
            if (o.x.size() % n == 0) ns.push_back(n);
        const std::size_t n = one_of(ns), d = o.x.size() / n;
        tg::Shape is(std::size_t(pick(1, 2)));
        for (auto& e : is) e = std::size_t(pick(1, 3));
        tg::Tensor<std::size_t> ids = tg::Tensor<std::size_t>::from_shape(is);
        for (auto& i : ids) i = std::size_t(pick(0, int(n) - 1));
        return unary("embedding[(" + std::to_string(n) + "," + std::to_string(d) + "),ids " + str(is) + "]", o.a,
                     [=](const V& v) {
                         return tg::embedding(tg::reshape(v, tg::Shape{n, d}), ids);
                     });
    }
    bool masked_fill(const Operand& o) {
        const tg::Mask m = random_mask(o.x.shape(), 0.4);
        const double value = uni(-2.0, 2.0);
        return unary("masked_fill[" + bits(m) + "," + std::to_string(value) + "]", o.a,
                     [=](const V& v) { return tg::masked_fill(v, m, value); });
    }
    /// masked_softmax, or masked_log_softmax with its -inf (masked) entries filled with 0.
    bool masked_softmax(const Operand& o) {
        if (o.r == 0) return false;
        const int axis = pick(-o.r, o.r - 1);
        const tg::Mask m = random_mask(o.x.shape(), 0.3);
        if (coin())
            return unary("masked_softmax[axis=" + std::to_string(axis) + "," + bits(m) + "]", o.a,
                         [=](const V& v) { return tg::masked_softmax(v, m, axis); });
        return unary("masked_log_softmax[axis=" + std::to_string(axis) + "," + bits(m) + "]", o.a,
                     [=](const V& v) { return tg::masked_fill(tg::masked_log_softmax(v, m, axis), m, 0.0); });
    }
    bool cumsum(const Operand& o) {
        if (o.r == 0) return false;
        const int axis = pick(-o.r, o.r - 1);
        return unary("cumsum[axis=" + std::to_string(axis) + "]", o.a,
                     [axis](const V& v) { return tg::cumsum(v, axis); });
    }
    bool tril_triu(const Operand& o) {
        if (o.r < 2) return false;
        const std::ptrdiff_t diagonal = pick(-1, 1);
        const bool lower = coin();
        return unary(std::string(lower ? "tril" : "triu") + "[" + std::to_string(diagonal) + "]", o.a,
                     [=](const V& v) { return lower ? tg::tril(v, diagonal) : tg::triu(v, diagonal); });
    }
    /// topk's values, drawn only where the values along the axis are kink_gap apart (else the
    /// order, and so the gradient, could flip within gradcheck's step).
    bool topk(const Operand& o) {
        if (o.r == 0) return false;
        const int axis = pick(0, o.r - 1);
        const std::size_t n = o.x.shape()[std::size_t(axis)];
        std::vector<std::size_t> perm(std::size_t(o.r));
        std::iota(perm.begin(), perm.end(), 0);
        std::swap(perm[std::size_t(axis)], perm.back());
        const xt::xarray<double> lanes = xt::transpose(o.xv, perm);  // the axis last: lanes of n
        for (std::size_t b = 0; b < lanes.size(); b += n)
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t j = i + 1; j < n; ++j)
                    if (std::abs(lanes.data()[b + i] - lanes.data()[b + j]) < kink_gap) return false;
        const std::size_t k = std::size_t(pick(1, int(n)));
        const bool largest = coin();
        return unary(
            "topk[k=" + std::to_string(k) + ",axis=" + std::to_string(axis) + (largest ? "" : ",smallest") + "]", o.a,
            [=](const V& v) { return tg::topk(v, k, axis, largest).values; });
    }
    /// One piece of split (by size) or chunk (by count).
    bool split_chunk(const Operand& o) {
        if (o.r == 0) return false;
        const int axis = pick(0, o.r - 1);
        const std::size_t n = o.x.shape()[std::size_t(axis)], size = std::size_t(pick(1, int(n)));
        const bool chunk = coin();
        const std::size_t width = chunk ? (n + size - 1) / size : size;  // chunk(size pieces): ceil(n / size) wide
        const std::size_t pieces = (n + width - 1) / width;
        const std::size_t piece = std::size_t(pick(0, int(pieces) - 1));
        return unary(
            std::string(chunk ? "chunk" : "split") + "[" + std::to_string(size) + ",axis=" + std::to_string(axis) +
                "][" + std::to_string(piece) + "]",
            o.a, [=](const V& v) { return chunk ? tg::chunk(v, size, axis)[piece] : tg::split(v, size, axis)[piece]; });
    }
};

}  // namespace tgtest::random_graph
