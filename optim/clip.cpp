// Gradient clipping by joint norm and by value.
#include <tapegrad/optim/clip.hpp>

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>

namespace tapegrad::optim {

namespace {
/// Throws for an empty Variable or one given twice (its gradient would be scaled twice).
template <class T>
void check_params(const char* who, const std::vector<Variable<T>>& params) {
    std::unordered_set<const Node<T>*> seen;
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (!params[i].defined()) throw Error(fmt::format("{}: parameter {} is an empty Variable", who, i));
        if (!seen.insert(params[i].node()).second)
            throw Error(fmt::format("{}: parameter {} appears more than once; give each parameter once", who, i));
    }
}
}  // namespace

template <class T>
double clip_grad_norm(const std::vector<Variable<T>>& params, double max_norm, double norm_type,
                      bool error_if_nonfinite) {
    const char* who = "clip_grad_norm";
    if (!(max_norm >= 0)) throw Error(fmt::format("{}: max_norm must be >= 0, got {}", who, max_norm));
    if (!(norm_type > 0)) throw Error(fmt::format("{}: norm_type must be > 0 (or infinity), got {}", who, norm_type));
    check_params(who, params);

    const bool inf_norm = std::isinf(norm_type);
    double acc = 0;  // sum of |g|^p, or max |g|
    bool any = false;
    for (const auto& p : params) {
        if (!p.has_grad()) continue;
        any = true;
        const Tensor<T>& g = p.grad();
        const T* d = g.data();
        const std::size_t n = g.size();
        if (inf_norm) {
            for (std::size_t i = 0; i < n; ++i) {
                const double a = std::abs(double(d[i]));
                if (!(a <= acc)) acc = std::isnan(acc) ? acc : a;  // NaN sticks
            }
        } else if (norm_type == 2) {
            for (std::size_t i = 0; i < n; ++i) acc += double(d[i]) * double(d[i]);
        } else if (norm_type == 1) {
            for (std::size_t i = 0; i < n; ++i) acc += std::abs(double(d[i]));
        } else {
            for (std::size_t i = 0; i < n; ++i) acc += std::pow(std::abs(double(d[i])), norm_type);
        }
    }
    if (!any) return 0;
    const double total = inf_norm         ? acc
                         : norm_type == 2 ? std::sqrt(acc)
                         : norm_type == 1 ? acc
                                          : std::pow(acc, 1 / norm_type);
    if (error_if_nonfinite && !std::isfinite(total))
        throw Error(
            fmt::format("{}: the total norm of order {} of the gradients is {}, so they cannot be clipped "
                        "(error_if_nonfinite is set)",
                        who, norm_type, total));
    const double coef = max_norm / (total + 1e-6);
    if (coef < 1 || std::isnan(coef)) {
        const T c = T(coef);
        for (auto p : params) {
            if (!p.has_grad()) continue;
            Tensor<T>& g = p.mutable_grad();
            T* d = g.data();
            const std::size_t n = g.size();
#pragma omp simd
            for (std::size_t i = 0; i < n; ++i) d[i] *= c;
        }
    }
    return total;
}

template <class T>
void clip_grad_value(const std::vector<Variable<T>>& params, double clip_value) {
    const char* who = "clip_grad_value";
    if (!(clip_value >= 0)) throw Error(fmt::format("{}: clip_value must be >= 0, got {}", who, clip_value));
    check_params(who, params);
    const T hi = T(clip_value), lo = T(-clip_value);
    for (auto p : params) {
        if (!p.has_grad()) continue;
        Tensor<T>& g = p.mutable_grad();
        T* d = g.data();
        const std::size_t n = g.size();
        for (std::size_t i = 0; i < n; ++i) d[i] = std::min(std::max(d[i], lo), hi);
    }
}

template double clip_grad_norm(const std::vector<Variable<float>>&, double, double, bool);
template double clip_grad_norm(const std::vector<Variable<double>>&, double, double, bool);
template void clip_grad_value(const std::vector<Variable<float>>&, double);
template void clip_grad_value(const std::vector<Variable<double>>&, double);

}  // namespace tapegrad::optim
