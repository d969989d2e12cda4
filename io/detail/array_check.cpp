// Checks shared by every checkpoint format (see array_check.hpp).
#include <tapegrad/io/detail/array_check.hpp>

#include <set>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/io/detail/npy.hpp>
#include <tapegrad/io/detail/value_check.hpp>

namespace tapegrad::io::detail {

std::string bad_array_name(const std::string& name) {
    if (name.empty() || name.size() > max_array_name) return fmt::format("{} characters", name.size());
    for (char c : name)
        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '\\')
            return fmt::format("character 0x{:02x}", unsigned(static_cast<unsigned char>(c)));
    return {};
}

namespace {

template <class E>
std::size_t first_bad(const Array& a) {
    return first_non_finite(static_cast<const E*>(a.data()), a.size());
}

std::string non_finite_text(const Array& a, std::size_t& index) {
    index = a.size();
    if (a.dtype() == Dtype::float32) {
        index = first_bad<float>(a);
        if (index != a.size()) return element_text(static_cast<const float*>(a.data()), index);
    } else if (a.dtype() == Dtype::float64) {
        index = first_bad<double>(a);
        if (index != a.size()) return element_text(static_cast<const double*>(a.data()), index);
    }
    return {};
}

}  // namespace

void check_arrays_for_save(const Arrays& arrays, const SaveOptions& options, const std::string& who,
                           const std::string& path) {
    if (path.empty()) throw Error(who + ": empty path; expected the name of a file");
    std::set<std::string> names;
    for (const Array& a : arrays) {
        const std::string& name = a.name();
        const std::string bad = bad_array_name(name);
        if (!bad.empty())
            throw Error(
                fmt::format("{}: '{}': bad array name '{}' ({}); expected 1 to {} printable ASCII characters "
                            "without spaces, '/' or '\\'",
                            who, path, name, bad, max_array_name));
        if (!names.insert(name).second)
            throw Error(fmt::format("{}: '{}': array name '{}' given twice; expected unique names", who, path, name));
        const std::string at = fmt::format("{}: '{}': array '{}'", who, path, name);
        std::size_t count = 0, bytes = 0;
        try {
            check_npy_shape(a.shape(), a.dtype(), at, count, bytes);
        } catch (const FileError& e) {
            throw Error(std::string(e.what()) + " (no reader could read it back)");
        }
        if (!options.allow_non_finite()) {
            std::size_t i = 0;
            const std::string text = non_finite_text(a, i);
            if (!text.empty())
                throw Error(
                    fmt::format("{}: {} is not finite; expected finite values (SaveOptions::"
                                "allow_non_finite(true) writes NaN and infinity)",
                                at, text));
        }
    }
}

void check_values_read(const Array& array, const LoadOptions& options, const std::string& at) {
    if (options.allow_non_finite()) return;
    std::size_t i = 0;
    const std::string text = non_finite_text(array, i);
    if (!text.empty())
        throw FileError(
            fmt::format("{}: {} is not finite; expected finite values (LoadOptions::allow_non_finite(true) "
                        "accepts NaN and infinity)",
                        at, text));
}

}  // namespace tapegrad::io::detail
