// BFGS: a dense inverse-Hessian approximation, for small full-batch problems, driven by a closure.
#pragma once

#include <tapegrad/optim/quasi_newton.hpp>

namespace tapegrad::optim {

/// Options of BFGS; the defaults are LBFGS's except for the strong-Wolfe line search.
struct BFGSOptions : QuasiNewtonOptions<BFGSOptions> {
    /// First step length `lr`, strong-Wolfe line search.
    explicit BFGSOptions(double lr = 1) : QuasiNewtonOptions(lr, LineSearch::StrongWolfe) {}
};

/// BFGS with the inverse Hessian H kept as a dense n x n matrix (n = number of parameter
/// elements, at most BFGS::max_elements). The iteration, line search and stop conditions are
/// LBFGS's; the direction is d = -H g, and each pair (s, y) with y.s > 1e-10 updates
///   H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T,    rho = 1 / y.s,
/// starting from H = (y.s / y.y) I at the first pair (Nocedal & Wright, eq. 6.17 and 6.20).
/// State (besides QuasiNewton's): "state.0.H" once a pair has been taken in.
template <class T>
class BFGS final : public QuasiNewton<T> {
public:
    /// The dense matrix is limited to this many parameter elements (800 MB in double).
    static constexpr std::size_t max_elements = 10000;

    /// Minimises over `params` (one group, at most max_elements elements) with `options`; throws tapegrad::Error
    /// otherwise.
    BFGS(std::vector<Variable<T>> params, const BFGSOptions& options = BFGSOptions());
    const char* name() const noexcept override { return "BFGS"; }
    /// The options given to the constructor (lr as set_lr last set it).
    const BFGSOptions& options() const noexcept { return options_; }
    /// The current inverse-Hessian approximation, row-major n x n (empty before the first pair).
    const std::vector<T>& inverse_hessian() const noexcept { return h_; }

private:
    typename QuasiNewton<T>::Settings settings() const override;
    void set_settings_lr(double lr) override { options_.lr(lr); }
    void reset_curvature() override { h_.clear(); }
    void add_pair(const std::vector<T>& s, const std::vector<T>& y, double ys) override;
    void direction(const std::vector<T>& g, std::vector<T>& d) override;
    void save_curvature(StateDict<T>& out) const override;
    bool is_curvature_entry(std::string_view name) const override { return name == "H"; }
    void load_curvature(const std::vector<std::pair<std::string_view, const Tensor<T>*>>& entries) override;

    BFGSOptions options_;
    std::vector<T> h_;   // n x n, row-major; empty: H = I
    std::vector<T> hy_;  // scratch: H y
};

extern template class BFGS<float>;
extern template class BFGS<double>;

}  // namespace tapegrad::optim
