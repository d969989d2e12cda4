// gradcheck and gradgradcheck: analytic gradients compared with central differences.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <tapegrad/autograd/variable.hpp>

namespace tapegrad {

/// Settings of gradcheck(); the defaults suit double precision.
struct GradcheckOptions {
    /// Step of the central differences (f(x + eps) - f(x - eps)) / (2 eps).
    GradcheckOptions& eps(double v) {
        eps_ = v;
        return *this;
    }
    /// An element passes when |analytic - numeric| <= atol + rtol * |numeric|.
    GradcheckOptions& atol(double v) {
        atol_ = v;
        return *this;
    }
    /// The relative part of that tolerance (default 1e-3; atol default 1e-5).
    GradcheckOptions& rtol(double v) {
        rtol_ = v;
        return *this;
    }
    /// Seed of the random upstream gradient gradgradcheck uses.
    GradcheckOptions& seed(std::uint64_t v) {
        seed_ = v;
        return *this;
    }
    /// The values set by the setters of the same names, or the defaults: eps 1e-6, atol 1e-5, rtol 1e-3, seed 0.
    ///@{
    double eps() const { return eps_; }
    double atol() const { return atol_; }
    double rtol() const { return rtol_; }
    std::uint64_t seed() const { return seed_; }
    ///@}

private:
    double eps_ = 1e-6;
    double atol_ = 1e-5;
    double rtol_ = 1e-3;
    std::uint64_t seed_ = 0;
};

/// What gradcheck found. Converts to true when every element passed.
struct GradcheckReport {
    /// True when every element was within atol + rtol * |numeric|.
    bool passed = true;
    double max_abs_error = 0;  ///< max |analytic - numeric| over all elements
    double max_rel_error = 0;  ///< max |analytic - numeric| / max(|analytic|, |numeric|)
    /// ||analytic - numeric|| / ||analytic + numeric|| over everything: the single number the
    /// classic gradient-checking lesson prints (about 1e-10 when the gradient is right).
    double relative_difference = 0;
    std::size_t elements = 0;  ///< gradient elements compared
    /// Where the largest error is: input `worst_input`, element `worst_index` (in that input's
    /// shape), in the derivative of output element `worst_output_index` (in the output's shape;
    /// empty for a zero-dimensional output). For gradgradcheck the output is a first derivative:
    /// the gradient of input `worst_output_input`, so worst_output_index is in that input's
    /// shape; and worst_input equal to the number of inputs names the random upstream gradient,
    /// which gradgradcheck differentiates with respect to as well.
    std::size_t worst_input = 0;
    /// See worst_input.
    ///@{
    std::vector<std::size_t> worst_index;
    std::vector<std::size_t> worst_output_index;
    std::size_t worst_output_input = 0;
    ///@}
    /// The analytic and numeric derivative at the worst element.
    ///@{
    double worst_analytic = 0, worst_numeric = 0;
    ///@}
    bool second_order = false;  ///< made by gradgradcheck

    /// `passed`: `if (!gradcheck<double>(f, {W})) ...`.
    explicit operator bool() const { return passed; }
    /// One line: passed or FAILED, the errors, and where the worst element is.
    std::string summary() const;
};

/// A function of the inputs it captures: f() reads them.
template <class T>
using NoArgFunction = std::function<Variable<T>()>;
/// A function given the inputs: f(inputs).
template <class T>
using InputsFunction = std::function<Variable<T>(const std::vector<Variable<T>>&)>;
/// Keeps a parameter out of template argument deduction: T comes from the other arguments.
template <class U>
struct NonDeduced {
    /// U itself.
    using type = U;
};

/// Compares the gradient of every element of f() with respect to every element of each input
/// (leaves that require grad) with central differences. f is called many times and must be
/// deterministic; it reads the inputs, which gradcheck perturbs in place and restores. f always
/// runs with grad mode on, as it would in training: it may itself call grad() (a gradient
/// penalty, a Hessian-vector product).
template <class T>
GradcheckReport gradcheck(const typename NonDeduced<NoArgFunction<T>>::type& f, const std::vector<Variable<T>>& inputs,
                          const GradcheckOptions& options = {});
/// As above, for a function that takes the inputs.
template <class T>
GradcheckReport gradcheck(const typename NonDeduced<InputsFunction<T>>::type& f, const std::vector<Variable<T>>& inputs,
                          const GradcheckOptions& options = {});

/// Checks second derivatives: gradcheck of the recorded gradient of f (weighted by a random
/// upstream gradient v) with respect to the inputs and v.
template <class T>
GradcheckReport gradgradcheck(const typename NonDeduced<NoArgFunction<T>>::type& f,
                              const std::vector<Variable<T>>& inputs, const GradcheckOptions& options = {});
template <class T>
GradcheckReport gradgradcheck(const typename NonDeduced<InputsFunction<T>>::type& f,
                              const std::vector<Variable<T>>& inputs, const GradcheckOptions& options = {});

}  // namespace tapegrad
