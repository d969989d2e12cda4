// Dropout<T>: inverted dropout, active only in training mode, seeded.
#pragma once

#include <cstdint>
#include <memory>

#include <tapegrad/autograd/random.hpp>
#include <tapegrad/nn/module.hpp>

namespace tapegrad::nn {

/// In training mode each element is zeroed with probability p and the others are scaled
/// by 1 / (1 - p), so the expectation is unchanged; in evaluation mode it is the identity.
/// The mask comes from tapegrad::default_generator() (so manual_seed makes it
/// reproducible), or from the layer's own generator when it is given a seed. Copies of a
/// seeded layer share its generator.
template <class T>
class Dropout : public Module<T> {
public:
    /// Zeroes with probability p in [0, 1] (tapegrad::Error otherwise), masks from default_generator().
    explicit Dropout(double p = 0.5);
    /// As above, with masks from the layer's own generator seeded with `seed`.
    Dropout(double p, std::uint64_t seed);

    Variable<T> forward(const Variable<T>& x) override;
    /// The probability of zeroing an element.
    double p() const { return p_; }

    std::string name() const override { return "Dropout"; }
    std::string settings() const override;

private:
    double p_;
    std::shared_ptr<Generator> gen_;  // null: the default generator
};

extern template class Dropout<float>;
extern template class Dropout<double>;

}  // namespace tapegrad::nn
