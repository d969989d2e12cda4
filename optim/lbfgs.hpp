// LBFGS: limited-memory BFGS driven by a closure (PyTorch's algorithm, with its strong-Wolfe line search).
#pragma once

#include <deque>

#include <tapegrad/optim/quasi_newton.hpp>

namespace tapegrad::optim {

/// Options of LBFGS (PyTorch's defaults): LBFGSOptions().history_size(10).line_search(LineSearch::StrongWolfe).
struct LBFGSOptions : QuasiNewtonOptions<LBFGSOptions> {
    /// First step length `lr`, no line search (PyTorch's defaults).
    explicit LBFGSOptions(double lr = 1) : QuasiNewtonOptions(lr, LineSearch::None) {}
    /// How many recent (s, y) pairs make up the inverse-Hessian approximation.
    LBFGSOptions& history_size(int v) {
        history_size_ = v;
        return *this;
    }
    /// The value set by history_size(int) (default 100).
    int history_size() const { return history_size_; }

private:
    int history_size_ = 100;
};

/// L-BFGS as in PyTorch: two-loop recursion over the last history_size pairs with the initial
/// scaling y.s / y.y, optional strong-Wolfe line search. One parameter group; the closure
/// zeroes the gradients, computes the loss, runs backward and returns the loss:
///   opt.step([&] { opt.zero_grad(); auto l = f(); l.backward(); return l.item(); });
/// Each step() runs up to max_iter iterations; report() says why it stopped.
/// State (besides QuasiNewton's): "state.0.old_dirs.<k>", "state.0.old_stps.<k>", "state.0.ro",
/// "state.0.H_diag".
template <class T>
class LBFGS final : public QuasiNewton<T> {
public:
    /// Minimises over `params` (one group) with `options`; throws tapegrad::Error for a bad option or parameter.
    LBFGS(std::vector<Variable<T>> params, const LBFGSOptions& options = LBFGSOptions());
    const char* name() const noexcept override { return "LBFGS"; }
    /// The options given to the constructor (lr as set_lr last set it).
    const LBFGSOptions& options() const noexcept { return options_; }

private:
    typename QuasiNewton<T>::Settings settings() const override;
    void set_settings_lr(double lr) override { options_.lr(lr); }
    void reset_curvature() override;
    void add_pair(const std::vector<T>& s, const std::vector<T>& y, double ys) override;
    void direction(const std::vector<T>& g, std::vector<T>& d) override;
    void save_curvature(StateDict<T>& out) const override;
    bool is_curvature_entry(std::string_view name) const override;
    void load_curvature(const std::vector<std::pair<std::string_view, const Tensor<T>*>>& entries) override;

    LBFGSOptions options_;
    std::deque<std::vector<T>> old_dirs_;  // y
    std::deque<std::vector<T>> old_stps_;  // s
    std::deque<T> ro_;                     // 1 / y.s
    double h_diag_ = 1;
    std::vector<double> al_;  // scratch of the two-loop recursion
};

extern template class LBFGS<float>;
extern template class LBFGS<double>;

}  // namespace tapegrad::optim
