// save_generator / load_generator: a random generator's state in a checkpoint, so a resumed run draws the same numbers.
#pragma once

#include <string>

#include <tapegrad/autograd/random.hpp>
#include <tapegrad/io/array.hpp>
#include <tapegrad/io/options.hpp>

namespace tapegrad::io {

/// The generator's state as one int64 array (the words of Generator::state(), bit for bit).
Array generator_array(const Generator& generator, const std::string& name = "generator");
/// Sets the generator from generator_array's array; throws FileError starting with `at` (and
/// changes nothing) for an array of another type or length, or one that is not a state.
void set_generator(Generator& generator, const Array& array, const std::string& at);

/// Writes the generator's state (e.g. tapegrad::default_generator(), which dropout draws from)
/// as a checkpoint file of one array, "generator": .npz or .safetensors by the extension.
void save_generator(const Generator& generator, const std::string& path, const SaveOptions& options = {});
/// Restores a state written by save_generator. Throws FileError for a missing or bad file, and
/// then the generator is unchanged.
void load_generator(Generator& generator, const std::string& path, const LoadOptions& options = {});

}  // namespace tapegrad::io
