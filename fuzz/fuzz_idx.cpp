// libFuzzer target: read_idx (raw or gzip IDX files) on arbitrary bytes must return or throw FileError.
#include <cstddef>
#include <cstdint>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/data/idx.hpp>

#include "fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = fuzz::write_input(data, size, "idx");
    try {
        const auto a = tapegrad::data::read_idx(path, tapegrad::io::LoadOptions().max_inflated_bytes(1 << 20));
        // What it returns must agree with itself: the payload is exactly the product of the extents.
        std::size_t n = 1;
        for (std::size_t d : a.shape) n *= d;
        if (n != a.data.size() || a.shape.empty()) __builtin_trap();
    } catch (const tapegrad::FileError&) {
        // the expected way to refuse a bad file; anything else escaping is a finding
    }
    return 0;
}
