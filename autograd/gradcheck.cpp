// gradcheck: one backward per output element against central differences per input element.
#include <tapegrad/autograd/gradcheck.hpp>

#include <cmath>
#include <fmt/format.h>

#include <tapegrad/autograd/engine.hpp>
#include <tapegrad/autograd/factories.hpp>
#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/autograd/ops.hpp>

namespace tapegrad {

namespace {

std::string index_string(const std::vector<std::size_t>& index) {
    std::string s = "(";
    for (std::size_t i = 0; i < index.size(); ++i) s += (i ? "," : "") + std::to_string(index[i]);
    return s + ")";
}

}  // namespace

std::string GradcheckReport::summary() const {
    std::string of_output;
    if (second_order)
        of_output = fmt::format(" in the gradient of input {} element {}", worst_output_input,
                                index_string(worst_output_index));
    else if (!worst_output_index.empty())
        of_output = fmt::format(" of output element {}", index_string(worst_output_index));
    return fmt::format(
        "{} {}: {} elements, max abs error {:.3g}, max rel error {:.3g}, relative difference {:.3g}; "
        "worst: input {} element {}{} analytic {:.10g} numeric {:.10g}",
        second_order ? "gradgradcheck" : "gradcheck", passed ? "passed" : "FAILED", elements, max_abs_error,
        max_rel_error, relative_difference, worst_input, index_string(worst_index), of_output, worst_analytic,
        worst_numeric);
}

namespace {

std::vector<std::size_t> unravel(std::size_t flat, const Shape& shape) {
    std::vector<std::size_t> idx(shape.size());
    for (std::size_t d = shape.size(); d-- > 0;) {
        idx[d] = shape[d] ? flat % shape[d] : 0;
        flat = shape[d] ? flat / shape[d] : 0;
    }
    return idx;
}

template <class T>
void check_inputs(const char* fn, const std::vector<Variable<T>>& inputs) {
    if (inputs.empty()) throw Error(fmt::format("{}: no inputs given", fn));
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (!inputs[i].defined()) throw Error(fmt::format("{}: input {} is an empty Variable", fn, i));
        if (!inputs[i].is_leaf())
            throw Error(
                fmt::format("{}: input {} is the output of '{}'; pass the leaves the function is computed "
                            "from",
                            fn, i, inputs[i].op_name()));
        if (!inputs[i].requires_grad())
            throw Error(
                fmt::format("{}: input {} (shape {}) does not require grad", fn, i, shape_string(inputs[i].shape())));
    }
}

/// Names output element k of the checked function in the report (gradcheck and gradgradcheck
/// differ: for the latter the output is the inputs' gradients, flattened and joined).
using OutputNamer = std::function<void(std::size_t k, const Shape& out_shape, GradcheckReport& report)>;

template <class T>
GradcheckReport run_gradcheck(const std::function<Variable<T>()>& f, const std::vector<Variable<T>>& inputs,
                              const GradcheckOptions& options, const OutputNamer& name_output) {
    if (!(options.eps() > 0)) throw Error(fmt::format("gradcheck: eps must be > 0, got {}", options.eps()));
    // f runs as the user wrote it, in grad mode as in training, including the evaluations for
    // the differences: an f that calls grad() itself needs its graph recorded.
    GradModeGuard record(true);

    // Analytic Jacobian, one row per output element: J[k][input][element].
    const Variable<T> y = f();
    if (!y.defined()) throw Error("gradcheck: the function returned an empty Variable");
    const std::size_t outs = y.size();
    std::vector<std::vector<Tensor<T>>> analytic(outs);
    for (std::size_t k = 0; k < outs; ++k) {
        if (!y.requires_grad()) {
            for (const auto& x : inputs) analytic[k].push_back(Tensor<T>(x.shape(), T(0)));
            continue;
        }
        Tensor<T> seed(y.shape(), T(0));
        seed.data()[k] = T(1);
        auto g = grad(std::vector<Variable<T>>{y}, inputs, {Variable<T>(std::move(seed))},
                      GradOptions().retain_graph(true).allow_unused(true));
        for (auto& gi : g) analytic[k].push_back(gi.value());
    }

    // Numeric Jacobian by central differences, one input element at a time.
    GradcheckReport report;
    double diff_sq = 0, sum_sq = 0, worst_error = -1;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        Variable<T> x = inputs[i];
        for (std::size_t j = 0; j < x.size(); ++j) {
            const T original = x.value().data()[j];
            x.mutable_value().data()[j] = T(double(original) + options.eps());
            const Tensor<T> plus = f().value();
            x.mutable_value().data()[j] = T(double(original) - options.eps());
            const Tensor<T> minus = f().value();
            x.mutable_value().data()[j] = original;
            if (plus.size() != outs || minus.size() != outs)
                throw Error("gradcheck: the function's output changed shape when its input was perturbed");
            for (std::size_t k = 0; k < outs; ++k) {
                const double numeric = (double(plus.data()[k]) - double(minus.data()[k])) / (2 * options.eps());
                const double a = double(analytic[k][i].data()[j]);
                const double err = std::abs(a - numeric);
                const double scale = std::max(std::abs(a), std::abs(numeric));
                const double bound = options.atol() + options.rtol() * std::abs(numeric);
                ++report.elements;
                diff_sq += (a - numeric) * (a - numeric);
                sum_sq += (a + numeric) * (a + numeric);
                report.max_abs_error = std::max(report.max_abs_error, err);
                if (scale > 0) report.max_rel_error = std::max(report.max_rel_error, err / scale);
                if (!(err <= bound)) report.passed = false;
                // The worst element is the one with the largest error (NaN worst of all): the one
                // max_abs_error reports, not the one furthest over the tolerance.
                const double badness = std::isnan(err) ? INFINITY : err;
                if (badness > worst_error) {
                    worst_error = badness;
                    report.worst_input = i;
                    report.worst_index = unravel(j, x.shape());
                    name_output(k, y.shape(), report);
                    report.worst_analytic = a;
                    report.worst_numeric = numeric;
                }
            }
        }
    }
    report.relative_difference = sum_sq > 0 ? std::sqrt(diff_sq) / std::sqrt(sum_sq) : 0.0;
    return report;
}

template <class T>
GradcheckReport run_gradcheck(const std::function<Variable<T>()>& f, const std::vector<Variable<T>>& inputs,
                              const GradcheckOptions& options) {
    check_inputs("gradcheck", inputs);
    return run_gradcheck<T>(f, inputs, options, [](std::size_t k, const Shape& out_shape, GradcheckReport& r) {
        r.worst_output_index = unravel(k, out_shape);
    });
}

template <class T>
GradcheckReport run_gradgradcheck(const std::function<Variable<T>()>& f, const std::vector<Variable<T>>& inputs,
                                  const GradcheckOptions& options) {
    check_inputs("gradgradcheck", inputs);
    if (!(options.eps() > 0)) throw Error(fmt::format("gradgradcheck: eps must be > 0, got {}", options.eps()));
    Shape out_shape;
    {
        GradModeGuard record(true);  // f as written: it may call grad() itself
        out_shape = f().shape();
    }
    Generator gen(options.seed());
    Variable<T> v = randn<T>(out_shape, gen, true);
    std::vector<Variable<T>> all = inputs;
    all.push_back(v);
    // The recorded first derivatives, flattened and joined, as a function of inputs and v.
    auto first_derivatives = [&]() -> Variable<T> {
        const Variable<T> y = f();
        std::vector<Variable<T>> parts;
        if (!y.requires_grad()) {
            for (const auto& x : inputs) parts.push_back(zeros<T>(Shape{x.size()}));
        } else {
            auto g =
                grad(std::vector<Variable<T>>{y}, inputs, {v}, GradOptions().create_graph(true).allow_unused(true));
            for (auto& gi : g) parts.push_back(reshape(gi, Shape{gi.size()}));
        }
        return concat(parts, 0);
    };
    // Output element k of first_derivatives is an element of the gradient of one input.
    auto name_output = [&](std::size_t k, const Shape&, GradcheckReport& r) {
        std::size_t a = 0;
        while (a + 1 < inputs.size() && k >= inputs[a].size()) k -= inputs[a++].size();
        r.worst_output_input = a;
        r.worst_output_index = unravel(k, inputs[a].shape());
    };
    GradcheckReport report = run_gradcheck<T>(first_derivatives, all, options, name_output);
    report.second_order = true;
    return report;
}

template <class T>
std::function<Variable<T>()> bind_inputs(const InputsFunction<T>& f, const std::vector<Variable<T>>& inputs) {
    return [f, inputs]() { return f(inputs); };
}

}  // namespace

template <class T>
GradcheckReport gradcheck(const typename NonDeduced<NoArgFunction<T>>::type& f, const std::vector<Variable<T>>& inputs,
                          const GradcheckOptions& options) {
    return run_gradcheck<T>(f, inputs, options);
}
template <class T>
GradcheckReport gradcheck(const typename NonDeduced<InputsFunction<T>>::type& f, const std::vector<Variable<T>>& inputs,
                          const GradcheckOptions& options) {
    return run_gradcheck<T>(bind_inputs<T>(f, inputs), inputs, options);
}
template <class T>
GradcheckReport gradgradcheck(const typename NonDeduced<NoArgFunction<T>>::type& f,
                              const std::vector<Variable<T>>& inputs, const GradcheckOptions& options) {
    return run_gradgradcheck<T>(f, inputs, options);
}
template <class T>
GradcheckReport gradgradcheck(const typename NonDeduced<InputsFunction<T>>::type& f,
                              const std::vector<Variable<T>>& inputs, const GradcheckOptions& options) {
    return run_gradgradcheck<T>(bind_inputs<T>(f, inputs), inputs, options);
}

#define TAPEGRAD_INSTANTIATE(T)                                                                          \
    template GradcheckReport gradcheck<T>(const NoArgFunction<T>&, const std::vector<Variable<T>>&,      \
                                          const GradcheckOptions&);                                      \
    template GradcheckReport gradcheck<T>(const InputsFunction<T>&, const std::vector<Variable<T>>&,     \
                                          const GradcheckOptions&);                                      \
    template GradcheckReport gradgradcheck<T>(const NoArgFunction<T>&, const std::vector<Variable<T>>&,  \
                                              const GradcheckOptions&);                                  \
    template GradcheckReport gradgradcheck<T>(const InputsFunction<T>&, const std::vector<Variable<T>>&, \
                                              const GradcheckOptions&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad
