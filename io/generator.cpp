// save_generator / load_generator: Generator::state() as an int64 array, checked on the way back.
#include <tapegrad/io/generator.hpp>

#include <cstring>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/io/checkpoint.hpp>

namespace tapegrad::io {

Array generator_array(const Generator& generator, const std::string& name) {
    const std::vector<std::uint64_t> words = generator.state();
    Tensor<std::int64_t> t = Tensor<std::int64_t>::from_shape({words.size()});
    std::memcpy(t.data(), words.data(), words.size() * sizeof(std::uint64_t));  // the bits, as int64
    return Array(name, std::move(t));
}

void set_generator(Generator& generator, const Array& array, const std::string& at) {
    const Tensor<std::int64_t> t = array.to<std::int64_t>(at);
    if (t.dimension() != 1)
        throw FileError(fmt::format("{}: generator state '{}' of shape {}; expected one dimension", at, array.name(),
                                    shape_string(t.shape())));
    std::vector<std::uint64_t> words(t.size());
    if (!words.empty()) std::memcpy(words.data(), t.data(), words.size() * sizeof(std::uint64_t));
    try {
        generator.set_state(words);
    } catch (const Error& e) {
        throw FileError(fmt::format("{}: generator state '{}': {}", at, array.name(), e.what()));
    }
}

void save_generator(const Generator& generator, const std::string& path, const SaveOptions& options) {
    save_arrays(path, {generator_array(generator)}, options);
}

void load_generator(Generator& generator, const std::string& path, const LoadOptions& options) {
    const std::string at = fmt::format("load_generator: '{}'", path);
    const Arrays arrays = load_arrays(path, options);
    if (arrays.size() != 1 || arrays[0].name() != "generator")
        throw FileError(fmt::format("{}: {} arrays; expected one, 'generator' (a file written by save_generator)", at,
                                    arrays.size()));
    set_generator(generator, arrays[0], at);
}

}  // namespace tapegrad::io
