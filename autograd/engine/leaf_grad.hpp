// Adding a pass's gradient into a leaf's grad(), under a lock: several threads may backpropagate into one leaf.
#pragma once

#include <tapegrad/autograd/node.hpp>

namespace tapegrad::detail {

/// leaf.grad += g, or leaf.grad = g (taken over, not copied) when it has none. Safe against
/// other threads doing the same to the same leaf.
template <class T>
void add_to_leaf_grad(Leaf<T>& leaf, Tensor<T>&& g);

}  // namespace tapegrad::detail
