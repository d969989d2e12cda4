// DOT and text renderings of a recorded graph, with the order the backward sweep visits it.
#include <tapegrad/autograd/graph_print.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <ostream>
#include <unordered_map>

#include <tapegrad/autograd/engine.hpp>

namespace tapegrad {
namespace {

/// Every node reachable from `output` (constants included), inputs before consumers.
template <class T>
std::vector<const Node<T>*> forward_order(const Variable<T>& output) {
    std::vector<const Node<T>*> order;
    for (const Variable<T>& v : tape_order(output)) order.push_back(v.node());
    return order;
}

template <class T>
std::unordered_map<const Node<T>*, std::size_t> backward_steps(const Variable<T>& output) {
    std::unordered_map<const Node<T>*, std::size_t> step;
    const auto order = backward_order(output);
    for (std::size_t i = 0; i < order.size(); ++i) step[order[i].node()] = i + 1;
    return step;
}

std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace

template <class T>
std::vector<Variable<T>> tape_order(const Variable<T>& output) {
    if (!output.defined()) throw Error("tape_order: the Variable is empty");
    // Depth first with an explicit stack (a chain of a million ops must not recurse), each
    // value emitted once all of its inputs are.
    std::vector<Variable<T>> order;
    std::unordered_map<const Node<T>*, char> seen;
    std::vector<std::pair<const Variable<T>*, std::uint32_t>> stack{{&output, 0}};
    seen[output.node()] = 1;
    while (!stack.empty()) {
        auto& [v, next] = stack.back();
        const Node<T>* n = v->node();
        if (next < n->num_inputs) {
            const Variable<T>* in = &n->inputs[next++];
            if (in->node() && !seen[in->node()]) {
                seen[in->node()] = 1;
                stack.push_back({in, 0});  // invalidates v and next
            }
        } else {
            order.push_back(*v);
            stack.pop_back();
        }
    }
    return order;
}

template <class T>
std::string value_summary(const Tensor<T>& t) {
    if (t.size() == 0) return "[]";
    if (t.size() <= 4) {
        std::string s = "[";
        for (std::size_t i = 0; i < t.size(); ++i) s += fmt::format("{}{:.4g}", i ? ", " : "", double(t.data()[i]));
        return s + "]";
    }
    double sum = 0, lo = double(t.data()[0]), hi = lo;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const double v = double(t.data()[i]);
        sum += v;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    return fmt::format("mean {:.4g} min {:.4g} max {:.4g} ({} elements)", sum / double(t.size()), lo, hi, t.size());
}

template <class T>
std::string to_dot(const Variable<T>& output, const std::string& title) {
    if (!output.defined()) throw Error("to_dot: the Variable is empty");
    const auto nodes = forward_order(output);
    const auto steps = backward_steps(output);
    std::unordered_map<const Node<T>*, std::size_t> id;
    std::string dot =
        fmt::format("digraph \"{}\" {{\n  rankdir=BT;\n  node [shape=box, fontname=\"monospace\"];\n", escape(title));
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const Node<T>* n = nodes[i];
        id[n] = i;
        std::string label = fmt::format("{} {}", n->op_name(), shape_string(n->value.shape()));
        const std::string settings = n->describe();
        if (!settings.empty()) label += "\\n" + escape(settings);
        label += n->value_freed ? std::string("\\nvalue freed (no backward reads it)")
                                : "\\nvalue " + escape(value_summary(n->value));
        if (n->is_leaf) {
            const auto& leaf = static_cast<const Leaf<T>&>(*n);
            if (leaf.grad) label += "\\ngrad " + escape(value_summary(*leaf.grad));
            label += n->requires_grad ? "\\n(parameter)" : "\\n(constant)";
        }
        const auto s = steps.find(n);
        if (s != steps.end()) label += fmt::format("\\nbackward step {}", s->second);
        const char* style = n->is_leaf ? (n->requires_grad ? "filled\", fillcolor=\"lightblue" : "dashed") : "rounded";
        dot += fmt::format("  n{} [label=\"{}\", style=\"{}\"];\n", i, label, style);
    }
    for (const Node<T>* n : nodes)
        for (std::uint32_t k = 0; k < n->num_inputs; ++k)
            if (const Node<T>* m = n->inputs[k].node()) dot += fmt::format("  n{} -> n{};\n", id[m], id[n]);
    return dot + "}\n";
}

template <class T>
std::string tape_listing(const Variable<T>& output) {
    if (!output.defined()) throw Error("tape_listing: the Variable is empty");
    const auto nodes = forward_order(output);
    const auto steps = backward_steps(output);
    std::unordered_map<const Node<T>*, std::size_t> id;
    std::string out;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const Node<T>* n = nodes[i];
        id[n] = i;
        std::string line;
        if (n->is_leaf) {
            line = fmt::format("%{} = {}", i, n->requires_grad ? "parameter" : "constant");
        } else {
            std::vector<std::string> args;
            for (std::uint32_t k = 0; k < n->num_inputs; ++k)
                args.push_back(fmt::format("%{}", id[n->inputs[k].node()]));
            line = fmt::format("%{} = {}({})", i, n->op_name(), fmt::join(args, ", "));
            const std::string settings = n->describe();
            if (!settings.empty()) line += " [" + settings + "]";
        }
        line = fmt::format("{:<36} shape {:<10}", line, shape_string(n->value.shape()));
        const auto s = steps.find(n);
        if (s != steps.end()) line += fmt::format(" backward step {}", s->second);
        out += line + "\n";
    }
    return out;
}

template <class T>
std::ostream& operator<<(std::ostream& os, const Variable<T>& v) {
    if (!v.defined()) return os << "Variable(empty)";
    os << v.op_name() << " " << shape_string(v.shape()) << " ";
    return v.node()->value_freed ? os << "(value freed)" : os << value_summary(v.value());
}

#define TAPEGRAD_INSTANTIATE(T)                                           \
    template std::ostream& operator<<(std::ostream&, const Variable<T>&); \
    template std::string to_dot(const Variable<T>&, const std::string&);  \
    template std::string tape_listing(const Variable<T>&);                \
    template std::vector<Variable<T>> tape_order(const Variable<T>&);     \
    template std::string value_summary(const Tensor<T>&);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad
