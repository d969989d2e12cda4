// The tape explorer page: the values, gradients and steps it holds are tapegrad's own; layouts, limits, bad input.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include <tapegrad/autograd/op.hpp>

#include "helpers.hpp"

using namespace tgtest;

namespace {

// ---- reading the page's data back: a JavaScript object literal (JSON plus NaN, Infinity) ----------

struct Js {
    enum Kind { null, boolean, number, string, array, object } kind = null;
    double num = 0;
    bool yes = false;
    std::string str;
    std::vector<Js> items;
    std::map<std::string, Js> fields;

    const Js& operator[](const std::string& key) const {
        const auto f = fields.find(key);
        REQUIRE_MESSAGE(f != fields.end(), "no field " << key);
        return f->second;
    }
    const Js& operator[](std::size_t i) const {
        REQUIRE(i < items.size());
        return items[i];
    }
    std::size_t size() const { return kind == array ? items.size() : fields.size(); }
    std::vector<double> numbers() const {
        std::vector<double> v;
        for (const Js& x : items) v.push_back(x.num);
        return v;
    }
};

class Parser {
public:
    explicit Parser(const std::string& s, std::size_t at) : s_(s), i_(at) {}
    Js value() {
        space();
        Js v;
        const char c = s_.at(i_);
        if (c == '{') {
            v.kind = Js::object;
            ++i_;
            for (space(); s_.at(i_) != '}';) {
                std::string key = text();
                space();
                expect(':');
                v.fields[key] = value();
                space();
                if (s_.at(i_) == ',') ++i_, space();
            }
            ++i_;
        } else if (c == '[') {
            v.kind = Js::array;
            ++i_;
            for (space(); s_.at(i_) != ']';) {
                v.items.push_back(value());
                space();
                if (s_.at(i_) == ',') ++i_, space();
            }
            ++i_;
        } else if (c == '"') {
            v.kind = Js::string;
            v.str = text();
        } else if (word("null")) {
        } else if (word("true")) {
            v.kind = Js::boolean;
            v.yes = true;
        } else if (word("false")) {
            v.kind = Js::boolean;
        } else {
            v.kind = Js::number;
            if (word("NaN"))
                v.num = std::numeric_limits<double>::quiet_NaN();
            else if (word("Infinity"))
                v.num = std::numeric_limits<double>::infinity();
            else if (word("-Infinity"))
                v.num = -std::numeric_limits<double>::infinity();
            else {
                char* end = nullptr;
                v.num = std::strtod(s_.c_str() + i_, &end);  // reads "-0" as -0.0, and subnormals
                REQUIRE(end != s_.c_str() + i_);
                i_ = std::size_t(end - s_.c_str());
            }
        }
        return v;
    }

private:
    void space() {
        while (std::isspace(static_cast<unsigned char>(s_.at(i_)))) ++i_;
    }
    void expect(char c) {
        REQUIRE_MESSAGE(s_.at(i_) == c, "expected " << c << " at " << s_.substr(i_, 30));
        ++i_;
    }
    bool word(const char* w) {
        if (s_.compare(i_, std::strlen(w), w) != 0) return false;
        i_ += std::strlen(w);
        return true;
    }
    std::string text() {
        expect('"');
        std::string out;
        while (s_.at(i_) != '"') {
            char c = s_[i_++];
            if (c == '\\') {
                c = s_.at(i_++);
                if (c == 'n')
                    c = '\n';
                else if (c == 'u') {
                    out += char(std::stoi(s_.substr(i_, 4), nullptr, 16));  // the writer escapes ASCII only
                    i_ += 4;
                    continue;
                }
            }
            out += c;
        }
        ++i_;
        return out;
    }
    const std::string& s_;
    std::size_t i_;
};

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

/// The TAPE literal of the page at `path`.
Js page_data(const std::string& path, std::string* html = nullptr) {
    const std::string page = read_file(path);
    if (html) *html = page;
    const std::string marker = "const TAPE = ";
    const auto at = page.find(marker);
    REQUIRE(at != std::string::npos);
    return Parser(page, at + marker.size()).value();
}

std::vector<double> flat(const tg::Tensor<double>& t) { return std::vector<double>(t.begin(), t.end()); }

bool same(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!(a[i] == b[i] && std::signbit(a[i]) == std::signbit(b[i])) && !(std::isnan(a[i]) && std::isnan(b[i])))
            return false;
    return true;
}

/// A file name of its own in the working directory, removed at the end of the test.
struct TempPage {
    std::string path;
    explicit TempPage(const std::string& name) : path("test_graph_html_" + name + ".html") {}
    ~TempPage() { std::remove(path.c_str()); }
};

bool have_dot() { return std::system("command -v dot > /dev/null 2>&1") == 0; }

/// x^3 with its formula line, as ops carry them.
template <class T>
struct Cube {
    static constexpr const char* name = "cube";
    static constexpr const char* formula = "y = x^3   dx = 3 g x^2";
    tg::Tensor<T> forward(const tg::Tensor<T>& x) const { return x * x * x; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        a.dx[0] = a.g * a.x(0) * a.x(0) * T(3);
    }
};
V cube(const V& x) { return tg::apply(Cube<double>{}, x); }

/// x^3 again, as a user might write it without a formula line.
template <class T>
struct PlainCube {
    static constexpr const char* name = "plain_cube";
    tg::Tensor<T> forward(const tg::Tensor<T>& x) const { return x * x * x; }
    template <class G>
    void backward(tg::VjpArgs<G>& a) const {
        a.dx[0] = a.g * a.x(0) * a.x(0) * T(3);
    }
};
V plain_cube(const V& x) { return tg::apply(PlainCube<double>{}, x); }

}  // namespace

TEST_CASE("write_html shows tapegrad's own values, gradients and order") {
    const V a = tg::parameter(xt::xarray<double>{2.0, -1.0}), b = tg::parameter(xt::xarray<double>{-0.5, 0.25});
    const V c = tg::constant(xt::xarray<double>{3.0, 4.0});
    const V f = tg::sum(tg::tanh(a * b + b) * c);
    TempPage page("values");
    const tg::HtmlPage info = tg::write_html(page.path, f, tg::HtmlOptions().title("demo").name(a, "a"));
    const Js d = page_data(page.path);

    const auto values = tg::tape_order(f);
    const auto order = tg::backward_order(f);
    CHECK(info.nodes == values.size());
    CHECK(info.forward_steps == 5);
    CHECK(info.backward_steps == order.size());
    REQUIRE(d["nodes"].size() == values.size());
    std::map<const void*, std::size_t> id;
    for (std::size_t i = 0; i < values.size(); ++i) {
        id[values[i].node()] = i;
        const Js& n = d["nodes"][i];
        CHECK(n["op"].str == values[i].op_name());
        CHECK(same(n["value"]["v"].numbers(), flat(values[i].value())));
        CHECK(n["value"]["s"].str == tg::value_summary(values[i].value()));
        CHECK(n["kind"].str == (!values[i].is_leaf() ? "op" : values[i].requires_grad() ? "parameter" : "constant"));
    }
    CHECK(d["nodes"][id[a.node()]]["name"].str == "a");
    CHECK(d["nodes"][id[a.node()]]["title"].str == fmt::format("%{} a", id[a.node()]));
    CHECK(d["nodes"][id[c.node()]]["grad"].kind == Js::null);  // constants get none

    // The backward steps: tapegrad::backward_order, each with dOut/dop from tapegrad::grad.
    const auto upstream = tg::grad(std::vector<V>{f}, order, {}, tg::GradOptions().retain_graph(true));
    REQUIRE(d["backward"].size() == order.size());
    std::map<std::size_t, std::vector<double>> sent;  // what the page says each value received, summed
    for (std::size_t j = 0; j < order.size(); ++j) {
        const Js& step = d["backward"][j];
        CHECK(step["node"].num == id[order[j].node()]);
        CHECK(same(step["g"]["v"].numbers(), flat(upstream[j].value())));
        CHECK(step["seed"].yes == (j == 0));
        REQUIRE(step["sends"].size() == order[j].inputs().size());
        for (const Js& s : step["sends"].items) {
            const auto to = std::size_t(s["to"].num);
            CHECK(to == id[order[j].inputs()[std::size_t(s["slot"].num)].node()]);
            if (s["dx"].kind == Js::null) {
                CHECK(d["nodes"][to]["kind"].str == "constant");
                continue;
            }
            auto& total = sent[to];
            const auto dx = s["dx"]["v"].numbers();
            if (total.empty())
                total = dx;
            else
                for (std::size_t e = 0; e < dx.size(); ++e) total[e] += dx[e];
        }
    }
    // The gradients the VJPs send add up, value by value, to tapegrad's: dOut/dop for ops, and
    // what backward() leaves in each parameter's grad().
    for (std::size_t j = 1; j < order.size(); ++j) CHECK(same(sent[id[order[j].node()]], flat(upstream[j].value())));
    CHECK_FALSE(a.has_grad());  // write_html touched no grad() and freed nothing
    f.backward();
    for (const V& p : {a, b}) {
        CHECK(same(sent[id[p.node()]], flat(p.grad())));
        CHECK(same(d["nodes"][id[p.node()]]["grad"]["v"].numbers(), flat(p.grad())));
    }
}

TEST_CASE("constants get no gradient from any VJP") {
    // u * x_t with x_t constant, as in a recurrent unit: the VJP is asked for u's gradient only.
    const V u = tg::parameter(xt::xarray<double>{0.7});
    V h = tg::constant(xt::xarray<double>{0.0});
    for (int t = 0; t < 40; ++t) h = tg::tanh(h + u * tg::constant(xt::xarray<double>{0.1 * t - 2.0}));
    TempPage page("constants");
    tg::write_html(page.path, tg::sum(h), tg::HtmlOptions().layout(tg::HtmlLayout::page));
    const Js d = page_data(page.path);
    std::size_t constants = 0;
    for (const Js& step : d["backward"].items)
        for (const Js& s : step["sends"].items) {
            const bool constant = d["nodes"][std::size_t(s["to"].num)]["kind"].str == "constant";
            constants += constant;
            CHECK((s["dx"].kind == Js::null) == constant);
            CHECK(s["count"].num <= s["of"].num);
        }
    CHECK(constants >= 40);
}

TEST_CASE("a value used three times shows its partial sums and the count of its gradients") {
    const V x = tg::parameter(xt::xarray<double>{0.5, -2.0});
    const V y = tg::sum(x * x + x);  // mul sends two gradients to x, add one
    TempPage page("partial");
    tg::write_html(page.path, y, tg::HtmlOptions().layout(tg::HtmlLayout::page));
    const Js d = page_data(page.path);
    std::vector<double> running;
    std::size_t seen = 0;
    for (const Js& step : d["backward"].items)
        for (const Js& s : step["sends"].items) {
            if (s["to"].num != 0) continue;
            ++seen;
            CHECK(s["count"].num == seen);
            CHECK(s["of"].num == 3);
            const auto dx = s["dx"]["v"].numbers();
            if (running.empty())
                running = dx;
            else
                for (std::size_t e = 0; e < dx.size(); ++e) running[e] += dx[e];
            if (seen == 2)
                CHECK(same(s["acc"]["v"].numbers(), running));  // 1 < count < of: the partial sum
            else
                CHECK(s["acc"].kind == Js::null);  // the first is dx itself, the last the node's grad
        }
    CHECK(seen == 3);
    y.backward();
    CHECK(same(running, flat(x.grad())));
    CHECK(same(d["nodes"][0]["grad"]["v"].numbers(), flat(x.grad())));
}

TEST_CASE("the formula line comes from the op, and is empty for ops without one") {
    const V x = tg::parameter(xt::xarray<double>{1.5});
    const V y = tg::sum(tg::tanh(plain_cube(cube(x))));
    TempPage page("formula");
    tg::write_html(page.path, y, tg::HtmlOptions().layout(tg::HtmlLayout::page));
    const Js d = page_data(page.path);
    int found = 0;
    for (const Js& n : d["nodes"].items) {
        const std::string op = n["op"].str;
        if (op == "cube") CHECK(n["formula"].str == "y = x^3   dx = 3 g x^2");
        if (op == "tanh") CHECK(n["formula"].str == "y = tanh(x)   dx = g (1 - y^2)");  // a built-in op's own line
        if (op == "plain_cube" || op == "leaf") CHECK(n["formula"].str == "");
        found += op == "cube" || op == "plain_cube" || op == "tanh";
    }
    CHECK(found == 3);
    // Whatever ops carry, the page writes each node's formula() and nothing else.
    for (const V& v : tg::tape_order(y)) {
        bool listed = false;
        for (const Js& n : d["nodes"].items) listed = listed || n["formula"].str == v.node()->formula();
        CHECK(listed);
    }
}

TEST_CASE("Graphviz lays the page out when dot runs; otherwise the page does, and says why") {
    const V w = tg::parameter(xt::xarray<double>{{1.0, 2.0}, {3.0, 4.0}});
    const V loss = tg::mean(tg::sigmoid(tg::matmul(w, w)));
    TempPage page("layout");

    const tg::HtmlPage own = tg::write_html(page.path, loss, tg::HtmlOptions().layout(tg::HtmlLayout::page));
    Js d = page_data(page.path);
    CHECK(own.layout == tg::HtmlLayout::page);
    CHECK(d["layout"].str == "page");
    CHECK(d["svg"].kind == Js::null);

    const tg::HtmlPage missing = tg::write_html(page.path, loss, tg::HtmlOptions().dot_program("/nonexistent/dot"));
    CHECK(missing.layout == tg::HtmlLayout::page);
    CHECK(missing.layout_note.find("/nonexistent/dot") != std::string::npos);
    CHECK(page_data(page.path)["layoutNote"].str == missing.layout_note);
    check_error(
        [&] {
            tg::write_html(page.path, loss,
                           tg::HtmlOptions().layout(tg::HtmlLayout::graphviz).dot_program("/nonexistent/dot"));
        },
        "write_html: HtmlLayout::graphviz was asked for, but Graphviz's '/nonexistent/dot' was not found");

    if (!have_dot()) {
        MESSAGE("graphviz is not installed; the Graphviz layout is not checked");
        return;
    }
    const tg::HtmlPage drawn = tg::write_html(page.path, loss);
    std::string html;
    d = page_data(page.path, &html);
    CHECK(drawn.layout == tg::HtmlLayout::graphviz);
    CHECK(drawn.layout_note.empty());
    CHECK(d["layout"].str == "graphviz");
    REQUIRE(d["svg"].kind == Js::string);
    const std::string& svg = d["svg"].str;
    CHECK(svg.rfind("<svg", 0) == 0);  // no XML prolog, no DTD address
    for (std::size_t i = 0; i < d["nodes"].size(); ++i)
        CHECK(svg.find(fmt::format("id=\"n{}\"", i)) != std::string::npos);
    CHECK(svg.find("id=\"e1_0\"") != std::string::npos);  // %1 = matmul(w, w): two edges from w
    CHECK(svg.find("id=\"e1_1\"") != std::string::npos);
    CHECK(html.find("http://www.w3.org/Graphics") == std::string::npos);
}

TEST_CASE("large tensors are summarised with their first values, and full values up to the limit") {
    const V x = tg::parameter(shaped(xt::xarray<double>(xt::arange<double>(100) * 0.37 - 5.0), {10, 10}));
    const V y = tg::sum(x * x);
    TempPage page("limit");
    tg::write_html(page.path, y, tg::HtmlOptions().full_values_limit(7).layout(tg::HtmlLayout::page));
    const Js d = page_data(page.path);
    const Js& v = d["nodes"][0]["value"];
    CHECK(v["n"].num == 100);
    REQUIRE(v["v"].size() == 7);
    CHECK(same(v["v"].numbers(), std::vector<double>(x.value().begin(), x.value().begin() + 7)));
    CHECK(v["s"].str == tg::value_summary(x.value()));
    CHECK(v["c"].str.find("100 values") != std::string::npos);
    CHECK(d["limit"].num == 7);
}

TEST_CASE("NaN, infinities and -0 reach the page exactly") {
    const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
    const V x = tg::parameter(xt::xarray<double>{-0.0, inf, -inf, nan, 4.9e-324, 0.1});
    const V y = tg::sum(x * 1.0);
    TempPage page("edges");
    tg::write_html(page.path, y, tg::HtmlOptions().layout(tg::HtmlLayout::page));
    const Js d = page_data(page.path);
    CHECK(same(d["nodes"][0]["value"]["v"].numbers(), flat(x.value())));
    CHECK(std::signbit(d["nodes"][0]["value"]["v"][0].num));
}

TEST_CASE("names and titles cannot break out of the page's script") {
    const V x = tg::parameter(xt::xarray<double>{1.0});
    const V y = tg::sum(x * x);
    TempPage page("escape");
    const std::string nasty = "</script><script>alert(\"x\\y\")</script> \xe2\x80\xa8 & <b>";
    tg::write_html(page.path, y, tg::HtmlOptions().title(nasty).name(x, nasty).layout(tg::HtmlLayout::page));
    std::string html;
    const Js d = page_data(page.path, &html);
    CHECK(d["title"].str.find("alert(\"x\\y\")") != std::string::npos);
    CHECK(d["nodes"][0]["name"].str.find("</script>") != std::string::npos);
    std::size_t scripts = 0;
    for (auto at = html.find("</script>"); at != std::string::npos; at = html.find("</script>", at + 1)) ++scripts;
    CHECK(scripts == 2);  // the template's two, none from the data
    const auto data = html.find("const TAPE = ");
    CHECK(html.find("\xe2\x80\xa8", data) == std::string::npos);  // a line break to JavaScript
    CHECK(html.find("<title>&lt;/script>") != std::string::npos);
}

TEST_CASE("a graph without parameters has forward steps only; float graphs work too") {
    const V c = tg::constant(xt::xarray<double>{1.0, 2.0});
    TempPage page("constant");
    const tg::HtmlPage info = tg::write_html(page.path, tg::sum(c * c));  // nothing recorded: one leaf
    CHECK(info.nodes == 1);
    CHECK(info.backward_steps == 0);
    CHECK(page_data(page.path)["backward"].size() == 0);

    const tg::Variable<float> xf = tg::parameter(xt::xarray<float>{0.1f, 3.0f});
    const tg::Variable<float> yf = tg::sum(tg::exp(xf));
    const tg::HtmlPage pf = tg::write_html(page.path, yf, tg::HtmlOptions().layout(tg::HtmlLayout::page));
    const Js d = page_data(page.path);
    CHECK(pf.backward_steps == 2);
    CHECK(d["dtype"].str == "float");
    yf.backward();
    const std::vector<double> expected{double(xf.grad()(0)), double(xf.grad()(1))};
    CHECK(same(d["nodes"][0]["grad"]["v"].numbers(), expected));  // floats written exactly, as doubles
}

TEST_CASE("an output of any shape takes its upstream gradient") {
    const V x = tg::parameter(xt::xarray<double>{1.0, 2.0, 3.0});
    const V y = tg::tanh(x);
    const tg::Tensor<double> seed = xt::xarray<double>{1.0, -2.0, 0.5};
    TempPage page("seed");
    tg::write_html(page.path, y, seed, tg::HtmlOptions().layout(tg::HtmlLayout::page));
    const Js d = page_data(page.path);
    CHECK(same(d["backward"][0]["g"]["v"].numbers(), flat(seed)));
    y.backward(seed);
    CHECK(same(d["nodes"][0]["grad"]["v"].numbers(), flat(x.grad())));
}

TEST_CASE("write_html rejects bad input with messages that name it") {
    const V x = tg::parameter(xt::xarray<double>{1.0, 2.0});
    TempPage page("errors");
    check_error([&] { tg::write_html(page.path, V()); }, "write_html: the output Variable is empty");
    check_error([&] { tg::write_html(page.path, x * x); },
                "write_html: the output has shape (2,), not one element; pass its upstream gradient");
    check_error([&] { tg::write_html(page.path, x * x, tg::Tensor<double>(tg::Shape{3}, 1.0)); },
                "write_html: grad_output has shape (3,), the output has shape (2,)");
    check_error([&] { tg::write_html(page.path, tg::sum(x), tg::HtmlOptions().full_values_limit(0)); },
                "write_html: full_values_limit is 0");
    const V y = tg::sum(tg::tanh(x));
    y.backward();  // frees the graph
    check_error([&] { tg::write_html(page.path, y); },
                "write_html: the graph behind the output was freed by an earlier backward() (at 'sum'");

    // An unwritable place: a FileError naming it, and the page already there is left as it was.
    const V z = tg::sum(x * x);
    tg::write_html(page.path, z, tg::HtmlOptions().layout(tg::HtmlLayout::page));
    const std::string before = read_file(page.path);
    CHECK_THROWS_AS(tg::write_html("/nonexistent-dir/page.html", z), tg::FileError);
    std::filesystem::create_directory("test_graph_html_dir");
    try {
        tg::write_html("test_graph_html_dir", z, tg::HtmlOptions().layout(tg::HtmlLayout::page));  // a directory
        FAIL("writing over a directory did not throw");
    } catch (const tg::FileError& e) {
        CHECK(std::string(e.what()).find("write_html: cannot replace test_graph_html_dir") != std::string::npos);
    }
    std::filesystem::remove_all("test_graph_html_dir");
    CHECK(read_file(page.path) == before);
}

TEST_CASE("a long chain is written, and laid out by the page rather than wait for Graphviz") {
    V h = tg::parameter(xt::xarray<double>{0.5});
    const V w = h;
    for (int i = 0; i < 1000; ++i) h = tg::tanh(h * 0.999 + 0.01);
    const V loss = tg::sum(h);
    TempPage page("chain");
    const tg::HtmlPage info = tg::write_html(page.path, loss, tg::HtmlOptions().layout(tg::HtmlLayout::automatic));
    CHECK(info.backward_steps == tg::backward_order(loss).size());
    CHECK(info.nodes == tg::tape_order(loss).size());
    CHECK(info.layout == tg::HtmlLayout::page);  // too large to wait for Graphviz
    CHECK(info.layout_note.find("more than Graphviz lays out quickly") != std::string::npos);
    loss.backward();
    CHECK(same(page_data(page.path)["nodes"][0]["grad"]["v"].numbers(), flat(w.grad())));
}
