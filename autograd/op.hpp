// Op<Derived, T, N>: the base every op node derives from, and record(), which makes one.
//
// An op is one struct: its name, any settings it needs, and a VJP written once as a
// template over G, the gradient type. The engine instantiates that template twice: with
// G = Tensor<T> for an ordinary backward and with G = Variable<T> under create_graph.
#pragma once

#include <array>
#include <string>
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
}  // namespace detail

/// Input storage: a fixed count N, or (N = 0) as many as the op was given.
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

/// CRTP base of an op node. Derived provides:
///   const char* op_name() const noexcept override;
///   template <class G> void backward(VjpArgs<G>& a) const;   // fills a.dx[i] where a.want(i)
template <class Derived, class T, std::size_t N>
class Op : public Node<T> {
public:
    Op() noexcept : Node<T>(false) {}
    ~Op() override { detail::release_iteratively(in_.data(), in_.size()); }

    void vjp(VjpArgs<Tensor<T>>& args) const final { call(args, [](const Variable<T>& v) { return &v.value(); }); }
    void vjp(VjpArgs<Variable<T>>& args) const final { call(args, [](const Variable<T>& v) { return &v; }); }

    void check_versions() const final {
        for (std::size_t i = 0; i < in_.size(); ++i) {
            const Node<T>* n = in_.vars[i].node();
            if (n->version != in_.versions[i])
                detail::throw_modified_in_place(this->op_name(), i, shape_string(n->value.shape()),
                                                in_.versions[i], n->version);
        }
        // The output too: many VJPs read it (tanh, exp, softmax, ...), and a node starts at version 0.
        if (this->version != 0)
            detail::throw_output_modified_in_place(this->op_name(), shape_string(this->value.shape()), this->version);
    }

    void release() noexcept override {
        for (std::size_t i = 0; i < in_.size(); ++i) in_.vars[i].reset();
        this->num_inputs = 0;  // also what marks the node released
        static_cast<Derived*>(this)->release_saved();
    }

    /// Ops that keep something besides their inputs for the VJP drop it here.
    void release_saved() noexcept {}

    /// Called by record(): takes the inputs and notes their versions.
    template <class Range>
    void set_inputs(const Range& inputs) {
        if (std::size(inputs) > Node<T>::max_inputs) detail::throw_too_many_inputs(this->op_name(), std::size(inputs));
        in_.resize(std::size(inputs));
        std::size_t i = 0;
        for (const Variable<T>* v : inputs) {
            in_.vars[i] = *v;
            in_.versions[i] = v->node()->version;
            ++i;
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
            static_cast<const Derived&>(*this).backward(args);
            args.inputs = nullptr;
        } else {
            std::vector<const G*> xs(in_.size());
            for (std::size_t i = 0; i < in_.size(); ++i) xs[i] = get(in_.vars[i]);
            args.inputs = xs.data();
            static_cast<const Derived&>(*this).backward(args);
            args.inputs = nullptr;
        }
    }

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

/// The output of an op: a new OpT node over `inputs` holding `value` when the op must be
/// recorded, otherwise a plain leaf. `args` go to OpT's constructor.
template <class OpT, class T, std::size_t K, class... Args>
Variable<T> record(Tensor<T>&& value, const Variable<T>* const (&inputs)[K], Args&&... args) {
    if (!should_record<T>(inputs)) return Variable<T>(std::move(value));
    auto node = std::allocate_shared<OpT>(memory::CachingAllocator<OpT>(), std::forward<Args>(args)...);
    node->value = std::move(value);
    node->requires_grad = true;
    node->set_inputs(inputs);
    if (anomaly_enabled()) detail::check_forward_anomaly<T>(*node);
    return Variable<T>(std::shared_ptr<Node<T>>(std::move(node)));
}

/// record() for ops over any number of inputs (concat, stack).
template <class OpT, class T, class... Args>
Variable<T> record_n(Tensor<T>&& value, const std::vector<const Variable<T>*>& inputs, Args&&... args) {
    if (!should_record<T>(inputs)) return Variable<T>(std::move(value));
    auto node = std::allocate_shared<OpT>(memory::CachingAllocator<OpT>(), std::forward<Args>(args)...);
    node->value = std::move(value);
    node->requires_grad = true;
    node->set_inputs(inputs);
    if (anomaly_enabled()) detail::check_forward_anomaly<T>(*node);
    return Variable<T>(std::shared_ptr<Node<T>>(std::move(node)));
}

}  // namespace tapegrad
