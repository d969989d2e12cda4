// Flatten: dimensions start_axis..end_axis merged into one (by default all but the batch dimension).
#pragma once

#include <string>

namespace tapegrad::nn {

/// (N, C, H, W) -> (N, C*H*W) with the defaults; a stateless callable like the activations.
struct Flatten {
    /// First axis merged (negative: counted from the end).
    int start_axis = 1;
    /// Last axis merged (negative: counted from the end).
    int end_axis = -1;
    /// The layer interface Sequential uses: operator() flattens x, name() and settings() print it as
    /// Module::describe() does.
    ///@{
    template <class T>
    Variable<T> operator()(const Variable<T>& x) const {
        return tapegrad::flatten(x, start_axis, end_axis);
    }
    std::string name() const { return "Flatten"; }
    std::string settings() const {
        return "start_axis=" + std::to_string(start_axis) + ", end_axis=" + std::to_string(end_axis);
    }
    ///@}
};

}  // namespace tapegrad::nn
