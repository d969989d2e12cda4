// nn::summary: runs a model on zeros layer by layer and tabulates shapes and parameter counts.
#include <tapegrad/nn/summary.hpp>

#include <algorithm>
#include <array>
#include <ostream>
#include <utility>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/factories.hpp>
#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/nn/sequential.hpp>

namespace tapegrad::nn {

namespace {

/// Puts every module in evaluation mode and gives each its own flag back on destruction, so a
/// summary leaves a model with mixed train/eval children as it found it.
template <class T>
class EvalModeGuard {
public:
    explicit EvalModeGuard(Module<T>& root) {
        record(root);
        root.eval();
    }
    ~EvalModeGuard() {
        // Pre-order: train() sets a whole subtree, so each later (deeper) entry corrects its own.
        for (auto& [module, training] : saved_) module->train(training);
    }
    EvalModeGuard(const EvalModeGuard&) = delete;
    EvalModeGuard& operator=(const EvalModeGuard&) = delete;

private:
    void record(Module<T>& m) {
        saved_.emplace_back(&m, m.is_training());
        for (auto& [name, child] : m.named_children()) record(*child);
    }
    std::vector<std::pair<Module<T>*, bool>> saved_;
};

template <class T>
Variable<T> run_layer(Module<T>& layer, const std::string& path, const Variable<T>& x) {
    try {
        return layer.forward(x);
    } catch (const Error& e) {
        const std::string who = path.empty() ? layer.describe() : "layer " + path + " (" + layer.describe() + ")";
        throw Error(
            fmt::format("summary: {} does not take an input of shape {}: {}", who, shape_string(x.shape()), e.what()));
    }
}

/// Adds the rows of `module` (and, for a Sequential, of its layers) and returns its output.
template <class T>
Variable<T> walk(Module<T>& module, const std::string& path, std::size_t depth, const Variable<T>& x,
                 std::vector<SummaryRow>& rows) {
    const std::size_t row = rows.size();
    rows.push_back(SummaryRow{path, module.describe(), depth, {}, module.num_parameters(), false});
    Variable<T> y;
    if (dynamic_cast<Sequential<T>*>(&module) && !module.named_children().empty()) {
        rows[row].container = true;
        y = x;
        for (const auto& [name, child] : module.named_children())
            y = walk(*child, path.empty() ? name : path + "." + name, depth + 1, y, rows);
    } else {
        y = run_layer(module, path, x);
    }
    rows[row].output_shape = y.shape();
    return y;
}

std::string with_commas(std::size_t n) {
    std::string digits = std::to_string(n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

}  // namespace

std::string ModelSummary::to_string() const {
    const std::string h_layer = "Layer (type)", h_shape = "Output shape", h_params = "Param #";
    std::vector<std::array<std::string, 3>> cells;
    for (const SummaryRow& r : rows) {
        std::string layer = std::string(2 * r.depth, ' ') + (r.path.empty() ? r.type : r.path + ": " + r.type);
        cells.push_back({std::move(layer), shape_string(r.output_shape),
                         r.container ? std::string("--") : with_commas(r.parameters)});
    }
    std::size_t w_layer = h_layer.size(), w_shape = h_shape.size(), w_params = h_params.size();
    for (const auto& c : cells) {
        w_layer = std::max(w_layer, c[0].size());
        w_shape = std::max(w_shape, c[1].size());
        w_params = std::max(w_params, c[2].size());
    }
    const std::string rule(w_layer + w_shape + w_params + 4, '=');
    std::string out = fmt::format("{:<{}}  {:<{}}  {:>{}}\n", h_layer, w_layer, h_shape, w_shape, h_params, w_params);
    out += rule + "\n";
    for (const auto& c : cells)
        out += fmt::format("{:<{}}  {:<{}}  {:>{}}\n", c[0], w_layer, c[1], w_shape, c[2], w_params);
    out += rule + "\n";
    out += "Total params: " + with_commas(total_parameters) + "\n";
    out += "Trainable params: " + with_commas(trainable_parameters) + "\n";
    out += "Non-trainable params: " + with_commas(total_parameters - trainable_parameters) + "\n";
    out += "Input shape: " + shape_string(input_shape);
    return out;
}

std::ostream& operator<<(std::ostream& os, const ModelSummary& summary) { return os << summary.to_string() << '\n'; }

template <class T>
ModelSummary summary(const Module<T>& module, const Shape& input_shape) {
    // forward() is not const, but the summary changes nothing it does not restore: no tape is
    // recorded and evaluation mode moves no running statistic, counter or generator.
    Module<T>& m = const_cast<Module<T>&>(module);
    ModelSummary s;
    s.input_shape = input_shape;
    for (const auto& p : module.parameters()) {
        s.total_parameters += p.size();
        if (p.requires_grad()) s.trainable_parameters += p.size();
    }
    NoGradGuard no_grad;
    EvalModeGuard<T> eval(m);
    walk(m, "", 0, zeros<T>(input_shape), s.rows);
    return s;
}

template ModelSummary summary(const Module<float>&, const Shape&);
template ModelSummary summary(const Module<double>&, const Shape&);

}  // namespace tapegrad::nn
