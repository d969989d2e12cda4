// Defining an op: one struct holding its forward and its VJP side by side, and apply(), which runs it.
//
// Every built-in op is written this way, and so are users' own ops (docs/custom-ops.md):
//
//   template <class T>
//   struct Tanh {
//       static constexpr const char* name = "tanh";
//       static constexpr const char* formula = "y = tanh(x)   dx = g (1 - y^2)";
//       Tensor<T> forward(const Tensor<T>& x) const { return kernels::tanh(x); }
//       template <class G>
//       void backward(VjpArgs<G>& a) const { a.dx[0] = vjp::pointwise(..., a.g, a.y); }
//   };
//   template <class T> Variable<T> tanh(const Variable<T>& x) { return apply(Tanh<T>{}, x); }
//
// forward takes one tensor per input and returns the output's value. backward is a template over
// the gradient type G and is instantiated twice: with G = Tensor<T> in an ordinary backward
// (it computes, nothing is recorded) and with G = Variable<T> under create_graph (it records, so
// the gradient can be differentiated again). It reads a.x(i) (input i), a.y (the output), a.g
// (dLoss/dy, which it may move from) and fills a.dx[i] where a.want(i). Only functions that exist
// for both gradient types can be used in it: see vjp.hpp.
//
// Optional members: `formula` (shown in printouts and the tape explorer); `std::string describe()
// const` (the op's settings, e.g. "axis=1"); `void release()` (drops anything forward saved for the
// VJP once backward is done with it). forward may be non-const to save such data.
// `static constexpr bool vjp_reads_inputs = false` says backward never reads the elements of a.x(i)
// (shapes only: add, sum, reshape), and `vjp_reads_output = false` the same of a.y (mul, matmul): the
// forward then frees a large intermediate as soon as nothing else needs it (free_unneeded_values).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/autograd/variable.hpp>

namespace tapegrad {

namespace detail {
/// Moves inputs that would die with their consumer onto a thread-local worklist, drained by
/// the outermost call: releasing a chain of a million nodes never recurses.
template <class T>
void release_iteratively(Variable<T>* inputs, std::size_t count) noexcept;

[[noreturn]] void throw_modified_in_place(const char* op, std::size_t input, const std::string& shape,
                                          std::uint32_t recorded, std::uint32_t now);
[[noreturn]] void throw_output_modified_in_place(const char* op, const std::string& shape, std::uint32_t now);
[[noreturn]] void throw_too_many_inputs(const char* op, std::size_t count);

/// With anomaly mode on: throws if an op's output holds NaN or Inf.
template <class T>
void check_forward_anomaly(const Node<T>& node);

template <class T>
void free_unneeded_values(const Node<T>& consumer) noexcept;

/// Values under this many bytes are never freed by the forward (freeing saves little there, and
/// printouts of small graphs show every value).
inline constexpr std::size_t free_min_bytes = 16384;

// What an op struct provides, for the checks in apply() and the optional members.
template <class Op, class = void>
inline constexpr bool has_name = false;
template <class Op>
inline constexpr bool has_name<Op, std::enable_if_t<std::is_convertible_v<decltype(Op::name), const char*>>> = true;
template <class Op, class = void>
inline constexpr bool has_formula = false;
template <class Op>
inline constexpr bool has_formula<Op, std::enable_if_t<std::is_convertible_v<decltype(Op::formula), const char*>>> =
    true;
template <class Op, class = void>
inline constexpr bool has_describe = false;
template <class Op>
inline constexpr bool has_describe<Op, std::void_t<decltype(std::declval<const Op&>().describe())>> = true;
template <class Op, class = void>
inline constexpr bool has_release = false;
template <class Op>
inline constexpr bool has_release<Op, std::void_t<decltype(std::declval<Op&>().release())>> = true;
template <class Op, class = void>
inline constexpr bool vjp_reads_inputs = true;
template <class Op>
inline constexpr bool vjp_reads_inputs<Op, std::enable_if_t<!Op::vjp_reads_inputs>> = false;
template <class Op, class = void>
inline constexpr bool vjp_reads_output = true;
template <class Op>
inline constexpr bool vjp_reads_output<Op, std::enable_if_t<!Op::vjp_reads_output>> = false;
template <class Op, class G, class = void>
inline constexpr bool has_backward = false;
template <class Op, class G>
inline constexpr bool
    has_backward<Op, G, std::void_t<decltype(std::declval<const Op&>().backward(std::declval<VjpArgs<G>&>()))>> = true;
template <class Op, class Args, class = void>
inline constexpr bool has_forward = false;
template <class Op, class... Ts>
inline constexpr bool has_forward<Op, std::tuple<Ts...>,
                                  std::void_t<decltype(std::declval<Op&>().forward(std::declval<const Ts&>()...))>> =
    true;

template <class, class U>
using same_as_first = U;

/// The checks apply() makes, each with its sentence; true when the op is usable (apply then
/// compiles its body only for a usable op, so a mistake shows as that sentence alone).
template <class Op, class T, bool forward_ok>
constexpr bool check_op() {
    static_assert(has_name<Op>,
                  "tapegrad::apply: an op needs a name, e.g. `static constexpr const char* name = \"my_op\";` "
                  "(it names the op in errors, printouts and graph drawings)");
    static_assert(forward_ok,
                  "tapegrad::apply: the op's forward cannot take this many inputs: forward takes one "
                  "`const Tensor<T>&` per Variable given to apply (or, for a list of Variables, "
                  "`const std::vector<const Tensor<T>*>&`)");
    static_assert(has_backward<Op, Tensor<T>>,
                  "tapegrad::apply: the op needs `template <class G> void backward(tapegrad::VjpArgs<G>& a) const` "
                  "(its VJP, which fills a.dx[i] where a.want(i))");
    static_assert(!has_backward<Op, Tensor<T>> || has_backward<Op, Variable<T>>,
                  "tapegrad::apply: the op's backward must be a template over the gradient type G: it runs with "
                  "G = Tensor<T> in a plain backward and with G = Variable<T> under create_graph (write "
                  "`template <class G> void backward(tapegrad::VjpArgs<G>& a) const` and use the functions of "
                  "tapegrad/autograd/vjp.hpp in it)");
    return has_name<Op> && forward_ok && has_backward<Op, Tensor<T>> && has_backward<Op, Variable<T>>;
}

/// The families of built-in ops, one header each in autograd/ops/ (and one instantiation file each,
/// autograd/ops/<family>.cpp).
enum class OpFamily {
    arithmetic,
    math,
    activation,
    where,
    broadcast,
    shape,
    index,
    reduce,
    linalg,
    conv,
    pool,
    conv_pool,
    loss,
    sequence,
    count
};

/// The built-in ops of one family, listed at the end of its header. Their nodes (and so their VJPs,
/// and every op those record) are compiled once, in the library, not in every program that uses them:
/// a program compiles only the forwards it calls. An op missing from its list still works; it is
/// then compiled wherever it is used, like a user's own op.
template <template <class> class... Ops>
struct OpList {};
template <OpFamily family>
struct BuiltinOps {
    using type = OpList<>;
};

template <class Op, class List>
struct in_op_list : std::false_type {};
template <template <class> class Tmpl, class T, template <class> class... Ops>
struct in_op_list<Tmpl<T>, OpList<Ops...>> : std::bool_constant<(std::is_same_v<Tmpl<T>, Ops<T>> || ...)> {};

template <class Op, std::size_t... F>
constexpr bool in_builtin_lists(std::index_sequence<F...>) {
    return (in_op_list<Op, typename BuiltinOps<OpFamily(F)>::type>::value || ...);
}
/// True for a built-in op (its node is compiled in the library).
template <class Op>
constexpr bool is_builtin() {
    return in_builtin_lists<Op>(std::make_index_sequence<std::size_t(OpFamily::count)>{});
}

template <class Op, class T, std::size_t N>
class OpNode;

/// An op's forward as the recording code sees it: fn(context) runs it and returns its output. A plain
/// function pointer, so that the library's compiled nodes call the forward of the program's translation
/// unit, and the output is returned straight into the node that keeps it.
template <class T>
struct MakeValue {
    Tensor<T> (*fn)(void*);
    void* context;
    Tensor<T> operator()() const { return fn(context); }
};
/// The MakeValue that calls `forward()` (a lambda of the caller's, alive until the node is made).
template <class T, class F>
MakeValue<T> make_value(F& forward) {
    return {[](void* f) -> Tensor<T> { return (*static_cast<F*>(f))(); }, &forward};
}

/// The recorded node of `op` over `count` inputs (N of them, or any number for N = 0), its value made by
/// `make` (which runs op's forward). For a built-in op it is only declared here: the library compiles it
/// (autograd/ops/*.cpp).
template <class Op, class T, std::size_t N>
Variable<T> record_builtin(const MakeValue<T>& make, const Variable<T>* const* inputs, std::size_t count, Op&& op);

/// Input storage of an op node: a fixed count N, or (N = 0) as many as the op was given.
template <class T, std::size_t N>
struct OpInputs {
    std::array<Variable<T>, N> vars;
    std::array<std::uint32_t, N> versions{};
    Variable<T>* data() { return vars.data(); }
    std::size_t size() const { return N; }
    void resize(std::size_t) {}
};
template <class T>
struct OpInputs<T, 0> {
    std::vector<Variable<T>> vars;
    std::vector<std::uint32_t> versions;
    Variable<T>* data() { return vars.data(); }
    std::size_t size() const { return vars.size(); }
    void resize(std::size_t n) {
        vars.resize(n);
        versions.resize(n);
    }
};

/// The recorded node of one application of `Op`: the op (with its settings and anything its
/// forward saved), its N inputs (N = 0: any number) and, through Node, its output's value.
template <class Op, class T, std::size_t N>
class OpNode final : public Node<T> {
public:
    /// The node of `op`, its value made by `make`: the forward runs on `op` before the node takes it over
    /// (what forward saved for the VJP goes with it).
    OpNode(Op&& op, const MakeValue<T>& make) : Node<T>(false, std::in_place, make), op_(std::move(op)) {
        this->vjp_reads_inputs = detail::vjp_reads_inputs<Op>;
        this->vjp_reads_output = detail::vjp_reads_output<Op>;
    }
    ~OpNode() override {
        if (this->num_inputs) release_iteratively(in_.data(), in_.size());  // none once released: backward took them
    }

    void delete_self() noexcept override { detail::delete_node(this); }
    const char* op_name() const noexcept override { return Op::name; }
    const char* formula() const noexcept override {
        if constexpr (has_formula<Op>)
            return Op::formula;
        else
            return "";
    }
    std::string describe() const override {
        if constexpr (has_describe<Op>)
            return op_.describe();
        else
            return {};
    }

    // The versions are checked here rather than by a call of their own from the sweep: one virtual call
    // less per op.
    void vjp(VjpArgs<Tensor<T>>& args) const override {
        check_versions();
        // The node's own value, not Variable::value(): an input this VJP never reads may have been freed.
        call(args, [](const Variable<T>& v) { return &v.node()->value; });
    }
    void vjp(VjpArgs<Variable<T>>& args) const override {
        check_versions();
        call(args, [](const Variable<T>& v) { return &v; });
    }

    void check_versions() const override {
        for (std::size_t i = 0; i < in_.size(); ++i) {
            const Node<T>* n = in_.vars[i].node();
            if (n->version != in_.versions[i])
                throw_modified_in_place(Op::name, i, shape_string(n->value.shape()), in_.versions[i], n->version);
        }
        // The output too: many VJPs read it (tanh, exp, softmax, ...), and a node starts at version 0.
        if (this->version != 0)
            throw_output_modified_in_place(Op::name, shape_string(this->value.shape()), this->version);
    }

    void release() noexcept override {
        for (std::size_t i = 0; i < in_.size(); ++i) in_.vars[i].reset();
        this->num_inputs = 0;  // also what marks the node released
        if constexpr (has_release<Op>) op_.release();
    }

    /// The op itself (its settings and what its forward saved).
    const Op& op() const noexcept { return op_; }
    Op& op() noexcept { return op_; }

    /// Takes the inputs and notes their versions.
    void set_inputs(const Variable<T>* const* inputs, std::size_t count) {
        if (count > Node<T>::max_inputs) detail::throw_too_many_inputs(this->op_name(), count);
        in_.resize(count);
        for (std::size_t i = 0; i < count; ++i) {
            in_.vars[i] = *inputs[i];
            in_.versions[i] = inputs[i]->node()->version;
        }
        this->inputs = in_.data();
        this->num_inputs = std::uint16_t(in_.size());
    }

private:
    template <class G, class Get>
    void call(VjpArgs<G>& args, Get get) const {
        if constexpr (N > 0) {
            std::array<const G*, N> xs;
            for (std::size_t i = 0; i < N; ++i) xs[i] = get(in_.vars[i]);
            args.inputs = xs.data();
            op_.backward(args);
            args.inputs = nullptr;
        } else {
            std::vector<const G*> xs(in_.size());
            for (std::size_t i = 0; i < in_.size(); ++i) xs[i] = get(in_.vars[i]);
            args.inputs = xs.data();
            op_.backward(args);
            args.inputs = nullptr;
        }
    }

    Op op_;
    OpInputs<T, N> in_;
};

/// True when an op over these inputs must be recorded.
template <class T, class Range>
bool should_record(const Range& inputs) {
    if (!grad_enabled()) return false;
    for (const Variable<T>* v : inputs)
        if (v->requires_grad()) return true;
    return false;
}

/// The recorded node of an op over `inputs`, its value made by `make`.
template <class Op, class T, std::size_t N>
Variable<T> record_node(const MakeValue<T>& make, const Variable<T>* const* inputs, std::size_t count, Op&& op) {
    if constexpr (N > 0) count = N;  // known at compile time: the loops over the inputs below are unrolled
    using NodeT = OpNode<Op, T, N>;
    NodeRef<NodeT> node = NodeRef<NodeT>::make(std::move(op), make);
    node->requires_grad = true;
    node->set_inputs(inputs, count);
    if (anomaly_enabled()) check_forward_anomaly<T>(*node);
    bool frees = false;
    for (std::size_t i = 0; i < count; ++i) {
        const Node<T>& n = *inputs[i]->node();
        frees |= n.frees_input_values;
        node->frees_input_values |= n.value_freeable;
    }
    node->frees_input_values &= !vjp_reads_inputs<Op>;
    node->value_freeable = !vjp_reads_output<Op> && node->value.size() >= free_min_bytes / sizeof(T);
    if (frees && !keep_values_enabled()) free_unneeded_values<T>(*node);
    return Variable<T>(NodeRef<Node<T>>(std::move(node)));
}

/// The output of an op: a node over `inputs` when it must be recorded, otherwise a plain leaf; its value is
/// what `forward()` returns.
template <std::size_t N, class Op, class T, class Range, class F>
Variable<T> record(F& forward, const Range& inputs, Op&& op) {
    if (!should_record<T>(inputs)) return Variable<T>(forward());
    const MakeValue<T> make = make_value<T>(forward);
    if constexpr (is_builtin<Op>())
        return record_builtin<Op, T, N>(make, std::data(inputs), std::size(inputs), std::move(op));
    else
        return record_node<Op, T, N>(make, std::data(inputs), std::size(inputs), std::move(op));
}

}  // namespace detail

/// Runs `op` on the inputs' values and, when any input requires grad (and grad mode is on),
/// records it so that backward can run its VJP. The public face of every op, e.g.
/// `tanh(x)` is `apply(Tanh<T>{}, x)`.
template <class Op, class T, class... Rest>
Variable<T> apply(Op op, const Variable<T>& first, const Rest&... rest) {
    static_assert((std::is_same_v<Rest, Variable<T>> && ...),
                  "tapegrad::apply: every input must be a Variable of the same element type");
    constexpr bool forward_ok =
        detail::has_forward<Op, std::tuple<Tensor<T>, detail::same_as_first<Rest, Tensor<T>>...>>;
    if constexpr (detail::check_op<Op, T, forward_ok>()) {
        constexpr std::size_t n = 1 + sizeof...(Rest);
        const std::array<const Variable<T>*, n> inputs{&first, &rest...};
        auto forward = [&] { return op.forward(first.value(), rest.value()...); };
        try {
            return detail::record<n, Op, T>(forward, inputs, std::move(op));
        } catch (const std::bad_alloc& e) {  // the error names the op and the bytes asked for
            detail::throw_allocation_error(Op::name, e);
        }
    } else {
        return {};
    }
}

/// apply() for an op over any number of inputs (concat): its forward takes
/// `const std::vector<const Tensor<T>*>&`.
template <class Op, class T>
Variable<T> apply(Op op, const std::vector<Variable<T>>& xs) {
    constexpr bool forward_ok = detail::has_forward<Op, std::tuple<std::vector<const Tensor<T>*>>>;
    if constexpr (detail::check_op<Op, T, forward_ok>()) {
        std::vector<const Variable<T>*> inputs;
        std::vector<const Tensor<T>*> values;
        inputs.reserve(xs.size());
        values.reserve(xs.size());
        for (const Variable<T>& x : xs) {
            inputs.push_back(&x);
            values.push_back(&x.value());
        }
        auto forward = [&] { return op.forward(values); };
        try {
            return detail::record<0, Op, T>(forward, inputs, std::move(op));
        } catch (const std::bad_alloc& e) {
            detail::throw_allocation_error(Op::name, e);
        }
    } else {
        return {};
    }
}

}  // namespace tapegrad
