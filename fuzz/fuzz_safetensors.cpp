// libFuzzer target: read_safetensors (weights in the safetensors format) on arbitrary bytes must return or throw
// FileError.
#include <cstddef>
#include <cstdint>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/io/safetensors.hpp>

#include "fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = fuzz::write_input(data, size, "safetensors");
    try {
        const auto arrays = tapegrad::io::read_safetensors(path, tapegrad::io::LoadOptions().allow_non_finite(true));
        // What it returns must agree with itself: sizes from shapes, names unique, conversions
        // either work or refuse with FileError.
        for (std::size_t i = 0; i < arrays.size(); ++i) {
            std::size_t n = 1;
            for (std::size_t d : arrays[i].shape()) n *= d;
            if (n != arrays[i].size()) __builtin_trap();
            for (std::size_t j = 0; j < i; ++j)
                if (arrays[j].name() == arrays[i].name()) __builtin_trap();
            if (arrays[i].dtype() == tapegrad::io::Dtype::int64) {
                if (arrays[i].to<std::int64_t>("fuzz").size() != n) __builtin_trap();
            } else {
                if (arrays[i].to<double>("fuzz").size() != n) __builtin_trap();
                try {
                    arrays[i].to<float>("fuzz");
                } catch (const tapegrad::FileError&) {
                    // a float64 too large for float
                }
            }
        }
    } catch (const tapegrad::FileError&) {
        // the expected way to refuse a bad file; anything else escaping is a finding
    }
    return 0;
}
