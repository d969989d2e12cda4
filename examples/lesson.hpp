// What every lesson program shares: flags, progress lines, CSV curves, gnuplot plots, claims, accuracy.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/core.h>
#include <fmt/format.h>
#include <unistd.h>

#include <tapegrad/data/progress.hpp>
#include <tapegrad/tapegrad.hpp>

namespace lesson {

namespace tg = tapegrad;

/// The exit code ctest reads as "skipped" (SKIP_RETURN_CODE in examples/CMakeLists.txt).
constexpr int skipped = 77;

/// Command-line flags, declared where they are read: `--fast`, `--epochs 5` or `--epochs=5`.
/// After the last declaration, done() answers --help and rejects anything it does not know,
/// so a typo never silently runs the default.
class Flags {
public:
    Flags(int argc, char** argv, std::string about) : program_(argv[0]), about_(std::move(about)) {
        for (int i = 1; i < argc; ++i) args_.emplace_back(argv[i]);
        used_.assign(args_.size(), false);
    }

    /// True when `--name` is given.
    bool flag(const std::string& name, const std::string& help) {
        help_ += fmt::format("  {:<22} {}\n", name, help);
        for (std::size_t i = 0; i < args_.size(); ++i)
            if (args_[i] == name) return used_[i] = true;
        return false;
    }

    /// The value after `--name` (or in `--name=value`), else `fallback`.
    template <class V>
    V value(const std::string& name, V fallback, const std::string& help) {
        help_ += fmt::format("  {:<22} {} (default {})\n", name + " X", help, fallback);
        for (std::size_t i = 0; i < args_.size(); ++i) {
            std::string text;
            if (args_[i] == name && i + 1 < args_.size()) {
                used_[i] = used_[i + 1] = true;
                text = args_[i + 1];
            } else if (args_[i].rfind(name + "=", 0) == 0) {
                used_[i] = true;
                text = args_[i].substr(name.size() + 1);
            } else {
                continue;
            }
            return parse<V>(name, text);
        }
        return fallback;
    }

    /// Prints the usage and exits for --help; exits with 2 on a flag nobody declared.
    void done() const {
        for (std::size_t i = 0; i < args_.size(); ++i) {
            if (args_[i] == "--help" || args_[i] == "-h") {
                fmt::print("{}\n\nusage: {} [flags]\n{}", about_, program_, help_);
                std::exit(0);
            }
            if (!used_[i]) {
                fmt::print(stderr, "{}: unknown argument '{}' (try --help)\n", program_, args_[i]);
                std::exit(2);
            }
        }
    }

private:
    template <class V>
    V parse(const std::string& name, const std::string& text) const {
        if constexpr (std::is_same_v<V, std::string>) {
            return text;  // as given: paths may hold spaces
        } else {
            std::istringstream in(text);
            V v{};
            in >> v;
            if (!in || !in.eof()) {
                fmt::print(stderr, "{}: {} expects a value, got '{}'\n", program_, name, text);
                std::exit(2);
            }
            return v;
        }
    }

    std::string program_, about_, help_;
    std::vector<std::string> args_;
    std::vector<bool> used_;
};

/// Wall-clock seconds since construction (or the last restart()).
class Stopwatch {
public:
    double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
    void restart() { start_ = Clock::now(); }

private:
    using Clock = std::chrono::steady_clock;
    Clock::time_point start_ = Clock::now();
};

/// True when stdout is a terminal (progress bars are drawn only there).
inline bool tty() { return ::isatty(STDOUT_FILENO) == 1; }

/// A CSV file of curves, one row per epoch or iteration, readable by gnuplot and any
/// spreadsheet: `Csv csv("xor.csv", {"epoch", "loss"}); csv.row(1, 0.69);`.
class Csv {
public:
    Csv(std::string path, std::initializer_list<std::string> columns) : path_(std::move(path)), out_(path_) {
        if (!out_) throw std::runtime_error("cannot write " + path_);
        out_ << fmt::format("{}\n", fmt::join(columns, ","));
    }
    template <class... V>
    void row(const V&... v) {
        std::vector<std::string> cells{cell(v)...};
        out_ << fmt::format("{}\n", fmt::join(cells, ",")) << std::flush;
    }
    const std::string& path() const { return path_; }

private:
    template <class V>
    static std::string cell(const V& v) {
        if constexpr (std::is_floating_point_v<V>)
            return fmt::format("{:.9g}", v);
        else
            return fmt::format("{}", v);
    }
    std::string path_;
    std::ofstream out_;
};

/// True when `program` is on the PATH.
inline bool have(const std::string& program) {
    return std::system(("command -v " + program + " > /dev/null 2>&1").c_str()) == 0;
}

/// `text` as one shell word, for std::system.
inline std::string shell_quoted(const std::string& text) {
    std::string q = "'";
    for (char c : text) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

/// One line of a plot: `using` is gnuplot's column spec ("1:2"), `title` its legend.
struct Series {
    std::string csv, using_, title, style = "lines";
};

/// Axis labels, scales and the plot title of plot_png().
struct PlotOptions {
    PlotOptions(std::string title, std::string xlabel, std::string ylabel, bool logy = false, std::string extra = "")
        : title(std::move(title)),
          xlabel(std::move(xlabel)),
          ylabel(std::move(ylabel)),
          logy(logy),
          extra(std::move(extra)) {}
    std::string title, xlabel, ylabel;
    bool logy;
    std::string extra;  // more gnuplot commands, e.g. "set yrange [0:1]"
};

/// A gnuplot string literal: "text" with quotes and backslashes escaped.
inline std::string quoted(const std::string& text) {
    std::string q = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') q += '\\';
        q += c;
    }
    return q + "\"";
}

/// Draws the series into a PNG with gnuplot (Debian: gnuplot-nox) and says where; without
/// gnuplot it says so and the CSV files remain. Returns true when the PNG was written.
inline bool plot_png(const std::string& png, const std::vector<Series>& series, const PlotOptions& o) {
    if (!have("gnuplot")) {
        fmt::print("(gnuplot is not installed, so {} was not drawn; apt-get install gnuplot-nox)\n", png);
        return false;
    }
    std::string script = fmt::format(
        "set terminal pngcairo size 900,560 font ',11'\nset output {}\nset datafile separator ','\n"
        "set key top right opaque box\nset grid\nset title {}\nset xlabel {}\nset ylabel {}\n"
        "set xrange [0:*]\n{}{}\nplot ",
        quoted(png), quoted(o.title), quoted(o.xlabel), quoted(o.ylabel),
        o.logy ? "set logscale y\nset format y '%.0e'\n" : "", o.extra);
    for (std::size_t i = 0; i < series.size(); ++i)
        script += fmt::format("{}{} using {} skip 1 with {} lw 2 title {}", i ? ", \\\n     " : "",
                              quoted(series[i].csv), series[i].using_, series[i].style, quoted(series[i].title));
    const std::string script_path = png + ".gp";
    std::ofstream(script_path) << script << "\n";
    const bool ok = std::system(("gnuplot " + shell_quoted(script_path) + " 2> /dev/null").c_str()) == 0;
    if (ok) std::remove(script_path.c_str());
    fmt::print(ok ? "Drew {}\n" : "(gnuplot failed to draw {}; its script is {}.gp)\n", png, png);
    return ok;
}

/// The statements a lesson makes about its results. Each is printed as it is checked, and
/// exit_code() is non-zero when any failed, so a lesson run by ctest fails loudly.
class Claims {
public:
    template <class... A>
    bool check(bool ok, fmt::format_string<A...> what, A&&... args) {
        fmt::print("{} {}\n", ok ? "[ok]    " : "[FAILED]", fmt::format(what, std::forward<A>(args)...));
        failed_ += ok ? 0 : 1;
        return ok;
    }
    int exit_code() const {
        if (failed_) fmt::print("{} claim{} failed.\n", failed_, failed_ == 1 ? "" : "s");
        return failed_ ? 1 : 0;
    }

private:
    int failed_ = 0;
};

/// A column vector (n, 1) from a list: {{0}, {1}} would be ambiguous to xtensor.
template <class T = double>
tg::Tensor<T> column(std::initializer_list<T> values) {
    tg::Tensor<T> c = tg::Tensor<T>::from_shape({values.size(), 1});
    std::copy(values.begin(), values.end(), c.begin());
    return c;
}

/// "dir/name": where a lesson writes its files (dir is made when missing).
inline std::string path_in(const std::string& dir, const std::string& name) {
    if (dir.empty() || dir == ".") return name;
    std::filesystem::create_directories(dir);
    return dir + "/" + name;
}

// ---- the tape explorer pages (tg::write_html) ----

/// "auto", "graphviz" or "page" (the --explorer-layout flag) as a tg::HtmlLayout.
inline tg::HtmlLayout explorer_layout(const std::string& name) {
    if (name == "auto") return tg::HtmlLayout::automatic;
    if (name == "graphviz") return tg::HtmlLayout::graphviz;
    if (name == "page") return tg::HtmlLayout::page;
    throw std::runtime_error("--explorer-layout: '" + name + "' is not auto, graphviz or page");
}

namespace detail {
inline std::string json_number(double x) {
    if (std::isnan(x)) return "NaN";
    if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
    return fmt::format("{}", x);
}
template <class T>
std::string json_values(const tg::Tensor<T>& t) {
    std::vector<std::string> v;
    for (const T& x : t) v.push_back(json_number(double(x)));
    return fmt::format("[{}]", fmt::join(v, ","));
}
inline std::string json_string(const std::string& s) {
    std::string q = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') q += '\\';
        if (static_cast<unsigned char>(c) < 0x20)
            q += fmt::format("\\u{:04x}", unsigned(c));
        else
            q += c;
    }
    return q + "\"";
}
}  // namespace detail

/// What the explorer page of `output` must show, computed here with the public API alone
/// (tape_order, backward_order, grad), not by the code that writes the page: the browser test
/// (tests/browser/explorer_test.py) steps through the page and compares. Values are numbered
/// in tape order; at backward step j, the op's upstream gradient is dOut/dop, and the gradient
/// it sends to an input m is d<op, g>/dm (checked only where m reaches the op by its own slots alone).
template <class T>
std::string explorer_expectations(const tg::Variable<T>& output, const std::string& page, tg::HtmlLayout layout) {
    const std::vector<tg::Variable<T>> values = tg::tape_order(output);
    std::map<const void*, std::size_t> id;
    for (std::size_t i = 0; i < values.size(); ++i) id[values[i].node()] = i;
    std::string json = fmt::format("{{\"page\": {}, \"layout\": \"{}\",\n\"values\": [\n", detail::json_string(page),
                                   layout == tg::HtmlLayout::graphviz ? "graphviz" : "page");
    std::vector<std::string> ops;
    for (std::size_t i = 0; i < values.size(); ++i) {
        const tg::Variable<T>& v = values[i];
        const char* kind = !v.is_leaf() ? "op" : v.requires_grad() ? "parameter" : "constant";
        std::vector<std::size_t> inputs;
        for (const tg::Variable<T>& m : v.inputs()) inputs.push_back(id.at(m.node()));
        json += fmt::format(
            "{{\"op\": {}, \"kind\": \"{}\", \"inputs\": [{}], \"formula\": {}, \"summary\": {}, "
            "\"value\": {}}}{}\n",
            detail::json_string(v.op_name()), kind, fmt::join(inputs, ", "), detail::json_string(v.node()->formula()),
            detail::json_string(tg::value_summary(v.value())), detail::json_values(v.value()),
            i + 1 < values.size() ? "," : "");
        if (!v.is_leaf()) ops.push_back(std::to_string(i));
    }
    json += fmt::format("],\n\"forward\": [{}],\n\"backward\": [\n", fmt::join(ops, ", "));
    const std::vector<tg::Variable<T>> order = tg::backward_order(output);
    const tg::GradOptions keep = tg::GradOptions().retain_graph(true);
    std::vector<tg::Variable<T>> upstream;
    if (!order.empty()) upstream = tg::grad(std::vector<tg::Variable<T>>{output}, order, {}, keep);
    for (std::size_t j = 0; j < order.size(); ++j) {
        const std::vector<tg::Variable<T>> inputs = order[j].inputs();
        std::vector<std::string> sends;
        for (std::size_t k = 0; k < inputs.size(); ++k) {
            const tg::Variable<T>& m = inputs[k];
            bool first = true, alone = m.requires_grad();
            for (std::size_t q = 0; q < inputs.size(); ++q) {
                if (inputs[q].node() == m.node()) {
                    first = first && q >= k;
                    continue;
                }
                for (const tg::Variable<T>& w : tg::tape_order(inputs[q])) alone = alone && w.node() != m.node();
            }
            if (!first || !alone) continue;
            const auto dm = tg::grad(std::vector<tg::Variable<T>>{order[j]}, {m}, {upstream[j]}, keep);
            sends.push_back(
                fmt::format("{{\"to\": {}, \"grad\": {}}}", id.at(m.node()), detail::json_values(dm[0].value())));
        }
        json += fmt::format("{{\"node\": {}, \"op\": {}, \"summary\": {}, \"grad\": {},\n \"sends\": [{}]}}{}\n",
                            id.at(order[j].node()), detail::json_string(order[j].op_name()),
                            detail::json_string(tg::value_summary(upstream[j].value())),
                            detail::json_values(upstream[j].value()), fmt::join(sends, ", "),
                            j + 1 < order.size() ? "," : "");
    }
    std::vector<tg::Variable<T>> params;
    for (const auto& v : values)
        if (v.is_leaf() && v.requires_grad()) params.push_back(v);
    std::vector<std::string> grads;
    if (!params.empty() && output.requires_grad()) {
        const auto g = tg::grad(std::vector<tg::Variable<T>>{output}, params, {}, keep);
        for (std::size_t p = 0; p < params.size(); ++p)
            grads.push_back(fmt::format("\"{}\": {}", id.at(params[p].node()), detail::json_values(g[p].value())));
    }
    return json + fmt::format("],\n\"parameter_grads\": {{{}}}}}\n", fmt::join(grads, ",\n"));
}

/// Writes dir/name.html, the tape explorer of `output` (open it in a browser: it needs no
/// network), and dir/name.expected.json for the browser test. Returns what write_html wrote.
template <class T>
tg::HtmlPage write_explorer(const std::string& dir, const std::string& name, const tg::Variable<T>& output,
                            const tg::HtmlOptions& options) {
    const std::string path = path_in(dir, name + ".html");
    const tg::HtmlPage page = tg::write_html(path, output, options);
    std::ofstream(path_in(dir, name + ".expected.json")) << explorer_expectations(output, name + ".html", page.layout);
    fmt::print("   wrote {}: {} values, {} forward and {} backward steps, {}\n", path, page.nodes, page.forward_steps,
               page.backward_steps,
               page.layout == tg::HtmlLayout::graphviz ? "laid out by Graphviz" : page.layout_note);
    return page;
}

// ---- classification helpers for the Fashion-MNIST lessons ----

/// Number of rows of `scores` (N, C) whose largest entry is at the row's label.
template <class T>
std::size_t correct(const tg::Tensor<T>& scores, const tg::Indices& labels) {
    const std::size_t n = scores.shape()[0], c = scores.shape()[1];
    std::size_t hits = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const T* row = scores.data() + i * c;
        std::size_t best = 0;
        for (std::size_t k = 1; k < c; ++k)
            if (row[k] > row[best]) best = k;
        hits += best == labels[i];
    }
    return hits;
}

/// Fraction of a loader's images the model classifies right, in evaluation mode (dropout
/// off) and without recording.
template <class T, class Model>
double accuracy(Model& model, const tg::data::DataLoader<T>& loader) {
    tg::NoGradGuard no_grad;
    const bool was_training = model.is_training();
    model.eval();
    std::size_t hits = 0, n = 0;
    for (const auto& batch : loader.epoch(0)) {
        hits += correct(model(tg::constant(batch.images)).value(), batch.labels);
        n += batch.size();
    }
    model.train(was_training);
    return double(hits) / double(std::max<std::size_t>(n, 1));
}

/// What one pass over the training data did.
struct EpochResult {
    double loss = 0;            // mean of the mini-batch losses
    double train_accuracy = 0;  // on the mini-batches as they were trained
    double seconds = 0;
    /// (fraction of the epoch done, mean loss of the mini-batches since the previous point):
    /// the loss curve within the epoch, when train_epoch was asked for points.
    std::vector<std::pair<double, double>> loss_curve;
};

/// How train_epoch shows itself: a bar redrawn on a terminal (tapegrad::data::Progress), and,
/// when stdout is a file or a pipe, either nothing (logs hold only the lessons' one line per
/// epoch) or, with plain_progress, a plain line every 10% of the epoch. curve_points > 0 fills
/// EpochResult::loss_curve with about that many points.
struct EpochDisplay {
    bool plain_progress = false;
    std::size_t curve_points = 0;
    /// Called about `checks` times within the epoch, each time with the fraction of the epoch
    /// done (the last call with 1): where a lesson measures, e.g., test accuracy as it trains.
    std::size_t checks = 0;
    std::function<void(double)> check;
};

/// One epoch of mini-batch training, the loop every gradient-descent lesson runs:
///   for each mini-batch:  output = forward(images);  C = cost(output, batch);
///                         zero the gradients;  C.backward();  optimizer.step()
/// with a progress display labelled `label`.
template <class T, class Forward, class Cost>
EpochResult train_epoch(tg::optim::Optimizer<T>& optimizer, const tg::data::Epoch<T>& batches, Forward&& forward,
                        Cost&& cost, const std::string& label, const EpochDisplay& display = {}) {
    Stopwatch clock;
    const std::size_t total = std::max<std::size_t>(batches.size(), 1);
    tg::data::ProgressOptions options;
    options.stream = &std::cout;
    std::optional<tg::data::Progress> bar;
    if (tty() || display.plain_progress) bar.emplace(total, label, options);
    const std::size_t window = display.curve_points ? std::max<std::size_t>(total / display.curve_points, 1) : 0;
    const std::size_t check_every =
        display.check && display.checks ? std::max<std::size_t>(total / display.checks, 1) : 0;
    EpochResult r;
    double window_loss = 0;
    std::size_t hits = 0, seen = 0, done = 0, in_window = 0;
    for (const auto& batch : batches) {
        const tg::Variable<T> output = forward(batch.images);
        const tg::Variable<T> C = cost(output, batch);
        optimizer.zero_grad();
        C.backward();
        optimizer.step();
        const double loss = double(C.item());
        r.loss += loss;
        hits += correct(output.value(), batch.labels);
        seen += batch.size();
        ++done;
        if (window) {
            window_loss += loss;
            if (++in_window == window || done == batches.size()) {
                r.loss_curve.emplace_back(double(done) / double(total), window_loss / double(in_window));
                window_loss = 0;
                in_window = 0;
            }
        }
        if (check_every && (done % check_every == 0 || done == batches.size()))
            display.check(std::min(double(done) / double(total), 1.0));
        if (bar) bar->update(std::min(done, total), r.loss / double(done));
    }
    r.loss /= double(std::max<std::size_t>(done, 1));
    r.train_accuracy = double(hits) / double(std::max<std::size_t>(seen, 1));
    r.seconds = clock.seconds();
    return r;
}

/// Labels as one-hot rows (N, classes): the target vectors y(x) of the quadratic cost.
template <class T>
tg::Tensor<T> one_hot(const tg::Indices& labels, std::size_t classes) {
    tg::Tensor<T> y = tg::Tensor<T>::from_shape({labels.size(), classes});
    std::fill(y.begin(), y.end(), T(0));
    for (std::size_t i = 0; i < labels.size(); ++i) y(i, labels[i]) = T(1);
    return y;
}

/// Loads a Fashion-MNIST split, or explains what is missing and returns false.
inline bool load_fashion(tg::data::ImageDataset& train, tg::data::ImageDataset& test) {
    const std::string dir = tg::data::fashion_mnist_default_dir();
    if (!tg::data::fashion_mnist_available(dir)) {
        fmt::print(
            "Fashion-MNIST is not in {} (apt-get install dataset-fashion-mnist, or set "
            "TAPEGRAD_FASHION_MNIST_DIR); skipping.\n",
            dir);
        return false;
    }
    train = tg::data::load_fashion_mnist(tg::data::Split::train, dir);
    test = tg::data::load_fashion_mnist(tg::data::Split::test, dir);
    return true;
}

/// Runs a lesson's body and turns an escaping exception into a message and exit code 1.
/// Output is line-buffered, so a log file shows each epoch as it ends.
template <class F>
int run(F&& body) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    try {
        return body();
    } catch (const std::exception& e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return 1;
    }
}

}  // namespace lesson
