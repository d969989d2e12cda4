// libFuzzer target: load_npz (checkpoint archives) on arbitrary bytes must return or throw FileError.
#include <cstddef>
#include <cstdint>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/io/npz.hpp>

#include "fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = fuzz::write_input(data, size, "npz");
    try {
        // Both element types: a float checkpoint converts float64 members and the reverse.
        // A 1 MiB bound on inflated bytes keeps every input fast (the corpus's bombs exceed it).
        const auto limits = tapegrad::io::LoadOptions().max_inflated_bytes(1 << 20).allow_non_finite(true);
        const auto d = tapegrad::io::load_npz<double>(path, limits);
        const auto f = tapegrad::io::load_npz<float>(path, limits);
        if (d.size() != f.size()) __builtin_trap();
        for (std::size_t i = 0; i < d.size(); ++i)
            if (d[i].first != f[i].first || d[i].second.shape() != f[i].second.shape()) __builtin_trap();
    } catch (const tapegrad::FileError&) {
        // the expected way to refuse a bad file; anything else escaping is a finding
    }
    return 0;
}
