// BFGS: the dense inverse-Hessian update and direction, and its state entry.
#include <tapegrad/optim/bfgs.hpp>

#include <fmt/format.h>

#include <tapegrad/optim/detail/flat.hpp>
#include <tapegrad/optim/detail/state_check.hpp>

namespace tapegrad::optim {

template <class T>
BFGS<T>::BFGS(std::vector<Variable<T>> params, const BFGSOptions& options) : options_(options) {
    this->init(std::move(params));
    if (this->numel() > max_elements)
        this->fail(
            fmt::format("{} parameter elements would need a dense {}x{} inverse Hessian; BFGS takes at "
                        "most {} (use LBFGS for larger problems)",
                        this->numel(), this->numel(), this->numel(), max_elements));
}

template <class T>
typename QuasiNewton<T>::Settings BFGS<T>::settings() const {
    return {options_.lr(),
            options_.max_iter(),
            options_.max_eval(),
            options_.tolerance_grad(),
            options_.tolerance_change(),
            options_.line_search(),
            &options_.callback()};
}

template <class T>
void BFGS<T>::add_pair(const std::vector<T>& s, const std::vector<T>& y, double ys) {
    const std::size_t n = s.size();
    if (h_.empty()) {  // H0 = (y.s / y.y) I: the scale of the curvature just seen
        h_.assign(n * n, T(0));
        const T scale = T(ys / detail::dot(y, y));
        for (std::size_t i = 0; i < n; ++i) h_[i * n + i] = scale;
    }
    // H <- H - rho (s (Hy)^T + (Hy) s^T) + (rho^2 y.Hy + rho) s s^T   (H symmetric)
    hy_.assign(n, T(0));
    for (std::size_t i = 0; i < n; ++i) {
        double acc = 0;
        for (std::size_t j = 0; j < n; ++j) acc += double(h_[i * n + j]) * double(y[j]);
        hy_[i] = T(acc);
    }
    const double rho = 1. / ys;
    const double yhy = detail::dot(y, hy_);
    const T a = T(-rho), b = T(rho * rho * yhy + rho);
    for (std::size_t i = 0; i < n; ++i) {
        T* row = &h_[i * n];
        const T si = s[i], hyi = hy_[i];
        for (std::size_t j = 0; j < n; ++j) row[j] += a * (si * hy_[j] + hyi * s[j]) + b * si * s[j];
    }
}

template <class T>
void BFGS<T>::direction(const std::vector<T>& g, std::vector<T>& d) {
    const std::size_t n = g.size();
    d.resize(n);
    if (h_.empty()) {
        for (std::size_t i = 0; i < n; ++i) d[i] = -g[i];
        return;
    }
    for (std::size_t i = 0; i < n; ++i) {
        double acc = 0;
        for (std::size_t j = 0; j < n; ++j) acc += double(h_[i * n + j]) * double(g[j]);
        d[i] = T(-acc);
    }
}

template <class T>
void BFGS<T>::save_curvature(StateDict<T>& out) const {
    if (h_.empty()) return;
    const std::size_t n = this->numel();
    Tensor<T> h = Tensor<T>::from_shape({n, n});
    std::copy(h_.begin(), h_.end(), h.begin());
    out.emplace_back("H", std::move(h));
}

template <class T>
void BFGS<T>::load_curvature(const std::vector<std::pair<std::string_view, const Tensor<T>*>>& entries) {
    const std::size_t n = this->numel();
    const Tensor<T>* h = nullptr;
    for (const auto& [name, value] : entries) {
        if (h) this->fail("load_state_dict: entry 'state.0.H' appears twice");
        h = value;
    }
    if (!h) {
        h_.clear();
        return;
    }
    if (h->shape() != Shape{n, n})
        this->fail(fmt::format("load_state_dict: entry 'state.0.H' has shape {}, expected ({},{})",
                               shape_string(h->shape()), n, n));
    const std::string bad = detail::bad_values(*h, detail::Values::finite);
    if (!bad.empty()) this->fail(fmt::format("load_state_dict: entry 'state.0.H' {}", bad));
    h_.assign(h->begin(), h->end());
}

template class BFGS<float>;
template class BFGS<double>;

}  // namespace tapegrad::optim
