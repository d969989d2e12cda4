// Seed gradients: the upstream gradient given for each output, or ones for a one-element output.
#include <tapegrad/autograd/engine/seeds.hpp>

#include <fmt/format.h>
#include <type_traits>

namespace tapegrad::detail {
namespace {

template <class T>
const Tensor<T>& value_of(const Tensor<T>& t) {
    return t;
}
template <class T>
const Tensor<T>& value_of(const Variable<T>& v) {
    return v.value();
}

/// What the caller gave, as the sweep's gradient type (a Variable given under create_graph stays
/// itself, so that the results can be differentiated with respect to it).
template <class G, class T, class Given>
G as_gradient(const Given& g) {
    if constexpr (std::is_same_v<G, Given>)
        return g;
    else if constexpr (std::is_same_v<G, Tensor<T>>)
        return g.value();
    else
        return Variable<T>(g);
}

}  // namespace

template <class G, class T, class Given>
std::vector<G> seed_gradients(const char* fn, const std::vector<Variable<T>>& outputs,
                              const std::vector<Given>& given) {
    std::vector<G> seeds;
    seeds.reserve(outputs.size());
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        const Variable<T>& out = outputs[i];
        if (given.empty()) {
            if (out.size() != 1)
                throw Error(
                    fmt::format("{}: the output has shape {}, not one element; pass its upstream gradient, "
                                "e.g. y.backward(dL_dy)",
                                fn, shape_string(out.shape())));
            seeds.push_back(as_gradient<G, T>(Tensor<T>(out.shape(), T(1))));
            continue;
        }
        const Shape& got = value_of(given[i]).shape();
        if (got != out.shape())
            throw Error(fmt::format("{}: gradient for output {} has shape {}, the output has shape {}", fn, i,
                                    shape_string(got), shape_string(out.shape())));
        seeds.push_back(as_gradient<G, T>(given[i]));
    }
    return seeds;
}

#define TAPEGRAD_INSTANTIATE(T)                                                                                 \
    template std::vector<Tensor<T>> seed_gradients<Tensor<T>>(const char*, const std::vector<Variable<T>>&,     \
                                                              const std::vector<Tensor<T>>&);                   \
    template std::vector<Tensor<T>> seed_gradients<Tensor<T>>(const char*, const std::vector<Variable<T>>&,     \
                                                              const std::vector<Variable<T>>&);                 \
    template std::vector<Variable<T>> seed_gradients<Variable<T>>(const char*, const std::vector<Variable<T>>&, \
                                                                  const std::vector<Tensor<T>>&);               \
    template std::vector<Variable<T>> seed_gradients<Variable<T>>(const char*, const std::vector<Variable<T>>&, \
                                                                  const std::vector<Variable<T>>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::detail
