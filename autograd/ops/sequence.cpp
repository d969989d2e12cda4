// The sequence ops' nodes and VJPs, compiled once in the library for float and double.
// GCC 12 inlines xtensor's copy of an empty shape (Where::zero(), a 0-d tensor) deep enough here to
// warn that svector's buffer "may be used uninitialized"; it is not (the copy reads 0 elements).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <tapegrad/autograd/detail/record_builtin.hpp>
#include <tapegrad/autograd/ops/sequence.hpp>

template std::vector<tapegrad::detail::AnyFunction>
tapegrad::detail::instantiate_family<tapegrad::detail::OpFamily::sequence>();
