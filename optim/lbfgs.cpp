// LBFGS: the two-loop recursion over the stored pairs, and its state entries.
#include <tapegrad/optim/lbfgs.hpp>

#include <charconv>

#include <fmt/format.h>

#include <tapegrad/optim/check.hpp>
#include <tapegrad/optim/detail/flat.hpp>
#include <tapegrad/optim/detail/state_check.hpp>

namespace tapegrad::optim {

template <class T>
LBFGS<T>::LBFGS(std::vector<Variable<T>> params, const LBFGSOptions& options) : options_(options) {
    this->init(std::move(params));
    detail::check_at_least(name(), "history_size", options_.history_size(), 1);
}

template <class T>
typename QuasiNewton<T>::Settings LBFGS<T>::settings() const {
    return {options_.lr(),
            options_.max_iter(),
            options_.max_eval(),
            options_.tolerance_grad(),
            options_.tolerance_change(),
            options_.line_search(),
            &options_.callback()};
}

template <class T>
void LBFGS<T>::reset_curvature() {
    old_dirs_.clear();
    old_stps_.clear();
    ro_.clear();
    h_diag_ = 1;
}

template <class T>
void LBFGS<T>::add_pair(const std::vector<T>& s, const std::vector<T>& y, double ys) {
    if (old_dirs_.size() == std::size_t(options_.history_size())) {
        old_dirs_.pop_front();
        old_stps_.pop_front();
        ro_.pop_front();
    }
    old_dirs_.push_back(y);
    old_stps_.push_back(s);
    ro_.push_back(T(1. / ys));
    h_diag_ = ys / detail::dot(y, y);
}

template <class T>
void LBFGS<T>::direction(const std::vector<T>& g, std::vector<T>& d) {
    // Two-loop recursion (Nocedal & Wright, algorithm 7.4), in d's storage.
    const std::size_t m = old_dirs_.size(), n = g.size();
    al_.resize(m);
    d.resize(n);
    for (std::size_t i = 0; i < n; ++i) d[i] = -g[i];
    for (std::size_t k = m; k-- > 0;) {
        al_[k] = detail::dot(old_stps_[k], d) * double(ro_[k]);
        const T a = T(al_[k]);
        const std::vector<T>& yk = old_dirs_[k];
        for (std::size_t i = 0; i < n; ++i) d[i] = d[i] + (-a) * yk[i];
    }
    const T h = T(h_diag_);
    for (std::size_t i = 0; i < n; ++i) d[i] = d[i] * h;
    for (std::size_t k = 0; k < m; ++k) {
        const double be = detail::dot(old_dirs_[k], d) * double(ro_[k]);
        const T a = T(al_[k] - be);
        const std::vector<T>& sk = old_stps_[k];
        for (std::size_t i = 0; i < n; ++i) d[i] = d[i] + a * sk[i];
    }
}

template <class T>
void LBFGS<T>::save_curvature(StateDict<T>& out) const {
    const std::size_t m = old_dirs_.size(), n = this->numel();
    for (std::size_t k = 0; k < m; ++k) {
        Tensor<T> y = Tensor<T>::from_shape({n}), s = Tensor<T>::from_shape({n});
        std::copy(old_dirs_[k].begin(), old_dirs_[k].end(), y.begin());
        std::copy(old_stps_[k].begin(), old_stps_[k].end(), s.begin());
        out.emplace_back(fmt::format("old_dirs.{}", k), std::move(y));
        out.emplace_back(fmt::format("old_stps.{}", k), std::move(s));
    }
    Tensor<T> ro = Tensor<T>::from_shape({m});
    std::copy(ro_.begin(), ro_.end(), ro.begin());
    out.emplace_back("ro", std::move(ro));
    Tensor<T> h = Tensor<T>::from_shape({});
    h() = T(h_diag_);
    out.emplace_back("H_diag", std::move(h));
}

namespace {
/// "old_dirs.12" -> 12 for the given head; false otherwise.
bool indexed(std::string_view name, std::string_view head, std::size_t& k) {
    if (name.substr(0, head.size()) != head) return false;
    const std::string_view digits = name.substr(head.size());
    if (digits.empty() || (digits.size() > 1 && digits[0] == '0')) return false;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), k);
    return ec == std::errc() && end == digits.data() + digits.size();
}
}  // namespace

template <class T>
bool LBFGS<T>::is_curvature_entry(std::string_view name) const {
    std::size_t k;
    return name == "ro" || name == "H_diag" || indexed(name, "old_dirs.", k) || indexed(name, "old_stps.", k);
}

template <class T>
void LBFGS<T>::load_curvature(const std::vector<std::pair<std::string_view, const Tensor<T>*>>& entries) {
    if (entries.empty()) {
        reset_curvature();
        return;
    }
    const std::size_t n = this->numel();
    const Tensor<T>* ro = nullptr;
    const Tensor<T>* h = nullptr;
    for (const auto& [name, value] : entries) {
        if (name == "ro") ro = value;
        if (name == "H_diag") h = value;
    }
    if (!ro) this->fail("load_state_dict: entry 'state.0.ro' is missing");
    if (!h) this->fail("load_state_dict: entry 'state.0.H_diag' is missing");
    if (ro->dimension() != 1)
        this->fail(fmt::format("load_state_dict: entry 'state.0.ro' has shape {}, expected one dimension",
                               shape_string(ro->shape())));
    if (h->dimension() != 0)
        this->fail(
            fmt::format("load_state_dict: entry 'state.0.H_diag' has shape {}, expected ()", shape_string(h->shape())));
    // ro = 1 / y.s and H_diag = y.s / y.y with y.s > 0: both positive (a NaN or a negative one
    // would turn every later direction into NaN or an ascent).
    for (const auto& [key, t] : {std::pair<const char*, const Tensor<T>*>{"state.0.ro", ro}, {"state.0.H_diag", h}}) {
        const std::string bad = detail::bad_values(*t, detail::Values::positive);
        if (!bad.empty()) this->fail(fmt::format("load_state_dict: entry '{}' {}", key, bad));
    }
    const std::size_t m = ro->size();
    if (m > std::size_t(options_.history_size()))
        this->fail(fmt::format("load_state_dict: {} stored pairs exceed history_size {}", m, options_.history_size()));
    std::deque<std::vector<T>> dirs(m), stps(m);
    std::vector<bool> have_dir(m), have_stp(m);
    for (const auto& [name, value] : entries) {
        std::size_t k = 0;
        const bool dir = indexed(name, "old_dirs.", k);
        if (!dir && !indexed(name, "old_stps.", k)) continue;
        if (k >= m)
            this->fail(
                fmt::format("load_state_dict: entry 'state.0.{}' is beyond the {} pairs of 'state.0.ro'", name, m));
        if (value->shape() != Shape{n})
            this->fail(fmt::format("load_state_dict: entry 'state.0.{}' has shape {}, expected ({},)", name,
                                   shape_string(value->shape()), n));
        const std::string bad = detail::bad_values(*value, detail::Values::finite);
        if (!bad.empty()) this->fail(fmt::format("load_state_dict: entry 'state.0.{}' {}", name, bad));
        std::vector<bool>& have = dir ? have_dir : have_stp;
        if (have[k]) this->fail(fmt::format("load_state_dict: entry 'state.0.{}' appears twice", name));
        have[k] = true;
        (dir ? dirs : stps)[k].assign(value->begin(), value->end());
    }
    for (std::size_t k = 0; k < m; ++k)
        if (!have_dir[k] || !have_stp[k])
            this->fail(fmt::format("load_state_dict: entry 'state.0.{}.{}' is missing",
                                   have_dir[k] ? "old_stps" : "old_dirs", k));
    old_dirs_ = std::move(dirs);
    old_stps_ = std::move(stps);
    ro_.assign(ro->begin(), ro->end());
    h_diag_ = double(h->data()[0]);
}

template class LBFGS<float>;
template class LBFGS<double>;

}  // namespace tapegrad::optim
