// Float convolutions on oneDNN's primitives: oneDNN picks its kernels (and blocked layouts) from the CPU's
// features; tapegrad's NCHW / OIHW buffers are reordered in and out. Primitives are cached per shape.
#include <tapegrad/autograd/kernels/detail/conv_onednn.hpp>
#include <tapegrad/autograd/threads.hpp>

#include <array>
#include <initializer_list>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

namespace tapegrad::kernels {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dims = memory::dims;

std::atomic<std::uint64_t> calls{0};

enum class Kind { forward, forward_bias, input_grad, weight_grad };

/// oneDNN with the OpenMP runtime threads by the calling thread's omp_get_max_threads(), read both when a
/// primitive is created (its blocking is planned for that count) and when it runs: tapegrad's count for the
/// duration only, so the program's own OpenMP setting is left as it was.
class OmpThreads {
public:
    explicit OmpThreads(int want) : had_(omp_get_max_threads()), want_(want) {
        if (had_ != want_) omp_set_num_threads(want_);
    }
    ~OmpThreads() {
        if (had_ != want_) omp_set_num_threads(had_);
    }
    OmpThreads(const OmpThreads&) = delete;
    OmpThreads& operator=(const OmpThreads&) = delete;

private:
    int had_, want_;
};

using Key = std::array<std::size_t, 17>;

Key make_key(Kind kind, const ConvGeom& g, int threads) {
    return {
        std::size_t(kind),   g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.groups, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.oh,
        std::size_t(threads)};
}

/// One argument of a primitive: a memory object over the caller's buffer (its handle set per call) and,
/// when the primitive wants another layout, its own buffer and the reorder between the two.
struct Port {
    int arg = 0;
    memory user, inner;
    std::optional<dnnl::reorder> reorder;
};

struct Entry {
    bool ok = false;  // false: oneDNN refused the shape (remembered, so that it is asked once)
    dnnl::primitive prim;
    std::vector<Port> inputs;
    Port output;
    memory scratchpad;
};

const dnnl::engine& cpu_engine() {
    static const dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

Port input_port(int arg, const memory::desc& user_md, const memory::desc& inner_md) {
    Port p;
    p.arg = arg;
    p.user = memory(user_md, cpu_engine(), DNNL_MEMORY_NONE);
    if (user_md == inner_md) {
        p.inner = p.user;
    } else {
        p.inner = memory(inner_md, cpu_engine());
        p.reorder = dnnl::reorder(p.user, p.inner);
    }
    return p;
}

Port output_port(int arg, const memory::desc& user_md, const memory::desc& inner_md) {
    Port p;
    p.arg = arg;
    p.user = memory(user_md, cpu_engine(), DNNL_MEMORY_NONE);
    if (user_md == inner_md) {
        p.inner = p.user;
    } else {
        p.inner = memory(inner_md, cpu_engine());
        p.reorder = dnnl::reorder(p.inner, p.user);
    }
    return p;
}

/// The descriptions every kind shares: tapegrad's layouts, and "any" for the primitive to choose.
struct Descs {
    memory::desc src, weights, dst, bias;  // NCHW, OIHW (GOIHW with groups), x
    memory::desc any_src, any_weights, any_dst, any_bias;
    dims strides, dilates, pad_l, pad_r;
};

Descs make_descs(const ConvGeom& g) {
    Descs d;
    const auto f32 = memory::data_type::f32;
    const auto D = [](std::size_t v) { return memory::dim(v); };
    const dims src{D(g.n), D(g.c), D(g.h), D(g.w)}, dst{D(g.n), D(g.o), D(g.oh), D(g.ow)}, bias{D(g.o)};
    const dims wts =
        g.groups == 1 ? dims{D(g.o), D(g.cg), D(g.kh), D(g.kw)} : dims{D(g.groups), D(g.og), D(g.cg), D(g.kh), D(g.kw)};
    d.src = memory::desc(src, f32, tag::nchw);
    d.dst = memory::desc(dst, f32, tag::nchw);
    d.weights = memory::desc(wts, f32, g.groups == 1 ? tag::oihw : tag::goihw);
    d.bias = memory::desc(bias, f32, tag::x);
    d.any_src = memory::desc(src, f32, tag::any);
    d.any_dst = memory::desc(dst, f32, tag::any);
    d.any_weights = memory::desc(wts, f32, tag::any);
    d.any_bias = memory::desc(bias, f32, tag::any);
    d.strides = {D(g.sh), D(g.sw)};
    d.dilates = {D(g.dh) - 1, D(g.dw) - 1};  // oneDNN counts the gaps between taps
    d.pad_l = {D(g.ph), D(g.pw)};
    // The right padding that makes oneDNN's output size tapegrad's (floor division may drop input columns,
    // which makes it smaller than the left padding, even negative).
    const auto right = [&](std::size_t o, std::size_t s, std::size_t k, std::size_t dil, std::size_t in,
                           std::size_t pl) {
        return memory::dim((o - 1) * s + (k - 1) * dil + 1) - memory::dim(in) - memory::dim(pl);
    };
    d.pad_r = {right(g.oh, g.sh, g.kh, g.dh, g.h, g.ph), right(g.ow, g.sw, g.kw, g.dw, g.w, g.pw)};
    return d;
}

dnnl::convolution_forward::primitive_desc forward_pd(const Descs& d, bool bias, dnnl::prop_kind prop,
                                                     const dnnl::primitive_attr& attr) {
    using F = dnnl::convolution_forward;
    const auto alg = dnnl::algorithm::convolution_direct;
    const F::desc desc =
        bias ? F::desc(prop, alg, d.any_src, d.any_weights, d.any_bias, d.any_dst, d.strides, d.dilates, d.pad_l,
                       d.pad_r)
             : F::desc(prop, alg, d.any_src, d.any_weights, d.any_dst, d.strides, d.dilates, d.pad_l, d.pad_r);
    return F::primitive_desc(desc, attr, cpu_engine());
}

Entry create(Kind kind, const ConvGeom& g) {
    Entry e;
    const Descs d = make_descs(g);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // one buffer per cached primitive, not per call
    const auto alg = dnnl::algorithm::convolution_direct;
    if (kind == Kind::forward || kind == Kind::forward_bias) {
        const bool bias = kind == Kind::forward_bias;
        const auto pd = forward_pd(d, bias, dnnl::prop_kind::forward_inference, attr);
        e.inputs.push_back(input_port(DNNL_ARG_SRC, d.src, pd.src_desc()));
        e.inputs.push_back(input_port(DNNL_ARG_WEIGHTS, d.weights, pd.weights_desc()));
        if (bias) e.inputs.push_back(input_port(DNNL_ARG_BIAS, d.bias, pd.bias_desc()));
        e.output = output_port(DNNL_ARG_DST, d.dst, pd.dst_desc());
        e.prim = dnnl::convolution_forward(pd);
        e.scratchpad = memory(pd.scratchpad_desc(), cpu_engine());
    } else if (kind == Kind::input_grad) {
        using B = dnnl::convolution_backward_data;
        const auto hint = forward_pd(d, false, dnnl::prop_kind::forward_training, dnnl::primitive_attr());
        const B::desc desc(alg, d.any_src, d.any_weights, d.any_dst, d.strides, d.dilates, d.pad_l, d.pad_r);
        const B::primitive_desc pd(desc, attr, cpu_engine(), hint);
        e.inputs.push_back(input_port(DNNL_ARG_DIFF_DST, d.dst, pd.diff_dst_desc()));
        e.inputs.push_back(input_port(DNNL_ARG_WEIGHTS, d.weights, pd.weights_desc()));
        e.output = output_port(DNNL_ARG_DIFF_SRC, d.src, pd.diff_src_desc());
        e.prim = B(pd);
        e.scratchpad = memory(pd.scratchpad_desc(), cpu_engine());
    } else {
        using B = dnnl::convolution_backward_weights;
        const auto hint = forward_pd(d, false, dnnl::prop_kind::forward_training, dnnl::primitive_attr());
        const B::desc desc(alg, d.any_src, d.any_weights, d.any_dst, d.strides, d.dilates, d.pad_l, d.pad_r);
        const B::primitive_desc pd(desc, attr, cpu_engine(), hint);
        e.inputs.push_back(input_port(DNNL_ARG_SRC, d.src, pd.src_desc()));
        e.inputs.push_back(input_port(DNNL_ARG_DIFF_DST, d.dst, pd.diff_dst_desc()));
        e.output = output_port(DNNL_ARG_DIFF_WEIGHTS, d.weights, pd.diff_weights_desc());
        e.prim = B(pd);
        e.scratchpad = memory(pd.scratchpad_desc(), cpu_engine());
    }
    e.ok = true;
    return e;
}

/// Per thread: a primitive's scratchpad and reorder buffers are its own, so two threads running the same
/// shape must not share an entry (and need no lock).
struct Cache {
    std::map<Key, Entry> entries;
    std::optional<dnnl::stream> stream;
};

Cache& cache() {
    thread_local Cache c;
    return c;
}

bool run(Kind kind, const ConvGeom& g, std::initializer_list<const float*> in, float* out) {
    const int threads = get_num_threads();
    const OmpThreads omp(threads);
    Cache& c = cache();
    const Key key = make_key(kind, g, threads);
    auto it = c.entries.find(key);
    if (it == c.entries.end()) {
        Entry e;
        try {
            e = create(kind, g);
        } catch (const dnnl::error&) {
            e = Entry{};  // refused: im2col runs this shape from now on
        }
        it = c.entries.emplace(key, std::move(e)).first;
    }
    Entry& e = it->second;
    if (!e.ok) return false;
    if (!c.stream) c.stream.emplace(cpu_engine());
    dnnl::stream& s = *c.stream;
    try {
        std::unordered_map<int, memory> args;
        std::size_t i = 0;
        for (const float* p : in) {
            Port& port = e.inputs[i++];
            port.user.set_data_handle(const_cast<float*>(p));  // read only: oneDNN takes void*
            if (port.reorder) port.reorder->execute(s, port.user, port.inner);
            args.emplace(port.arg, port.inner);
        }
        e.output.user.set_data_handle(out);
        args.emplace(e.output.arg, e.output.inner);
        args.emplace(DNNL_ARG_SCRATCHPAD, e.scratchpad);
        e.prim.execute(s, args);
        if (e.output.reorder) e.output.reorder->execute(s, e.output.inner, e.output.user);
        s.wait();
    } catch (const dnnl::error&) {
        e.ok = false;  // the caller's fresh output is rewritten by im2col
        return false;
    }
    calls.fetch_add(1, std::memory_order_relaxed);
    return true;
}

}  // namespace

bool onednn_preferred(const ConvGeom& g) { return g.cg >= 4; }

bool onednn_conv_forward(const float* x, const float* w, const float* b, float* y, const ConvGeom& g) {
    return b ? run(Kind::forward_bias, g, {x, w, b}, y) : run(Kind::forward, g, {x, w}, y);
}

bool onednn_conv_input_grad(const float* gy, const float* w, float* dx, const ConvGeom& g) {
    return run(Kind::input_grad, g, {gy, w}, dx);
}

bool onednn_conv_weight_grad(const float* x, const float* gy, float* dw, const ConvGeom& g) {
    return run(Kind::weight_grad, g, {x, gy}, dw);
}

std::string conv_info() {
    const dnnl_version_t* v = dnnl_version();
    return "float on oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch) +
           " primitives (kernels for the CPU's ISA) from 4 input channels per group, else im2col + GEMM; "
           "double on im2col + GEMM";
}

std::uint64_t onednn_conv_calls() noexcept { return calls.load(std::memory_order_relaxed); }

}  // namespace tapegrad::kernels
