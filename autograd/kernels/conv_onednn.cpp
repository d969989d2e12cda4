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

enum class Kind { forward, forward_bias, input_grad, weight_grad, weight_bias_grad };

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
    std::vector<Port> outputs;
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
    memory::desc src, weights, dst, bias;                  // NCHW, OIHW (GOIHW with groups), x
    memory::desc any_src, any_weights, any_dst, any_bias;  // src and dst: "any" or the layout asked for
    dims strides, dilates, pad_l, pad_r;
};

Descs make_descs(const ConvGeom& g, tag activations) {
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
    d.any_src = memory::desc(src, f32, activations);
    d.any_dst = memory::desc(dst, f32, activations);
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

/// True for oneDNN's im2col + GEMM fallback, which is slower than tapegrad's own.
template <class PD>
bool gemm_based(const PD& pd) {
    return std::string(pd.impl_info_str()).find("gemm") != std::string::npos;
}

/// The primitive of a kind, its src and dst in layout `activations` (tag::any: oneDNN's choice). Throws
/// dnnl::error when oneDNN refuses, or offers only its GEMM fallback for a layout asked for.
Entry create(Kind kind, const ConvGeom& g, tag activations) {
    Entry e;
    const Descs d = make_descs(g, activations);
    const auto refuse_gemm = [&](const auto& pd) {
        if (activations != tag::any && gemm_based(pd)) throw dnnl::error(dnnl_unimplemented, "gemm fallback");
    };
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // one buffer per cached primitive, not per call
    const auto alg = dnnl::algorithm::convolution_direct;
    if (kind == Kind::forward || kind == Kind::forward_bias) {
        const bool bias = kind == Kind::forward_bias;
        const auto pd = forward_pd(d, bias, dnnl::prop_kind::forward_inference, attr);
        e.inputs.push_back(input_port(DNNL_ARG_SRC, d.src, pd.src_desc()));
        e.inputs.push_back(input_port(DNNL_ARG_WEIGHTS, d.weights, pd.weights_desc()));
        if (bias) e.inputs.push_back(input_port(DNNL_ARG_BIAS, d.bias, pd.bias_desc()));
        e.outputs.push_back(output_port(DNNL_ARG_DST, d.dst, pd.dst_desc()));
        e.prim = dnnl::convolution_forward(pd);
        e.scratchpad = memory(pd.scratchpad_desc(), cpu_engine());
    } else if (kind == Kind::input_grad) {
        using B = dnnl::convolution_backward_data;
        const auto hint = forward_pd(d, false, dnnl::prop_kind::forward_training, dnnl::primitive_attr());
        const B::desc desc(alg, d.any_src, d.any_weights, d.any_dst, d.strides, d.dilates, d.pad_l, d.pad_r);
        const B::primitive_desc pd(desc, attr, cpu_engine(), hint);
        refuse_gemm(pd);
        e.inputs.push_back(input_port(DNNL_ARG_DIFF_DST, d.dst, pd.diff_dst_desc()));
        e.inputs.push_back(input_port(DNNL_ARG_WEIGHTS, d.weights, pd.weights_desc()));
        e.outputs.push_back(output_port(DNNL_ARG_DIFF_SRC, d.src, pd.diff_src_desc()));
        e.prim = B(pd);
        e.scratchpad = memory(pd.scratchpad_desc(), cpu_engine());
    } else {
        // With the bias: its gradient (the sum of dL/dy) comes out of the same pass over dL/dy.
        using B = dnnl::convolution_backward_weights;
        const bool bias = kind == Kind::weight_bias_grad;
        const auto hint = forward_pd(d, bias, dnnl::prop_kind::forward_training, dnnl::primitive_attr());
        const B::desc desc =
            bias ? B::desc(alg, d.any_src, d.any_weights, d.any_bias, d.any_dst, d.strides, d.dilates, d.pad_l, d.pad_r)
                 : B::desc(alg, d.any_src, d.any_weights, d.any_dst, d.strides, d.dilates, d.pad_l, d.pad_r);
        const B::primitive_desc pd(desc, attr, cpu_engine(), hint);
        refuse_gemm(pd);
        e.inputs.push_back(input_port(DNNL_ARG_SRC, d.src, pd.src_desc()));
        e.inputs.push_back(input_port(DNNL_ARG_DIFF_DST, d.dst, pd.diff_dst_desc()));
        e.outputs.push_back(output_port(DNNL_ARG_DIFF_WEIGHTS, d.weights, pd.diff_weights_desc()));
        if (bias) e.outputs.push_back(output_port(DNNL_ARG_DIFF_BIAS, d.bias, pd.diff_bias_desc()));
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

/// The cached entry of a kind and shape for the current thread count, created on first use (nullptr when
/// oneDNN refused it).
Entry* entry_for(Kind kind, const ConvGeom& g, int threads) {
    Cache& c = cache();
    const Key key = make_key(kind, g, threads);
    auto it = c.entries.find(key);
    if (it == c.entries.end()) {
        // The adjoints ask for NHWC: oneDNN's own choice for 8 channels on AVX-512 was an AVX2 weight-gradient
        // kernel (LeNet's conv2: 370-560 us against 210-290 in NHWC) and 16-channel blocks for the input
        // gradient, so dL/dy was reordered twice into two layouts; in NHWC both share one reorder. The
        // forward picks NHWC itself. Where NHWC is refused (or only the GEMM fallback takes it), oneDNN chooses.
        const bool adjoint = kind != Kind::forward && kind != Kind::forward_bias;
        Entry e;
        for (const tag t : {adjoint ? tag::nhwc : tag::any, tag::any}) {
            try {
                e = create(kind, g, t);
                break;
            } catch (const dnnl::error&) {
                e = Entry{};  // refused: im2col runs this shape from now on
            }
        }
        it = c.entries.emplace(key, std::move(e)).first;
    }
    return it->second.ok ? &it->second : nullptr;
}

dnnl::stream& stream() {
    Cache& c = cache();
    if (!c.stream) c.stream.emplace(cpu_engine());
    return *c.stream;
}

/// The caller's buffer p as the primitive wants it: p itself, or its reorder into the port's own buffer.
memory take_input(Port& port, const float* p, dnnl::stream& s) {
    port.user.set_data_handle(const_cast<float*>(p));  // read only: oneDNN takes void*
    if (port.reorder) port.reorder->execute(s, port.user, port.inner);
    return port.inner;
}

/// Runs e on prepared inputs (in e.inputs' order) into the caller's outputs (in e.outputs' order).
void execute(Entry& e, const std::vector<memory>& in, std::initializer_list<float*> out, dnnl::stream& s) {
    std::unordered_map<int, memory> args;
    for (std::size_t i = 0; i < in.size(); ++i) args.emplace(e.inputs[i].arg, in[i]);
    std::size_t i = 0;
    for (float* p : out) {
        Port& port = e.outputs[i++];
        port.user.set_data_handle(p);
        args.emplace(port.arg, port.inner);
    }
    args.emplace(DNNL_ARG_SCRATCHPAD, e.scratchpad);
    e.prim.execute(s, args);
    for (Port& port : e.outputs)
        if (port.reorder) port.reorder->execute(s, port.inner, port.user);
}

bool run(Kind kind, const ConvGeom& g, std::initializer_list<const float*> in, std::initializer_list<float*> out) {
    const int threads = get_num_threads();
    const OmpThreads omp(threads);
    Entry* e = entry_for(kind, g, threads);
    if (!e) return false;
    dnnl::stream& s = stream();
    try {
        std::vector<memory> mem;
        std::size_t i = 0;
        for (const float* p : in) mem.push_back(take_input(e->inputs[i++], p, s));
        execute(*e, mem, out, s);
        s.wait();
    } catch (const dnnl::error&) {
        e->ok = false;  // the caller's fresh output is rewritten by im2col
        return false;
    }
    calls.fetch_add(1, std::memory_order_relaxed);
    return true;
}

}  // namespace

bool onednn_preferred(const ConvGeom& g) { return g.cg >= 4; }

bool onednn_conv_forward(const float* x, const float* w, const float* b, float* y, const ConvGeom& g) {
    return b ? run(Kind::forward_bias, g, {x, w, b}, {y}) : run(Kind::forward, g, {x, w}, {y});
}

bool onednn_conv_input_grad(const float* gy, const float* w, float* dx, const ConvGeom& g) {
    return run(Kind::input_grad, g, {gy, w}, {dx});
}

bool onednn_conv_weight_grad(const float* x, const float* gy, float* dw, const ConvGeom& g) {
    return run(Kind::weight_grad, g, {x, gy}, {dw});
}

bool onednn_conv_backward(const float* x, const float* w, const float* gy, float* dx, float* dw, float* db,
                          const ConvGeom& g) {
    const int threads = get_num_threads();
    const OmpThreads omp(threads);
    Entry* ed = dx ? entry_for(Kind::input_grad, g, threads) : nullptr;
    Entry* ew = dw ? entry_for(db ? Kind::weight_bias_grad : Kind::weight_grad, g, threads) : nullptr;
    if ((dx && !ed) || (dw && !ew)) return false;
    dnnl::stream& s = stream();
    try {
        // dL/dy is reordered once when both primitives want it in the same layout.
        std::optional<memory> gy_inner;
        if (ed) {
            gy_inner = take_input(ed->inputs[0], gy, s);
            execute(*ed, {*gy_inner, take_input(ed->inputs[1], w, s)}, {dx}, s);
        }
        if (ew) {
            const bool shared = gy_inner && gy_inner->get_desc() == ew->inputs[1].inner.get_desc();
            const memory src = take_input(ew->inputs[0], x, s);
            const memory dy = shared ? *gy_inner : take_input(ew->inputs[1], gy, s);
            if (db)
                execute(*ew, {src, dy}, {dw, db}, s);
            else
                execute(*ew, {src, dy}, {dw}, s);
        }
        s.wait();
    } catch (const dnnl::error&) {
        if (ed) ed->ok = false;
        if (ew) ew->ok = false;
        return false;
    }
    calls.fetch_add((ed ? 1 : 0) + (ew ? 1 : 0), std::memory_order_relaxed);
    return true;
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
