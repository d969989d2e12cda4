// QuasiNewton<T>: PyTorch's LBFGS iteration over flattened parameters, its stop reasons and state.
#include <tapegrad/optim/quasi_newton.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/optim/check.hpp>
#include <tapegrad/optim/detail/flat.hpp>
#include <tapegrad/optim/line_search.hpp>
#include <tapegrad/optim/detail/state_check.hpp>

namespace tapegrad::optim {

const char* to_string(StopReason reason) noexcept {
    switch (reason) {
        case StopReason::NotRun:
            return "not run";
        case StopReason::GradientTolerance:
            return "gradient within tolerance_grad";
        case StopReason::StepTolerance:
            return "step below tolerance_change";
        case StopReason::LossChange:
            return "loss change below tolerance_change";
        case StopReason::NoDescent:
            return "no descent direction (gradient . direction > -tolerance_change)";
        case StopReason::MaxIterations:
            return "max_iter reached";
        case StopReason::MaxEvaluations:
            return "max_eval reached";
        case StopReason::Callback:
            return "stopped by the callback";
        case StopReason::NonFiniteLoss:
            return "loss is not finite";
    }
    return "unknown";
}

std::string QuasiNewtonReport::summary() const {
    return fmt::format("{} iterations, {} evaluations, loss {:g} -> {:g}: {}", iterations, evaluations, initial_loss,
                       final_loss, to_string(reason));
}

template <class T>
void QuasiNewton<T>::init(std::vector<Variable<T>> params) {
    this->add_params(std::move(params));
    for (const auto& p : this->groups_[0]) {
        numel_ += p.size();
        shapes_.push_back(p.shape());
    }
    const Settings o = settings();
    const char* who = this->name();
    detail::check_positive(who, "lr", o.lr);
    detail::check_at_least(who, "max_iter", o.max_iter, 1);
    detail::check_at_least(who, "max_eval", o.max_eval, 1);
    detail::check_nonnegative(who, "tolerance_grad", o.tolerance_grad);
    detail::check_nonnegative(who, "tolerance_change", o.tolerance_change);
}

template <class T>
double QuasiNewton<T>::lr(std::size_t group) const {
    this->checked_group(group);
    return settings().lr;
}

template <class T>
void QuasiNewton<T>::set_lr(std::size_t group, double lr) {
    this->checked_group(group);
    detail::check_positive(this->name(), "lr", lr);
    set_settings_lr(lr);
}

template <class T>
void QuasiNewton<T>::update() {
    this->fail(
        "step() needs a closure that zeroes the gradients, computes the loss, runs backward and returns "
        "the loss: step(closure)");
}

template <class T>
bool QuasiNewton<T>::same_shapes() const {
    const auto& params = this->groups_[0];
    for (std::size_t k = 0; k < params.size(); ++k)
        if (params[k].shape() != shapes_[k]) return false;
    return true;
}

template <class T>
void QuasiNewton<T>::check_shapes() const {
    const auto& params = this->groups_[0];
    for (std::size_t k = 0; k < params.size(); ++k) {
        const Variable<T>& p = params[k];
        if (p.shape() != shapes_[k])
            this->fail(
                fmt::format("step: parameter {} now has shape {}, but it had shape {} when the optimizer was "
                            "made (its value was replaced by one of another shape); the flattened state no "
                            "longer fits: make a new optimizer",
                            k, shape_string(p.shape()), shape_string(shapes_[k])));
        if (p.has_grad() && p.grad().shape() != p.shape())
            this->fail(fmt::format("step: parameter {} has shape {} but its gradient has shape {}", k,
                                   shape_string(p.shape()), shape_string(p.grad().shape())));
    }
}

template <class T>
double QuasiNewton<T>::evaluate(const Closure& closure) {
    const double loss = evaluate_unchecked(closure);
    check_shapes();  // the closure may have replaced a value, or made a gradient of another shape
    return loss;
}

template <class T>
double QuasiNewton<T>::evaluate_unchecked(const Closure& closure) {
    GradModeGuard recording(true);
    return closure();
}

template <class T>
void QuasiNewton<T>::gather_flat_grad(std::vector<T>& out) const {
    out.resize(numel_);
    T* o = out.data();
    for (const auto& p : this->groups_[0]) {
        const std::size_t n = p.size();
        if (p.has_grad())
            std::copy_n(p.grad().data(), n, o);
        else
            std::fill_n(o, n, T(0));
        o += n;
    }
}

template <class T>
void QuasiNewton<T>::add_to_params(double t, const std::vector<T>& d) {
    const T step = T(t);
    const T* s = d.data();
    for (auto& p : this->groups_[0]) {
        const std::size_t n = p.size();
        T* x = p.mutable_value().data();
        for (std::size_t i = 0; i < n; ++i) x[i] = x[i] + step * s[i];
        s += n;
    }
}

template <class T>
void QuasiNewton<T>::copy_params(std::vector<T>& out) const {
    out.resize(numel_);
    T* o = out.data();
    for (const auto& p : this->groups_[0]) o = std::copy_n(p.value().data(), p.size(), o);
}

template <class T>
void QuasiNewton<T>::set_params(const std::vector<T>& x) {
    const T* s = x.data();
    for (auto& p : this->groups_[0]) {
        std::copy_n(s, p.size(), p.mutable_value().data());
        s += p.size();
    }
}

template <class T>
double QuasiNewton<T>::run(const Closure& closure) {
    const Settings o = settings();
    check_shapes();
    report_ = QuasiNewtonReport();

    const double orig_loss = evaluate(closure);
    double loss = orig_loss;
    std::size_t current_evals = 1;
    ++func_evals_;
    report_.initial_loss = report_.final_loss = loss;
    report_.evaluations = 1;

    std::vector<T> flat_grad;
    gather_flat_grad(flat_grad);
    if (!std::isfinite(loss)) {
        report_.reason = StopReason::NonFiniteLoss;
        return orig_loss;
    }
    bool opt_cond = detail::max_abs(flat_grad) <= o.tolerance_grad;
    if (opt_cond) {
        report_.reason = StopReason::GradientTolerance;
        return orig_loss;
    }

    std::vector<T> y, s, x_init;
    std::size_t n_iter = 0;
    StopReason reason = StopReason::MaxIterations;
    while (n_iter < std::size_t(o.max_iter)) {
        ++n_iter;
        ++n_iter_;

        // The direction: steepest descent at first, then -H g.
        if (n_iter_ == 1) {
            d_.resize(numel_);
            for (std::size_t i = 0; i < numel_; ++i) d_[i] = -flat_grad[i];
            reset_curvature();
        } else {
            y.resize(numel_);
            s.resize(numel_);
            for (std::size_t i = 0; i < numel_; ++i) {
                y[i] = flat_grad[i] - prev_flat_grad_[i];
                s[i] = d_[i] * T(t_);
            }
            const double ys = detail::dot(y, s);
            if (ys > 1e-10) add_pair(s, y, ys);
            direction(flat_grad, d_);
        }
        prev_flat_grad_ = flat_grad;
        prev_loss_ = loss;

        // The first step is scaled down by the gradient's size; later ones start at lr.
        t_ = n_iter_ == 1 ? std::min(1., 1. / detail::sum_abs(flat_grad)) * o.lr : o.lr;
        const double gtd = detail::dot(flat_grad, d_);
        if (gtd > -o.tolerance_change) {
            reason = StopReason::NoDescent;
            break;
        }

        std::size_t ls_evals = 0;
        if (o.line_search == LineSearch::StrongWolfe) {
            copy_params(x_init);
            LineObjective<T> along = [&](double t, std::vector<T>& grad) {
                add_to_params(t, d_);
                double f;
                try {
                    f = evaluate(closure);
                } catch (...) {
                    // A throwing closure leaves the parameters where they were (unless it gave
                    // one another shape: then there is no "where they were" to go back to).
                    if (same_shapes()) set_params(x_init);
                    throw;
                }
                gather_flat_grad(grad);
                set_params(x_init);
                return f;
            };
            auto found = strong_wolfe<T>(along, t_, d_, loss, flat_grad, gtd);
            loss = found.loss;
            flat_grad = std::move(found.grad);
            t_ = found.t;
            ls_evals = found.evaluations;
            add_to_params(t_, d_);
            opt_cond = detail::max_abs(flat_grad) <= o.tolerance_grad;
        } else {
            add_to_params(t_, d_);
            if (n_iter != std::size_t(o.max_iter)) {
                loss = evaluate(closure);
                gather_flat_grad(flat_grad);
                opt_cond = detail::max_abs(flat_grad) <= o.tolerance_grad;
                ls_evals = 1;
            }
        }
        current_evals += ls_evals;
        func_evals_ += ls_evals;
        report_.iterations = n_iter;
        report_.evaluations = current_evals;
        report_.final_loss = loss;

        // Stop conditions (PyTorch checks the same ones; all of them end the call).
        double max_step = 0;
        for (std::size_t i = 0; i < numel_; ++i) max_step = std::max(max_step, std::abs(double(d_[i] * T(t_))));
        if (!std::isfinite(loss)) {
            reason = StopReason::NonFiniteLoss;
            break;
        }
        if (opt_cond) {
            reason = StopReason::GradientTolerance;
            break;
        }
        if (max_step <= o.tolerance_change) {
            reason = StopReason::StepTolerance;
            break;
        }
        if (std::abs(loss - prev_loss_) < o.tolerance_change) {
            reason = StopReason::LossChange;
            break;
        }
        if (n_iter == std::size_t(o.max_iter)) {
            reason = StopReason::MaxIterations;
            break;
        }
        if (current_evals >= std::size_t(o.max_eval)) {
            reason = StopReason::MaxEvaluations;
            break;
        }
        if (o.callback && *o.callback && (*o.callback)(QuasiNewtonProgress{n_iter, current_evals, loss, t_})) {
            reason = StopReason::Callback;
            break;
        }
    }
    report_.reason = reason;
    report_.iterations = n_iter;
    return orig_loss;
}

template <class T>
StateDict<T> QuasiNewton<T>::state_dict() const {
    auto scalar = [](double v) {
        Tensor<T> t = Tensor<T>::from_shape({});
        t() = T(v);
        return t;
    };
    auto vec = [](const std::vector<T>& v) {
        Tensor<T> t = Tensor<T>::from_shape({v.size()});
        std::copy(v.begin(), v.end(), t.begin());
        return t;
    };
    StateDict<T> out;
    out.emplace_back("state.0.n_iter", scalar(double(n_iter_)));
    out.emplace_back("state.0.func_evals", scalar(double(func_evals_)));
    if (n_iter_ > 0) {
        out.emplace_back("state.0.d", vec(d_));
        out.emplace_back("state.0.t", scalar(t_));
        out.emplace_back("state.0.prev_flat_grad", vec(prev_flat_grad_));
        out.emplace_back("state.0.prev_loss", scalar(prev_loss_));
        StateDict<T> curvature;
        save_curvature(curvature);
        for (auto& [name, value] : curvature) out.emplace_back("state.0." + name, std::move(value));
    }
    out.emplace_back("param_groups.0.lr", scalar(settings().lr));
    return out;
}

template <class T>
void QuasiNewton<T>::load_state_dict(const StateDict<T>& state) {
    std::map<std::string_view, const Tensor<T>*> base;
    std::vector<std::pair<std::string_view, const Tensor<T>*>> curvature;
    const std::string_view prefix = "state.0.";
    for (const auto& [name, value] : state) {
        const std::string_view n = name;
        const bool is_base = n == "param_groups.0.lr" || n == "state.0.n_iter" || n == "state.0.func_evals" ||
                             n == "state.0.d" || n == "state.0.t" || n == "state.0.prev_flat_grad" ||
                             n == "state.0.prev_loss";
        if (is_base) {
            if (!base.emplace(n, &value).second)
                this->fail(fmt::format("load_state_dict: entry '{}' appears twice", name));
        } else if (n.substr(0, prefix.size()) == prefix && is_curvature_entry(n.substr(prefix.size()))) {
            curvature.emplace_back(n.substr(prefix.size()), &value);
        } else {
            this->fail(fmt::format("load_state_dict: unexpected entry '{}' for {}", name, this->name()));
        }
    }
    auto get = [&](std::string_view key, const Shape& shape, bool required) -> const Tensor<T>* {
        auto it = base.find(key);
        if (it == base.end()) {
            if (required) this->fail(fmt::format("load_state_dict: entry '{}' is missing", key));
            return nullptr;
        }
        if (it->second->shape() != shape)
            this->fail(fmt::format("load_state_dict: entry '{}' has shape {}, expected {}", key,
                                   shape_string(it->second->shape()), shape_string(shape)));
        return it->second;
    };
    auto count = [&](std::string_view key) -> std::size_t {
        const double v = double(get(key, Shape{}, true)->data()[0]);
        if (!(v >= 0 && v == std::floor(v) && v < 1e18))
            this->fail(fmt::format("load_state_dict: entry '{}' must be a count, got {}", key, v));
        return std::size_t(v);
    };
    const std::size_t n_iter = count("state.0.n_iter");
    const std::size_t func_evals = count("state.0.func_evals");
    const Tensor<T>* lr = get("param_groups.0.lr", Shape{}, false);
    if (lr && !(double(lr->data()[0]) > 0))
        this->fail(
            fmt::format("load_state_dict: entry 'param_groups.0.lr' holds lr {}, must be > 0", double(lr->data()[0])));
    if (lr && !std::isfinite(double(lr->data()[0])))
        this->fail(fmt::format("load_state_dict: entry 'param_groups.0.lr' holds lr {}, must be finite",
                               double(lr->data()[0])));
    const Shape flat{numel_};
    const bool started = n_iter > 0;
    // Each entry with what its values must be (a NaN direction would make every later step NaN).
    auto checked = [&](std::string_view key, const Shape& shape, detail::Values kind) {
        const Tensor<T>* v = get(key, shape, started);
        if (v) {
            const std::string bad = detail::bad_values(*v, kind);
            if (!bad.empty()) this->fail(fmt::format("load_state_dict: entry '{}' {}", key, bad));
        }
        return v;
    };
    const Tensor<T>* d = checked("state.0.d", flat, detail::Values::finite);
    const Tensor<T>* t = checked("state.0.t", Shape{}, detail::Values::nonnegative);
    const Tensor<T>* prev_grad = checked("state.0.prev_flat_grad", flat, detail::Values::finite);
    const Tensor<T>* prev_loss = checked("state.0.prev_loss", Shape{}, detail::Values::finite);
    if (!started && (d || t || prev_grad || prev_loss || !curvature.empty()))
        this->fail("load_state_dict: state.0.n_iter is 0 but there are entries of a started run");

    load_curvature(curvature);  // checks its own entries; all or nothing
    n_iter_ = n_iter;
    func_evals_ = func_evals;
    if (lr && T(settings().lr) != lr->data()[0]) set_settings_lr(double(lr->data()[0]));  // stored as T
    if (started) {
        d_.assign(d->begin(), d->end());
        prev_flat_grad_.assign(prev_grad->begin(), prev_grad->end());
        t_ = double(t->data()[0]);
        prev_loss_ = double(prev_loss->data()[0]);
    } else {
        d_.clear();
        prev_flat_grad_.clear();
    }
}

template class QuasiNewton<float>;
template class QuasiNewton<double>;

}  // namespace tapegrad::optim
