// The fused conv ops' nodes and VJPs, compiled once in the library for float and double.
#include <tapegrad/autograd/detail/record_builtin.hpp>
#include <tapegrad/autograd/ops/conv_pool.hpp>

template std::vector<tapegrad::detail::AnyFunction>
tapegrad::detail::instantiate_family<tapegrad::detail::OpFamily::conv_pool>();
