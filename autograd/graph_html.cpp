// The tape explorer page: the recorded graph, its forward steps and the VJPs of its backward sweep, as one HTML file.
#include <tapegrad/autograd/graph_html.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <memory>
#include <optional>
#include <unistd.h>
#include <unordered_map>

#include <tapegrad/autograd/engine.hpp>
#include <tapegrad/autograd/graph_print.hpp>

namespace tapegrad {
namespace detail {
// The page's HTML, CSS and script: autograd/graph_html_template.html, made into a C++ string at
// build time by cmake/embed_text.cmake.
extern const char graph_html_template[];
}  // namespace detail

std::string HtmlOptions::name_of(const void* node) const {
    for (const auto& [n, name] : names_)
        if (n == node) return name;
    return {};
}

namespace {

// ---- what the page shows, computed once in C++ -----------------------------------------------

/// One input slot of the op whose VJP runs at a backward step.
template <class T>
struct Send {
    std::size_t slot = 0, to = 0;   // input slot and the id of the value in it
    std::optional<Tensor<T>> dx;    // the VJP's gradient for this slot (none: a constant)
    std::size_t count = 0, of = 0;  // gradients `to` holds after this one, and will hold in all
    std::optional<Tensor<T>> acc;   // their sum so far, when 1 < count < of
};

template <class T>
struct BackwardStep {
    std::size_t node = 0;
    Tensor<T> g;  // the upstream gradient dOut/dnode, complete when the VJP runs
    bool seed = false;
    std::vector<Send<T>> sends;
};

template <class T>
struct Trace {
    std::vector<Variable<T>> values;               // tape order: id = position
    std::vector<std::vector<std::size_t>> inputs;  // ids of each value's inputs, by slot
    std::vector<std::optional<Tensor<T>>> grads;   // final dOut/dvalue (none for constants)
    std::vector<std::size_t> forward;              // ids of the ops, in tape order
    std::vector<BackwardStep<T>> backward;         // in tapegrad::backward_order
};

template <class T>
void add_into(Tensor<T>& acc, const Tensor<T>& g) {
    T* a = acc.data();
    const T* b = g.data();
    for (std::size_t i = 0; i < acc.size(); ++i) a[i] += b[i];
}

/// Values, gradients and every VJP of the sweep, without touching any grad() or freeing anything.
template <class T>
Trace<T> trace(const Variable<T>& output, const Tensor<T>& seed) {
    Trace<T> t;
    t.values = tape_order(output);
    std::unordered_map<const Node<T>*, std::size_t> id;
    for (std::size_t i = 0; i < t.values.size(); ++i) {
        const Node<T>* n = t.values[i].node();
        if (n->released())
            throw Error(
                fmt::format("write_html: the graph behind the output was freed by an earlier backward() "
                            "(at '{}', shape {}); pass BackwardOptions().retain_graph(true) to that "
                            "backward, or call write_html before it",
                            n->op_name(), shape_string(n->value.shape())));
        id[n] = i;
        if (!n->is_leaf) t.forward.push_back(i);
    }
    t.inputs.resize(t.values.size());
    for (std::size_t i = 0; i < t.values.size(); ++i) {
        const Node<T>* n = t.values[i].node();
        for (std::uint32_t k = 0; k < n->num_inputs; ++k) t.inputs[i].push_back(id.at(n->inputs[k].node()));
    }
    t.grads.resize(t.values.size());
    if (!output.requires_grad()) return t;  // nothing to differentiate: forward steps only

    // The upstream gradient of every op and the gradient of every parameter, from tapegrad's
    // own sweep (grad() leaves every Variable's grad() alone).
    const std::vector<Variable<T>> order = backward_order(output);
    std::vector<Variable<T>> targets = order;
    for (const Variable<T>& v : t.values)
        if (v.is_leaf() && v.requires_grad()) targets.push_back(v);
    const std::vector<Variable<T>> grads = grad(std::vector<Variable<T>>{output}, targets, {Variable<T>(seed)},
                                                GradOptions().retain_graph(true).allow_unused(true));
    for (std::size_t j = 0; j < targets.size(); ++j) t.grads[id.at(targets[j].node())] = grads[j].value();

    // How many gradients reach each value: one per input slot of each op in the sweep.
    std::vector<std::size_t> of(t.values.size(), 0), count(t.values.size(), 0);
    for (const Variable<T>& v : order) {
        const Node<T>* n = v.node();
        for (std::uint32_t k = 0; k < n->num_inputs; ++k)
            if (n->inputs[k].node()->requires_grad) ++of[id.at(n->inputs[k].node())];
    }
    std::vector<std::optional<Tensor<T>>> acc(t.values.size());

    // Each VJP, called as backward() calls it: the gradients it sends are the ones the sweep adds up.
    for (std::size_t j = 0; j < order.size(); ++j) {
        const Node<T>* n = order[j].node();
        BackwardStep<T> step;
        step.node = id.at(n);
        step.g = grads[j].value();
        step.seed = j == 0;
        const std::size_t inputs = n->num_inputs;
        std::unique_ptr<bool[]> wants(new bool[std::max<std::size_t>(inputs, 1)]);
        bool any = false;
        for (std::size_t k = 0; k < inputs; ++k) {
            wants[k] = n->inputs[k].node()->requires_grad;
            any = any || wants[k];
        }
        std::vector<std::optional<Tensor<T>>> dx(inputs);
        std::vector<std::optional<Tensor<T>>*> slots(inputs);
        for (std::size_t k = 0; k < inputs; ++k) slots[k] = &dx[k];
        if (any) {
            Tensor<T> g = step.g;  // a VJP may take over its upstream gradient
            VjpArgs<Tensor<T>> args{nullptr, n->value, g, GradSlots<Tensor<T>>{slots.data()}, wants.get()};
            n->vjp(args);
        }
        for (std::size_t k = 0; k < inputs; ++k) {
            Send<T> s;
            s.slot = k;
            s.to = id.at(n->inputs[k].node());
            if (wants[k]) {
                if (!dx[k])
                    throw Error(fmt::format("write_html: '{}' gave no gradient for its input {}", n->op_name(), k));
                s.dx = std::move(dx[k]);
                s.count = ++count[s.to];
                s.of = of[s.to];
                if (!acc[s.to])
                    acc[s.to] = *s.dx;
                else
                    add_into(*acc[s.to], *s.dx);
                if (s.count > 1 && s.count < s.of) s.acc = acc[s.to];
            }
            step.sends.push_back(std::move(s));
        }
        t.backward.push_back(std::move(step));
    }
    return t;
}

// ---- writing it as a JavaScript literal --------------------------------------------------------

/// A JavaScript string literal that is safe inside <script>: no "</script>", no raw line breaks.
std::string js_string(const std::string& s) {
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += char(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f) {
            out += fmt::format("\\u{:04x}", unsigned(c));
        } else if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                   (static_cast<unsigned char>(s[i + 2]) == 0xa8 || static_cast<unsigned char>(s[i + 2]) == 0xa9)) {
            out += static_cast<unsigned char>(s[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029";  // JS line terminators
            i += 2;
        } else {
            out += char(c);
        }
    }
    return out + "\"";
}

/// The exact value as a JavaScript number: the shortest decimal that reads back as the same double.
std::string js_number(double x) {
    if (std::isnan(x)) return "NaN";
    if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
    if (x == 0) return std::signbit(x) ? "-0" : "0";
    return fmt::format("{}", x);
}

std::string short_number(double x) { return fmt::format("{:.3g}", x); }

/// What a box shows of a tensor: "[0.5, -1]", or the first values and the count.
template <class T>
std::string compact(const Tensor<T>& t) {
    const std::size_t shown = std::min<std::size_t>(t.size(), 3);
    std::string s = "[";
    for (std::size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + short_number(double(t.data()[i]));
    if (t.size() > shown) return s + fmt::format(", ...] {} values", t.size());
    return s + "]";
}

template <class T>
std::string js_tensor(const Tensor<T>* t, std::size_t limit) {
    if (!t) return "null";
    std::string v;
    const std::size_t n = std::min(limit, t->size());
    v.reserve(n * 20);
    for (std::size_t i = 0; i < n; ++i) {
        if (i) v += ',';
        v += js_number(double(t->data()[i]));
    }
    return fmt::format("{{\"n\":{},\"s\":{},\"c\":{},\"v\":[{}]}}", t->size(), js_string(value_summary(*t)),
                       js_string(compact(*t)), v);
}

/// Number of characters (UTF-8 code points) of a line of a box.
std::size_t columns(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xc0) != 0x80;
    return n;
}

/// The first two lines of a value's box; the page adds "value ..." and "grad ...".
template <class T>
std::pair<std::string, std::string> box_heading(const Variable<T>& v, std::size_t id, const HtmlOptions& o) {
    const Node<T>* n = v.node();
    const std::string name = o.name_of(n);
    const std::string shape = shape_string(n->value.shape());
    if (n->is_leaf) {
        const char* kind = n->requires_grad ? "parameter" : "constant";
        return {fmt::format("%{} {}", id, name.empty() ? kind : name), fmt::format("{} {}", kind, shape)};
    }
    const std::string settings = n->describe();
    return {name.empty() ? fmt::format("%{} {}", id, n->op_name()) : fmt::format("%{} {} = {}", id, name, n->op_name()),
            settings.empty() ? shape : shape + " " + settings};
}

// Box geometry shared by the Graphviz input and the page's own layout (see the template's script).
constexpr double char_width = 7.2, box_padding = 20, box_height = 72;

template <class T>
std::vector<std::size_t> box_widths(const Trace<T>& t, const HtmlOptions& o) {
    std::vector<std::size_t> w(t.values.size());
    for (std::size_t i = 0; i < t.values.size(); ++i) {
        const auto [title, sub] = box_heading(t.values[i], i, o);
        w[i] = std::max(
            {columns(title), columns(sub), columns("value " + compact(t.values[i].node()->value)), std::size_t(12)});
        if (t.grads[i]) w[i] = std::max(w[i], columns("grad " + compact(*t.grads[i])));
    }
    for (const auto& step : t.backward)
        for (const auto& s : step.sends)
            if (s.acc)
                w[s.to] = std::max(w[s.to], columns(fmt::format("grad {} of {}: ", s.count, s.of) + compact(*s.acc)));
    return w;
}

// What the page shows for a value the forward freed (op.hpp: free_unneeded_values).
const std::string freed_value_js =
    R"js({"n":0,"s":"freed in the forward pass (no backward reads it)","c":"freed","v":[]})js";

template <class T>
std::string js_data(const Trace<T>& t, const HtmlOptions& o, const std::vector<std::size_t>& widths, HtmlLayout layout,
                    const std::string& svg, const std::string& note) {
    const std::size_t limit = o.full_values_limit();
    std::string s = fmt::format(
        "{{\"title\":{},\"dtype\":\"{}\",\"layout\":\"{}\",\"layoutNote\":{},\"svg\":{},"
        "\"limit\":{},\"charWidth\":{},\"boxPadding\":{},\"boxHeight\":{},\n\"nodes\":[\n",
        js_string(o.title()), sizeof(T) == 4 ? "float" : "double", layout == HtmlLayout::graphviz ? "graphviz" : "page",
        js_string(note), svg.empty() ? "null" : js_string(svg), limit, char_width, box_padding, box_height);
    for (std::size_t i = 0; i < t.values.size(); ++i) {
        const Node<T>* n = t.values[i].node();
        const auto [title, sub] = box_heading(t.values[i], i, o);
        std::vector<std::string> shape;
        for (std::size_t d : n->value.shape()) shape.push_back(std::to_string(d));
        const char* kind = n->is_leaf ? (n->requires_grad ? "parameter" : "constant") : "op";
        s += fmt::format(
            "{{\"op\":{},\"kind\":\"{}\",\"name\":{},\"title\":{},\"sub\":{},\"describe\":{},"
            "\"formula\":{},\"shape\":[{}],\"shapeText\":{},\"inputs\":[{}],\"w\":{},\n \"value\":{},\n"
            " \"grad\":{}}}{}\n",
            js_string(n->op_name()), kind, js_string(o.name_of(n)), js_string(title), js_string(sub),
            js_string(n->describe()), js_string(n->formula()), fmt::join(shape, ","),
            js_string(shape_string(n->value.shape())), fmt::join(t.inputs[i], ","), widths[i],
            n->value_freed ? freed_value_js : js_tensor(&n->value, limit),
            js_tensor(t.grads[i] ? &*t.grads[i] : nullptr, limit), i + 1 < t.values.size() ? "," : "");
    }
    s += fmt::format("],\n\"forward\":[{}],\n\"backward\":[\n", fmt::join(t.forward, ","));
    for (std::size_t j = 0; j < t.backward.size(); ++j) {
        const auto& step = t.backward[j];
        s += fmt::format("{{\"node\":{},\"seed\":{},\"g\":{},\"sends\":[", step.node, step.seed ? "true" : "false",
                         js_tensor(&step.g, limit));
        for (std::size_t k = 0; k < step.sends.size(); ++k) {
            const auto& x = step.sends[k];
            s += fmt::format("{}\n {{\"slot\":{},\"to\":{},\"count\":{},\"of\":{},\"dx\":{},\"acc\":{}}}", k ? "," : "",
                             x.slot, x.to, x.count, x.of, js_tensor(x.dx ? &*x.dx : nullptr, limit),
                             js_tensor(x.acc ? &*x.acc : nullptr, limit));
        }
        s += fmt::format("]}}{}\n", j + 1 < t.backward.size() ? "," : "");
    }
    return s + "]}";
}

// ---- Graphviz ---------------------------------------------------------------------------------

// Graphs with more values than this are drawn with straight edges, and only a value's first
// use decides its rank: a weight shared by 50 time steps made `dot` take minutes, this seconds.
constexpr std::size_t large_graph = 100;
// HtmlLayout::automatic lays out larger graphs in the page rather than wait for `dot`.
constexpr std::size_t graphviz_limit = 600;

/// The graph for `dot`: empty boxes of the page's sizes, and one edge per input slot.
template <class T>
std::string layout_dot(const Trace<T>& t, const std::vector<std::size_t>& widths) {
    const bool large = t.values.size() > large_graph;
    std::string dot = fmt::format(
        "digraph tape {{\n  rankdir=BT; nodesep=0.25; ranksep=0.4;{}\n"
        "  node [shape=box, fixedsize=true, label=\"\"];\n",
        large ? " splines=false;" : "");
    for (std::size_t i = 0; i < t.values.size(); ++i)
        dot += fmt::format("  n{0} [id=\"n{0}\", width={1:.3f}, height={2:.3f}];\n", i,
                           (double(widths[i]) * char_width + box_padding) / 72.0, box_height / 72.0);
    std::vector<char> used(t.values.size(), 0);
    for (std::size_t i = 0; i < t.values.size(); ++i)
        for (std::size_t k = 0; k < t.inputs[i].size(); ++k) {
            const std::size_t m = t.inputs[i][k];
            dot += fmt::format("  n{} -> n{} [id=\"e{}_{}\"{}];\n", m, i, i, k,
                               large && used[m] ? ", constraint=false" : "");
            used[m] = 1;
        }
    return dot + "}\n";
}

std::string shell_quoted(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

std::string unique_temp_path(const std::string& suffix) {
    static std::atomic<unsigned> counter{0};
    return (std::filesystem::temp_directory_path() /
            fmt::format("tapegrad-html-{}-{}{}", ::getpid(), counter.fetch_add(1), suffix))
        .string();
}

/// Graphviz's SVG of `dot`, from its <svg> element on; "" with `why` set when dot cannot run.
std::string run_dot(const std::string& program, const std::string& dot, std::string& why) {
    const std::string in = unique_temp_path(".dot"), err = unique_temp_path(".err");
    struct Remove {
        std::string a, b;
        ~Remove() {
            std::remove(a.c_str());
            std::remove(b.c_str());
        }
    } remove{in, err};
    {
        std::ofstream f(in);
        f << dot;
        if (!f.flush()) {
            why = fmt::format("could not write {}", in);
            return {};
        }
    }
    const std::string command =
        fmt::format("{} -Tsvg {} 2> {}", shell_quoted(program), shell_quoted(in), shell_quoted(err));
    std::string svg;
    if (FILE* p = ::popen(command.c_str(), "r")) {
        char buffer[65536];
        std::size_t got;
        while ((got = std::fread(buffer, 1, sizeof buffer, p)) > 0) svg.append(buffer, got);
        const int status = ::pclose(p);
        if (status != 0) {
            std::ifstream e(err);
            std::string message;
            std::getline(e, message);
            why = status == 127 * 256 || message.find("not found") != std::string::npos
                      ? fmt::format("Graphviz's '{}' was not found", program)
                      : fmt::format("'{}' failed (exit status {}): {}", program, status / 256, message);
            return {};
        }
    } else {
        why = fmt::format("could not run '{}': {}", program, std::strerror(errno));
        return {};
    }
    const auto start = svg.find("<svg");
    if (start == std::string::npos) {
        why = fmt::format("'{}' wrote no SVG", program);
        return {};
    }
    return svg.substr(start);  // without the XML prolog and its DTD address
}

// ---- the file ----------------------------------------------------------------------------------

void write_atomically(const std::string& path, const std::string& text) {
    const std::string tmp = path + fmt::format(".tmp-{}", ::getpid());
    {
        std::ofstream f(tmp, std::ios::binary);
        if (!f) throw FileError(fmt::format("write_html: cannot create {}: {}", tmp, std::strerror(errno)));
        f.write(text.data(), std::streamsize(text.size()));
        if (!f.flush()) {
            std::remove(tmp.c_str());
            throw FileError(fmt::format("write_html: writing {} failed: {}", tmp, std::strerror(errno)));
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        std::remove(tmp.c_str());
        throw FileError(fmt::format("write_html: cannot replace {}: {}", path, reason));
    }
}

template <class T>
HtmlPage write(const std::string& path, const Variable<T>& output, const Tensor<T>& seed, const HtmlOptions& options) {
    if (options.full_values_limit() == 0)
        throw Error(
            "write_html: full_values_limit is 0; it must be at least 1 (the page shows every "
            "tensor's first values)");
    const Trace<T> t = trace(output, seed);
    const std::vector<std::size_t> widths = box_widths(t, options);
    HtmlPage page;
    page.nodes = t.values.size();
    page.forward_steps = t.forward.size();
    page.backward_steps = t.backward.size();
    std::string svg;
    if (options.layout() == HtmlLayout::page) {
        page.layout_note = "laid out by the page (HtmlLayout::page)";
    } else if (options.layout() == HtmlLayout::automatic && t.values.size() > graphviz_limit) {
        page.layout_note = fmt::format(
            "laid out by the page: {} values are more than Graphviz lays out quickly "
            "(HtmlLayout::graphviz asks for it anyway)",
            t.values.size());
    } else {
        std::string why;
        svg = run_dot(options.dot_program(), layout_dot(t, widths), why);
        if (svg.empty() && options.layout() == HtmlLayout::graphviz)
            throw Error(
                fmt::format("write_html: HtmlLayout::graphviz was asked for, but {} (install graphviz, "
                            "or use HtmlLayout::automatic)",
                            why));
        if (svg.empty()) page.layout_note = fmt::format("laid out by the page: {} when it was written", why);
    }
    page.layout = svg.empty() ? HtmlLayout::page : HtmlLayout::graphviz;

    std::string html = detail::graph_html_template;
    const std::string marker = "/*@TAPE_DATA@*/null";
    const auto at = html.find(marker);
    if (at == std::string::npos) throw Error("write_html: the page template has no data marker (a build problem)");
    html.replace(at, marker.size(), js_data(t, options, widths, page.layout, svg, page.layout_note));
    const std::string title_marker = "<title>tapegrad tape explorer</title>";
    const auto title_at = html.find(title_marker);
    if (title_at != std::string::npos) {
        std::string title;
        for (char c : options.title()) title += c == '<' ? "&lt;" : c == '&' ? "&amp;" : std::string(1, c);
        html.replace(title_at, title_marker.size(), "<title>" + title + "</title>");
    }
    write_atomically(path, html);
    return page;
}

template <class T>
void check_output(const Variable<T>& output) {
    if (!output.defined()) throw Error("write_html: the output Variable is empty");
}

}  // namespace

template <class T>
HtmlPage write_html(const std::string& path, const Variable<T>& output, const HtmlOptions& options) {
    check_output(output);
    if (output.requires_grad() && output.size() != 1)
        throw Error(
            fmt::format("write_html: the output has shape {}, not one element; pass its upstream "
                        "gradient: write_html(path, output, grad_output, options)",
                        shape_string(output.shape())));
    return write(path, output, Tensor<T>(output.shape(), T(1)), options);
}

template <class T>
HtmlPage write_html(const std::string& path, const Variable<T>& output, const Tensor<T>& grad_output,
                    const HtmlOptions& options) {
    check_output(output);
    if (!shape_equal(grad_output.shape(), output.shape()))
        throw Error(fmt::format("write_html: grad_output has shape {}, the output has shape {}",
                                shape_string(grad_output.shape()), shape_string(output.shape())));
    return write(path, output, grad_output, options);
}

template HtmlPage write_html(const std::string&, const Variable<float>&, const HtmlOptions&);
template HtmlPage write_html(const std::string&, const Variable<double>&, const HtmlOptions&);
template HtmlPage write_html(const std::string&, const Variable<float>&, const Tensor<float>&, const HtmlOptions&);
template HtmlPage write_html(const std::string&, const Variable<double>&, const Tensor<double>&, const HtmlOptions&);

}  // namespace tapegrad
