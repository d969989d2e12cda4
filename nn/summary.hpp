// nn::summary: a model's layers with their output shapes and parameter counts, like torchinfo.
//
// Not part of <tapegrad/tapegrad.hpp>: include <tapegrad/nn/summary.hpp> yourself.
//
//     #include <tapegrad/nn/summary.hpp>
//     std::cout << tapegrad::nn::summary(net, {64, 1, 28, 28});
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

#include <tapegrad/autograd/tensor.hpp>
#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

/// One row of a summary: a layer, where it sits and what it gives.
struct SummaryRow {
    std::string path;            ///< dotted name in the model, e.g. "0" or "1.2"; empty for the model itself
    std::string type;            ///< the module as it prints itself: describe(), e.g. "Linear(...)"
    std::size_t depth = 0;       ///< 0 for the model, 1 for its layers, ...
    Shape output_shape;          ///< the layer's output for the summary's input
    std::size_t parameters = 0;  ///< parameter elements of this layer, its children included
    bool container = false;      ///< a Sequential listed layer by layer (its count is in its rows)
};

/// What nn::summary returns: print it (operator<<) or read the rows.
struct ModelSummary {
    /// The shape of the input the summary was made with.
    Shape input_shape;
    /// One row per layer, in order (nested modules indented).
    std::vector<SummaryRow> rows;
    /// Parameter elements of the whole model.
    std::size_t total_parameters = 0;
    std::size_t trainable_parameters = 0;  ///< those that require grad
    /// The table, lines separated by '\n', no newline at the end.
    std::string to_string() const;
};

/// Writes summary.to_string() and a newline.
std::ostream& operator<<(std::ostream& os, const ModelSummary& summary);

/// The layers of `module` with their output shapes for an input of `input_shape` (zeros, run
/// without recording a tape and in evaluation mode, so no running statistic, counter or random
/// generator moves; each module's train/eval flag is restored afterwards). A Sequential is run
/// layer by layer, nested ones too; any other module is one row. A layer that rejects its input
/// throws tapegrad::Error naming the layer ("summary: layer 2 (Linear(...)) ...").
template <class T>
ModelSummary summary(const Module<T>& module, const Shape& input_shape);

extern template ModelSummary summary(const Module<float>&, const Shape&);
extern template ModelSummary summary(const Module<double>&, const Shape&);

}  // namespace tapegrad::nn
