// Small helpers for the nn module's printouts and error messages.
#pragma once

#include <string>
#include <utility>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/autograd/ops/window_options.hpp>

namespace tapegrad::nn::detail {

/// "0.01" rather than "0.010000".
std::string format_number(double v);
/// "3" for a square size, "(3,5)" otherwise.
std::string format_size(Size2 s);

/// f(), with an Error from inside it re-thrown with the layer's label in front:
/// "MaxPool2d(k=2): max_pool2d: ...". The label is only built when there is an error.
template <class Label, class F>
auto in_layer(Label&& label, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const Error& e) {
        throw Error(std::forward<Label>(label)() + ": " + e.what());
    }
}

}  // namespace tapegrad::nn::detail
