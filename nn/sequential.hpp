// Sequential<T>: modules applied in order; Layer<T>, what it accepts; FunctionModule, a stateless callable as a module.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

namespace detail {
template <class F, class = void>
struct has_name : std::false_type {};
template <class F>
struct has_name<F,
                std::void_t<decltype(std::declval<const F&>().name()), decltype(std::declval<const F&>().settings())>>
    : std::true_type {};
template <class P>
struct is_shared_ptr : std::false_type {};
template <class P>
struct is_shared_ptr<std::shared_ptr<P>> : std::true_type {};
}  // namespace detail

/// A stateless callable — an activation (ReLU{}), a pooling layer (MaxPool2d(2)), Flatten{},
/// or any lambda from Variable<T> to Variable<T> — as a Module<T>. Its printout uses the
/// callable's name() and settings() when it has them, "Lambda()" otherwise.
template <class T, class F>
class FunctionModule final : public Module<T> {
public:
    /// Wraps the callable `f` (moved in).
    explicit FunctionModule(F f) : f_(std::move(f)) {}
    Variable<T> forward(const Variable<T>& x) override { return f_(x); }
    std::string name() const override {
        if constexpr (detail::has_name<F>::value)
            return f_.name();
        else
            return "Lambda";
    }
    std::string settings() const override {
        if constexpr (detail::has_name<F>::value)
            return f_.settings();
        else
            return {};
    }
    /// The wrapped callable.
    const F& function() const { return f_; }

private:
    F f_;
};

/// One entry of a Sequential: a module given by value (copied; the copy shares its
/// parameters) or by shared_ptr, or a stateless callable (wrapped in a FunctionModule).
template <class T>
class Layer {
public:
    /// A module by shared_ptr: the Sequential shares it.
    template <class M, std::enable_if_t<std::is_base_of_v<Module<T>, M>, int> = 0>
    Layer(std::shared_ptr<M> module) : module_(std::move(module)) {}  // NOLINT: implicit by design

    /// A module by value: copied (the copy shares its parameters) or moved.
    template <class M, class D = std::decay_t<M>, std::enable_if_t<std::is_base_of_v<Module<T>, D>, int> = 0>
    Layer(M&& module) : module_(std::make_shared<D>(std::forward<M>(module))) {}  // NOLINT

    /// A stateless callable from Variable<T> to Variable<T>, wrapped in a FunctionModule.
    template <class F, class D = std::decay_t<F>,
              std::enable_if_t<!std::is_base_of_v<Module<T>, D> && !detail::is_shared_ptr<D>::value &&
                                   !std::is_same_v<D, Layer> &&
                                   std::is_invocable_r_v<Variable<T>, const D&, const Variable<T>&>,
                               int> = 0>
    Layer(F&& f) : module_(std::make_shared<FunctionModule<T, D>>(std::forward<F>(f))) {}  // NOLINT

    /// The module this entry adds.
    const std::shared_ptr<Module<T>>& module() const { return module_; }

private:
    std::shared_ptr<Module<T>> module_;
};

/// Modules applied one after the other; the children are named "0", "1", ...
///
///     tg::nn::Sequential<double> net{tg::nn::Linear<double>(2, 3), tg::nn::Sigmoid{},
///                                    tg::nn::Linear<double>(3, 1), tg::nn::Sigmoid{}};
template <class T>
class Sequential : public Module<T> {
public:
    Sequential() = default;
    /// The layers in order, named "0", "1", ...
    Sequential(std::initializer_list<Layer<T>> layers);
    /// Appends a layer.
    Sequential& push_back(Layer<T> layer);
    Variable<T> forward(const Variable<T>& x) override;
    /// Number of layers.
    std::size_t size() const { return this->named_children().size(); }
    /// True with no layer (forward then returns x).
    bool empty() const { return size() == 0; }
    /// The i-th layer (as a Module<T>; std::dynamic_pointer_cast gives the concrete type).
    const std::shared_ptr<Module<T>>& operator[](std::size_t i) const;
    std::string name() const override { return "Sequential"; }
};

extern template class Sequential<float>;
extern template class Sequential<double>;

}  // namespace tapegrad::nn
