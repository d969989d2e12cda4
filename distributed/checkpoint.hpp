// save / load for a data-parallel job: rank 0 alone writes the checkpoint; loading gives every rank the same model.
#pragma once

#include <cstddef>
#include <string>

#include <tapegrad/nn/module.hpp>

namespace tapegrad::distributed {

/// Rank `root` writes module's state with nn::save (an .npz, written atomically); the other
/// ranks write nothing. Every rank must call it, and it returns on every rank only once the
/// file is complete, so a load right after it finds the file. If writing fails, every rank
/// throws the same FileError (root's message).
template <class T>
void save(const nn::Module<T>& module, const std::string& path, std::size_t root = 0);

/// Rank `root` reads the checkpoint with nn::load and then broadcasts the values, so every
/// rank ends with identical models and only root needs to see the file (no shared file
/// system needed). If root cannot load it (missing or corrupt file, wrong names or shapes),
/// every rank throws root's FileError or Error and no rank's model changes. A model that
/// differs between ranks is an Error as in broadcast_parameters.
template <class T>
void load(nn::Module<T>& module, const std::string& path, std::size_t root = 0);

extern template void save(const nn::Module<float>&, const std::string&, std::size_t);
extern template void save(const nn::Module<double>&, const std::string&, std::size_t);
extern template void load(nn::Module<float>&, const std::string&, std::size_t);
extern template void load(nn::Module<double>&, const std::string&, std::size_t);

}  // namespace tapegrad::distributed
