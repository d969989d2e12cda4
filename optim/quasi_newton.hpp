// QuasiNewton<T>: the iteration BFGS and LBFGS share (PyTorch's LBFGS loop), its options and its report.
#pragma once

#include <cstddef>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tapegrad/optim/optimizer.hpp>

namespace tapegrad::optim {

/// Why a BFGS or LBFGS step() returned.
enum class StopReason {
    NotRun,             // step() has not been called
    GradientTolerance,  // max |gradient| <= tolerance_grad
    StepTolerance,      // max |step| <= tolerance_change
    LossChange,         // |loss change| < tolerance_change
    NoDescent,          // gradient . direction > -tolerance_change: no descent possible
    MaxIterations,      // max_iter iterations done
    MaxEvaluations,     // max_eval evaluations of the closure done
    Callback,           // the callback asked to stop
    NonFiniteLoss,      // the loss became NaN or infinite
};

/// "gradient within tolerance_grad", ...
const char* to_string(StopReason reason) noexcept;

/// How BFGS and LBFGS choose the step along their direction.
enum class LineSearch {
    None,         // a fixed step lr (the first one scaled by min(1, 1 / sum |g|))
    StrongWolfe,  // strong Wolfe conditions, cubic interpolation (PyTorch's "strong_wolfe")
};

/// What the callback sees after each iteration.
struct QuasiNewtonProgress {
    std::size_t iteration;    ///< iterations in this step() call so far
    std::size_t evaluations;  ///< closure calls in this step() call so far
    double loss;              ///< loss at the new point
    double step;              ///< the step length t along the direction
};

/// Called after each iteration; returning true stops step() (StopReason::Callback).
using IterationCallback = std::function<bool(const QuasiNewtonProgress&)>;

/// What the last step() did.
struct QuasiNewtonReport {
    /// Why step() returned (NotRun before the first call).
    StopReason reason = StopReason::NotRun;
    std::size_t iterations = 0;                                      ///< iterations in the last step() call
    std::size_t evaluations = 0;                                     ///< closure calls in the last step() call
    double initial_loss = std::numeric_limits<double>::quiet_NaN();  ///< loss at the start
    double final_loss = std::numeric_limits<double>::quiet_NaN();    ///< loss last computed at the final point
    /// "43 iterations, 53 evaluations, loss 0.5 -> 2.6e-18: gradient within tolerance_grad".
    std::string summary() const;
};

/// Options shared by BFGSOptions and LBFGSOptions (chainable setters returning Self).
template <class Self>
struct QuasiNewtonOptions {
    /// The step length tried first (1: the quasi-Newton step).
    Self& lr(double v) {
        lr_ = v;
        return self();
    }
    /// Iterations per step() call.
    Self& max_iter(int v) {
        max_iter_ = v;
        return self();
    }
    /// Closure calls per step() call (default max_iter * 5 / 4).
    Self& max_eval(int v) {
        max_eval_ = v;
        return self();
    }
    /// Stop when max |gradient| <= this.
    Self& tolerance_grad(double v) {
        tolerance_grad_ = v;
        return self();
    }
    /// Stop when the step or the change of the loss is below this.
    Self& tolerance_change(double v) {
        tolerance_change_ = v;
        return self();
    }
    /// How the step length along the direction is chosen (LineSearch::StrongWolfe: PyTorch's "strong_wolfe").
    Self& line_search(LineSearch v) {
        line_search_ = v;
        return self();
    }
    /// Called after each iteration; return true to stop.
    Self& callback(IterationCallback v) {
        callback_ = std::move(v);
        return self();
    }

    /// The value set by the setter of the same name (or its default).
    double lr() const { return lr_; }
    /// The value set by max_iter(int) (default 20).
    int max_iter() const { return max_iter_; }
    /// The value set by max_eval(int), or max_iter() * 5 / 4 when it was not set.
    int max_eval() const { return max_eval_ ? *max_eval_ : max_iter_ * 5 / 4; }
    /// The value set by tolerance_grad(double) (default 1e-7).
    double tolerance_grad() const { return tolerance_grad_; }
    /// The value set by tolerance_change(double) (default 1e-9).
    double tolerance_change() const { return tolerance_change_; }
    /// The value set by line_search(LineSearch).
    LineSearch line_search() const { return line_search_; }
    /// The callback set by callback(IterationCallback), or an empty function.
    const IterationCallback& callback() const { return callback_; }

protected:
    /// The defaults of the derived options: the first step length `lr` and the line search.
    QuasiNewtonOptions(double lr, LineSearch line_search) : lr_(lr), line_search_(line_search) {}

private:
    Self& self() { return static_cast<Self&>(*this); }
    double lr_;
    int max_iter_ = 20;
    std::optional<int> max_eval_;
    double tolerance_grad_ = 1e-7;
    double tolerance_change_ = 1e-9;
    LineSearch line_search_;
    IterationCallback callback_;
};

/// The iteration of PyTorch's LBFGS.step, with the quasi-Newton matrix left to the derived
/// class. The parameters are treated as one flat vector (those without a gradient count as
/// zero gradient). The state carries over between step() calls, as in PyTorch.
template <class T>
class QuasiNewton : public Optimizer<T> {
public:
    /// What the last step() did: why it stopped, iterations and closure calls.
    const QuasiNewtonReport& report() const noexcept { return report_; }
    /// Iterations and closure calls since construction (PyTorch's state n_iter and func_evals).
    std::size_t total_iterations() const noexcept { return n_iter_; }
    /// Closure calls since construction (PyTorch's state func_evals).
    std::size_t total_evaluations() const noexcept { return func_evals_; }

    /// The step length tried first (must stay > 0).
    double lr(std::size_t group = 0) const override;
    using OptimizerBase::set_lr;
    void set_lr(std::size_t group, double lr) override;

    /// "state.0.n_iter", "state.0.func_evals", and once an iteration has run "state.0.d",
    /// "state.0.t", "state.0.prev_flat_grad", "state.0.prev_loss", the derived class's
    /// entries, then "param_groups.0.lr".
    StateDict<T> state_dict() const override;
    void load_state_dict(const StateDict<T>& state) override;

protected:
    /// The settings the loop reads, taken from BFGSOptions or LBFGSOptions.
    struct Settings {
        /// The step length tried first.
        double lr;
        /// Iterations per step() call.
        int max_iter;
        /// Closure calls per step() call.
        int max_eval;
        /// Stop when max |gradient| <= this.
        double tolerance_grad;
        /// Stop when the step or the loss change is below this.
        double tolerance_change;
        /// How the step length is chosen.
        LineSearch line_search;
        /// Called after each iteration (null or empty: none).
        const IterationCallback* callback;
    };

    QuasiNewton() = default;
    /// Takes the parameters (checked) and the settings (checked); the derived constructor
    /// calls it, so that errors can name the optimizer.
    void init(std::vector<Variable<T>> params);

    /// The settings of the derived class's options, read at each step().
    virtual Settings settings() const = 0;
    /// Stores a new first step length in the derived class's options (set_lr()).
    virtual void set_settings_lr(double lr) = 0;

    /// Starts afresh (first iteration): forget all curvature pairs.
    virtual void reset_curvature() = 0;
    /// Takes in the pair s = x_new - x, y = g_new - g with ys = y.s > 0.
    virtual void add_pair(const std::vector<T>& s, const std::vector<T>& y, double ys) = 0;
    /// d = -H g with H the current inverse-Hessian approximation.
    virtual void direction(const std::vector<T>& g, std::vector<T>& d) = 0;
    /// The derived class's state entries (names without the "state.0." prefix).
    virtual void save_curvature(StateDict<T>& out) const = 0;
    /// True for a name (without prefix) that load_curvature takes.
    virtual bool is_curvature_entry(std::string_view name) const = 0;
    /// Checks and takes the derived class's entries, all or nothing.
    virtual void load_curvature(const std::vector<std::pair<std::string_view, const Tensor<T>*>>& entries) = 0;

    /// Total number of parameter elements.
    std::size_t numel() const noexcept { return numel_; }

private:
    void update() override;
    double run(const Closure& closure) override;

    /// Throws if a parameter's value or gradient no longer has the shape it had at construction.
    void check_shapes() const;
    bool same_shapes() const;
    double evaluate(const Closure& closure);
    double evaluate_unchecked(const Closure& closure);
    void gather_flat_grad(std::vector<T>& out) const;
    void add_to_params(double t, const std::vector<T>& d);
    void copy_params(std::vector<T>& out) const;
    void set_params(const std::vector<T>& x);

    std::size_t numel_ = 0;
    std::vector<Shape> shapes_;  // the parameters' shapes at construction: the flat vectors' layout
    // PyTorch's LBFGS state (the part that is not the curvature).
    std::vector<T> d_;
    std::vector<T> prev_flat_grad_;
    double t_ = 0;
    double prev_loss_ = 0;
    std::size_t n_iter_ = 0;
    std::size_t func_evals_ = 0;
    QuasiNewtonReport report_;
};

extern template class QuasiNewton<float>;
extern template class QuasiNewton<double>;

}  // namespace tapegrad::optim
