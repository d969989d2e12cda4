// Drawing the recorded graph: Graphviz DOT, and a text listing of the tape.
#pragma once

#include <string>
#include <vector>

#include <tapegrad/autograd/variable.hpp>

namespace tapegrad {

/// The graph behind `output` in Graphviz DOT: one box per value with its op, shape, a
/// summary of its value and (for leaves that have one) its gradient, and for each op the
/// step at which backward visits it. `dot -Tpng graph.dot -o graph.png` draws it.
template <class T>
std::string to_dot(const Variable<T>& output, const std::string& title = "tapegrad");

/// The tape as text, one recorded op per line in forward order, e.g.
///   %3 = mul(%1, %2)   shape (2,3)   backward step 2
template <class T>
std::string tape_listing(const Variable<T>& output);

/// Every value behind `output`, leaves included, each after the values it was computed from
/// (inputs in argument order, depth first): the order tape_listing numbers as %0, %1, ...
/// and the HTML explorer steps through forward. For an expression built inside out, as code
/// usually is, this is the order in which the ops were recorded.
template <class T>
std::vector<Variable<T>> tape_order(const Variable<T>& output);

/// "[0.5, -1, 2]" for a few elements, "mean 0.12 min -3 max 4 (1000 elements)" for many.
template <class T>
std::string value_summary(const Tensor<T>& t);

}  // namespace tapegrad
