// libFuzzer target: the .npy prefix and header-dictionary parser on arbitrary bytes (no file, no zip around it).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/io/detail/checked_size.hpp>
#include <tapegrad/io/detail/npy.hpp>

namespace npy = tapegrad::io::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        // The same steps as load_npz: the prefix (10 or 12 bytes), then the dictionary it announces.
        const std::size_t have =
            std::min<std::size_t>(size, data && size > 6 && (data[6] == 2 || data[6] == 3) ? 12 : 10);
        const std::size_t preamble = npy::npy_preamble_length(data, have, "fuzz");
        if (preamble > npy::npy_max_header + npy::npy_prefix_max) __builtin_trap();
        if (preamble > size) return 0;
        const npy::NpyHeader h =
            npy::parse_npy_header(std::string(reinterpret_cast<const char*>(data) + have, preamble - have), "fuzz");
        // A header that passed must be consistent: count and payload from the shape, no overflow.
        std::size_t count = 0, bytes = 0;
        if (h.shape.size() > npy::npy_max_dimensions || !npy::checked_product(h.shape, count) || count != h.count ||
            !npy::checked_mul(count, npy::npy_item_size(h.dtype), bytes) || bytes != h.payload_bytes)
            __builtin_trap();
        // and what the writer makes of that header must parse back to the same header
        const std::string again = npy::npy_preamble(h.dtype, h.shape);
        const auto* p = reinterpret_cast<const unsigned char*>(again.data());
        const std::size_t len = npy::npy_preamble_length(p, 10, "fuzz (rewritten)");
        const npy::NpyHeader h2 = npy::parse_npy_header(again.substr(10, len - 10), "fuzz (rewritten)");
        if (h2.shape != h.shape || h2.dtype != h.dtype || len != again.size()) __builtin_trap();
    } catch (const tapegrad::FileError&) {
        // the expected way to refuse a bad header
    }
    return 0;
}
