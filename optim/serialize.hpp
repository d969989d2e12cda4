// save / load: an optimizer's state to and from a checkpoint file (io/checkpoint, the format nn uses).
#pragma once

#include <string>

#include <tapegrad/io/options.hpp>
#include <tapegrad/optim/lr_scheduler.hpp>
#include <tapegrad/optim/optimizer.hpp>

namespace tapegrad::optim {

/// Writes optimizer.state_dict() to an .npz file at `path`. The file is replaced atomically:
/// if saving fails, a previous file at `path` is unchanged. Throws FileError when writing fails.
template <class T>
void save(const Optimizer<T>& optimizer, const std::string& path, const io::SaveOptions& options = {});

/// Reads an .npz written by save() and loads it into the optimizer, which must be over
/// parameters of the same shapes. Every entry is checked (load_state_dict: shapes, and values
/// such as a step count that must be a whole number >= 0). Throws FileError for a missing,
/// corrupt or hostile file and Error for state that does not fit the optimizer; in either case
/// the optimizer is unchanged.
template <class T>
void load(Optimizer<T>& optimizer, const std::string& path, const io::LoadOptions& options = {});

/// Writes a scheduler's state_dict() (its epoch and base learning rates; ReduceLROnPlateau's best
/// value, patience and cooldown counts and learning rates) as a checkpoint file, .npz or
/// .safetensors by the extension, replaced atomically.
void save(const LRScheduler& scheduler, const std::string& path, const io::SaveOptions& options = {});
void save(const ReduceLROnPlateau& scheduler, const std::string& path, const io::SaveOptions& options = {});
/// Restores a scheduler's state written by save() and sets its optimizer's learning rates from it:
/// load the optimizer's state first, then the scheduler's. Throws FileError for a missing or bad
/// file and Error for state that does not fit; the scheduler is then unchanged.
void load(LRScheduler& scheduler, const std::string& path, const io::LoadOptions& options = {});
void load(ReduceLROnPlateau& scheduler, const std::string& path, const io::LoadOptions& options = {});

extern template void save(const Optimizer<float>&, const std::string&, const io::SaveOptions&);
extern template void save(const Optimizer<double>&, const std::string&, const io::SaveOptions&);
extern template void load(Optimizer<float>&, const std::string&, const io::LoadOptions&);
extern template void load(Optimizer<double>&, const std::string&, const io::LoadOptions&);

}  // namespace tapegrad::optim
