// Module<T>: the base of every layer — parameters, buffers, children, train/eval, zero_grad, printout.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <tapegrad/autograd/variable.hpp>

namespace tapegrad::nn {

/// Variables with their dotted names, e.g. {"0.weight", W}, in registration order.
template <class T>
using NamedVariables = std::vector<std::pair<std::string, Variable<T>>>;

/// Integer counters with their dotted names, e.g. {"1.num_batches_tracked", c}: shared, so
/// setting *c sets the module's counter.
using NamedCounters = std::vector<std::pair<std::string, std::shared_ptr<std::int64_t>>>;

/// A layer or a model: it owns parameters (Variables that require grad), buffers (state
/// that is saved but not trained, like batch-norm running statistics) and child modules,
/// and maps an input to an output in forward().
///
/// Copies: a Variable is a handle, and so is a module. A copy of a module shares its
/// parameters, buffers and children with the original (training one trains the other);
/// only the train/eval flag of the module itself is copied. For an independent model, build
/// a new one and copy the values over (load_state, or save + load).
///
/// Writing a module: derive from Module<T>, register parameters, buffers and children in the
/// constructor, and override forward():
///
///     struct Net : tg::nn::Module<float> {
///         std::shared_ptr<tg::nn::Linear<float>> fc = register_module("fc", tg::nn::Linear<float>(4, 2));
///         tg::Variable<float> scale = register_parameter("scale", tg::ones<float>({2}));
///         tg::Variable<float> forward(const tg::Variable<float>& x) override { return (*fc)(x) * scale; }
///     };
template <class T>
class Module {
public:
    /// The element type of its parameters (float or double).
    using value_type = T;
    virtual ~Module() = default;

    /// The output for input x. The default throws: a module with several inputs can define
    /// its own operator() instead.
    virtual Variable<T> forward(const Variable<T>& x);
    /// forward(x): `model(x)` reads like PyTorch.
    Variable<T> operator()(const Variable<T>& x) { return forward(x); }

    /// Every parameter of this module and its children (own first), in registration order:
    /// what an optimizer or gradcheck takes.
    std::vector<Variable<T>> parameters() const;
    /// As parameters(), with dotted names: "weight", "0.bias", "conv1.weight".
    NamedVariables<T> named_parameters() const;
    /// Every buffer of this module and its children (own first): state that is saved but not trained.
    std::vector<Variable<T>> buffers() const;
    /// As buffers(), with dotted names: "running_mean", "1.running_var".
    NamedVariables<T> named_buffers() const;
    /// Parameters and buffers, module by module (own parameters, own buffers, then each
    /// child's): everything save() writes and load() reads.
    NamedVariables<T> state() const;
    /// Sets every parameter and buffer from `state` (values are copied). Every name must be
    /// present with the same shape, and nothing else; the error names the first that is
    /// missing, extra or of another shape, and nothing is changed then. `context` starts the
    /// error messages (nn::load passes the file's name).
    void load_state(const NamedVariables<T>& state, const std::string& context = "load_state");
    /// Integer counters of this module and its children (own first), with dotted names: saved
    /// with the state as int64 (a batch norm's "num_batches_tracked", as PyTorch saves it).
    NamedCounters named_counters() const;
    /// The direct children with their names.
    const std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>>& named_children() const { return children_; }

    /// Training mode (the default) or evaluation mode, for this module and all its children:
    /// dropout is active and batch norm uses batch statistics only in training mode.
    void train(bool on = true);
    /// Evaluation mode for this module and its children: train(false).
    void eval() { train(false); }
    /// True in training mode (the default), false after eval().
    bool is_training() const { return training_; }
    /// Forgets the gradient of every parameter (the next backward writes fresh ones).
    void zero_grad();
    /// Number of parameter elements, children included.
    std::size_t num_parameters() const;

    /// The class name, e.g. "Linear" (by default taken from the C++ type).
    virtual std::string name() const;
    /// Its settings, e.g. "in_features=2, out_features=3, bias=true" (by default none).
    virtual std::string settings() const { return {}; }
    /// name(settings): one line about this module alone.
    std::string describe() const { return name() + "(" + settings() + ")"; }
    /// The whole tree, one module per line, with parameter counts.
    std::string to_string() const;

protected:
    Module() = default;
    /// Copies and moves share the parameters, buffers and children (see the class comment).
    Module(const Module&) = default;
    /// Moves the handles; see the copy constructor.
    Module(Module&&) noexcept = default;
    /// Shares the other's parameters, buffers and children.
    Module& operator=(const Module&) = default;
    /// Moves the handles; see the copy assignment.
    Module& operator=(Module&&) noexcept = default;

    /// Adds a parameter (a leaf; it is made to require grad) and returns it. Names are
    /// unique within a module and contain no '.'.
    Variable<T> register_parameter(const std::string& name, Variable<T> value);
    /// Adds a buffer (a leaf that does not require grad) and returns it.
    Variable<T> register_buffer(const std::string& name, Variable<T> value);
    /// Adds an integer counter saved with the state (as int64) and returns it; copies of the
    /// module share it.
    std::shared_ptr<std::int64_t> register_counter(const std::string& name, std::int64_t initial = 0);
    /// Adds a child module, given by shared_ptr or by value, and returns the shared_ptr.
    template <class M>
    std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
        static_assert(std::is_base_of_v<Module<T>, M>, "register_module: not a Module<T> of the same T");
        add_child(name, module);
        return module;
    }
    /// As above, for a module given by value: it is moved into a new shared_ptr.
    template <class M, class D = std::decay_t<M>, std::enable_if_t<std::is_base_of_v<Module<T>, D>, int> = 0>
    std::shared_ptr<D> register_module(const std::string& name, M&& module) {
        return register_module(name, std::make_shared<D>(std::forward<M>(module)));
    }

    /// The i-th registered parameter / buffer of this module itself.
    const Variable<T>& parameter(std::size_t i) const { return params_.at(i).second; }
    /// The i-th registered buffer of this module itself (std::out_of_range past the end).
    const Variable<T>& buffer(std::size_t i) const { return buffers_.at(i).second; }
    /// "Linear(2->3)": how error messages name this module (by default describe()).
    virtual std::string label() const { return describe(); }

private:
    void check_name(const char* fn, const std::string& name) const;
    void add_child(const std::string& name, std::shared_ptr<Module<T>> child);
    void collect(const std::string& prefix, NamedVariables<T>* params, NamedVariables<T>* buffers,
                 NamedVariables<T>* state) const;
    void collect_counters(const std::string& prefix, NamedCounters& out) const;
    void print(std::string& out, const std::string& indent) const;

    NamedVariables<T> params_;
    NamedVariables<T> buffers_;
    NamedCounters counters_;
    std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>> children_;
    bool training_ = true;
};

/// Writes module.to_string().
template <class T>
std::ostream& operator<<(std::ostream& os, const Module<T>& module);

extern template class Module<float>;
extern template class Module<double>;

}  // namespace tapegrad::nn
