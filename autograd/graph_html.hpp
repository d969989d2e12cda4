// The tape explorer: one self-contained HTML page to step through a recorded graph, forward then backward.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/autograd/variable.hpp>

namespace tapegrad {

/// Where the explorer page gets the positions of its boxes and arrows.
enum class HtmlLayout {
    automatic,  ///< Graphviz when its `dot` runs at write time, otherwise the page's own layout
    graphviz,   ///< Graphviz's `dot`; an Error when it cannot be run
    page,       ///< a layered layout computed by the page's script when it opens
};

/// Settings of write_html().
class HtmlOptions {
public:
    /// The page's heading (also its `<title>`).
    HtmlOptions& title(std::string v) {
        title_ = std::move(v);
        return *this;
    }
    /// Graphviz (`dot -Tsvg` at write time) or the page's own layered layout.
    HtmlOptions& layout(HtmlLayout v) {
        layout_ = v;
        return *this;
    }
    /// The Graphviz program to run, looked up on PATH ("dot").
    HtmlOptions& dot_program(std::string v) {
        dot_program_ = std::move(v);
        return *this;
    }
    /// Elements of each tensor written into the page, for "show all values"; a larger tensor
    /// is summarised and its first `v` elements are written.
    HtmlOptions& full_values_limit(std::size_t v) {
        full_values_limit_ = v;
        return *this;
    }
    /// A name the page shows for `v` ("W1", "loss"); values of other graphs are ignored.
    template <class T>
    HtmlOptions& name(const Variable<T>& v, std::string name) {
        names_.emplace_back(static_cast<const void*>(v.node()), std::move(name));
        return *this;
    }

    /// The values set by the setters of the same names (or their defaults).
    ///@{
    const std::string& title() const { return title_; }
    HtmlLayout layout() const { return layout_; }
    const std::string& dot_program() const { return dot_program_; }
    std::size_t full_values_limit() const { return full_values_limit_; }
    ///@}
    /// The name given to the value held by `node`, or "".
    std::string name_of(const void* node) const;

private:
    std::string title_ = "tapegrad tape explorer";
    HtmlLayout layout_ = HtmlLayout::automatic;
    std::string dot_program_ = "dot";
    std::size_t full_values_limit_ = 4096;
    std::vector<std::pair<const void*, std::string>> names_;
};

/// What write_html() wrote.
struct HtmlPage {
    HtmlLayout layout = HtmlLayout::page;  ///< graphviz or page: how the boxes were placed
    std::string layout_note;               ///< why the page lays itself out ("" when Graphviz did)
    std::size_t nodes = 0;                 ///< values in the graph, leaves included
    std::size_t forward_steps = 0;         ///< recorded ops, stepped through in tape order
    std::size_t backward_steps = 0;        ///< VJPs, in tapegrad::backward_order
};

/// Writes the explorer page of the graph behind `output` to `path` (replacing the file
/// atomically): every value's op, formula line, shape, value and gradient, the edges, leaves
/// marked as parameters or constants, then controls that step through the ops in tape order
/// and through the backward sweep one VJP at a time, in the order backward() uses, showing
/// the upstream gradient, the formula and the gradient sent to each input. The page needs no
/// network. `output` must have one element (its gradient starts at 1) or be given its
/// upstream gradient; the graph must not have been freed by a backward() (retain_graph).
/// Nothing is added to any grad(): the gradients shown are computed with tapegrad::grad and
/// each op's own VJP, as backward() would compute them.
template <class T>
HtmlPage write_html(const std::string& path, const Variable<T>& output, const HtmlOptions& options = {});

/// write_html() for an output of any shape, given dOut/doutput.
template <class T>
HtmlPage write_html(const std::string& path, const Variable<T>& output, const Tensor<T>& grad_output,
                    const HtmlOptions& options = {});

}  // namespace tapegrad
