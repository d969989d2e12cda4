// Lesson 7, the tape made visible: graphs printed, drawn as Graphviz DOT and written as explorer pages to step through.
#include <cmath>
#include <fstream>
#include <map>

#include "lesson.hpp"

namespace tg = tapegrad;
using Var = tg::Variable<double>;
using Tensor = tg::Tensor<double>;
using Array = xt::xarray<double>;

namespace {

/// The DOT text of tg::to_dot, with one more line in every op's box: the gradient of the
/// output with respect to that op's value (to_dot shows gradients of leaves only, because
/// backward keeps no others; tg::grad asks for them explicitly).
std::string dot_with_all_gradients(const Var& f, const std::string& title) {
    const std::vector<Var> order = tg::backward_order(f);  // order[k] is visited at step k + 1
    const std::vector<Var> grads = tg::grad(std::vector<Var>{f}, order, {}, tg::GradOptions().retain_graph(true));
    f.backward(tg::BackwardOptions().retain_graph(true));  // fills the leaves' grad()
    std::string dot = tg::to_dot(f, title);
    for (std::size_t k = 0; k < order.size(); ++k) {
        const std::string step = fmt::format("\\nbackward step {}\"", k + 1);
        const auto at = dot.find(step);
        if (at != std::string::npos) dot.insert(at, "\\ngrad " + tg::value_summary(grads[k].value()));
    }
    return dot;
}

/// True when every op comes before the ops that made its inputs: the order a reverse sweep
/// needs, so that an op's gradient is complete before it is passed on.
bool is_reverse_topological(const std::vector<Var>& order) {
    std::map<const void*, std::size_t> position;
    for (std::size_t k = 0; k < order.size(); ++k) position[order[k].node()] = k;
    for (std::size_t k = 0; k < order.size(); ++k)
        for (const Var& input : order[k].inputs()) {
            const auto p = position.find(input.node());
            if (p != position.end() && p->second <= k) return false;
        }
    return true;
}

/// Writes name.dot, and name.png when Graphviz is installed. Returns false when dot rejects it.
bool draw(const std::string& dot, const std::string& name, const std::string& out, bool& drawn) {
    const std::string path = lesson::path_in(out, name + ".dot");
    std::ofstream(path) << dot;
    drawn = lesson::have("dot");
    if (!drawn) {
        fmt::print("   wrote {} (install graphviz to draw it: dot -Tpng {} -o {}.png)\n", path, path, name);
        return true;
    }
    const std::string png = lesson::path_in(out, name + ".png");
    const std::string command = "dot -Tpng " + lesson::shell_quoted(path) + " -o " + lesson::shell_quoted(png);
    const bool ok = std::system(command.c_str()) == 0;
    fmt::print("   wrote {} and drew it with Graphviz: {}\n", path, ok ? png : "dot FAILED");
    return ok;
}

void print_tape(const Var& f) {
    fmt::print("   the tape, in the order it was recorded (%n names a value):\n");
    std::string listing = tg::tape_listing(f);
    std::size_t start = 0;
    while (start < listing.size()) {
        const auto end = listing.find('\n', start);
        fmt::print("     {}\n", listing.substr(start, end - start));
        start = end == std::string::npos ? listing.size() : end + 1;
    }
    std::vector<std::string> names;
    for (const Var& v : tg::backward_order(f)) names.push_back(v.op_name());
    fmt::print("   backward visits: {}\n", fmt::join(names, " -> "));
}

}  // namespace

int main(int argc, char** argv) {
    return lesson::run([&] {
        lesson::Flags flags(argc, argv,
                            "Lesson 7: what tapegrad records. Three graphs, each printed as a tape and drawn as\n"
                            "Graphviz DOT with every node's op, shape, value and gradient and the step at which\n"
                            "the backward sweep visits it: an expression that uses a value twice, a sigmoid\n"
                            "neuron's loss, and the 2-3-1 test-score network; then a tiny convolutional network.\n"
                            "The expression, the neuron and the CNN are also written as explorer pages (.html):\n"
                            "open one in a browser and step through the forward pass and the backward sweep.");
        flags.flag("--fast", "the same (it is fast); checks the DOT files with Graphviz when installed");
        const std::string out = flags.value<std::string>("--out", ".", "directory for the .dot, .png and .html files");
        const std::string layout_name = flags.value<std::string>(
            "--explorer-layout", "auto",
            "how the explorer pages are laid out: auto (Graphviz when installed), graphviz or page (by its script)");
        flags.done();
        const tg::HtmlLayout layout = lesson::explorer_layout(layout_name);
        lesson::Claims claims;
        bool drawn = false;

        // 1. f(a, b) = tanh(a b + b): b is used twice, so two gradients reach it and backward
        //    adds them: df/db = (1 - tanh^2(a b + b)) (a + 1).
        fmt::print("1. f(a, b) = tanh(a*b + b) at a = 2, b = -0.5\n");
        {
            const Var a = tg::parameter(Array{2.0}), b = tg::parameter(Array{-0.5});
            const Var f = tg::sum(tg::tanh(a * b + b));
            print_tape(f);
            claims.check(is_reverse_topological(tg::backward_order(f)),
                         "backward visits each op before its inputs' ops");
            const std::string dot = dot_with_all_gradients(f, "f = tanh(a*b + b)");
            const double t = std::tanh(2.0 * -0.5 - 0.5);
            fmt::print("   df/da = {:.6f}   by hand (1 - tanh^2) b       = {:.6f}\n", a.grad()(0), (1 - t * t) * -0.5);
            fmt::print("   df/db = {:.6f}   by hand (1 - tanh^2) (a + 1) = {:.6f}  (the two paths, added)\n",
                       b.grad()(0), (1 - t * t) * 3.0);
            claims.check(
                std::abs(a.grad()(0) - (1 - t * t) * -0.5) < 1e-15 && std::abs(b.grad()(0) - (1 - t * t) * 3.0) < 1e-15,
                "the gradients equal the chain rule by hand");
            claims.check(draw(dot, "graph_accumulation", out, drawn), "Graphviz reads graph_accumulation.dot");
            lesson::write_explorer(out, "explorer_accumulation", f,
                                   tg::HtmlOptions()
                                       .title("f = tanh(a*b + b): b is used twice")
                                       .layout(layout)
                                       .name(a, "a")
                                       .name(b, "b")
                                       .name(f, "f"));
        }

        // 2. One sigmoid neuron and its loss on one point (tutorial 002, 15.7):
        //    loss = 1/2 (y - sigma(z))^2,  z = w1 x1 + w2 x2 + b.
        //    Backward asks the tutorial's questions in turn: dloss/dsigma = -(y - sigma),
        //    dsigma/dz = sigma (1 - sigma), dz/dw1 = x1; their product is dloss/dw1.
        fmt::print("\n2. A sigmoid neuron's loss 1/2 (y - sigma(w.x + b))^2 at x = (1, 2), y = 1\n");
        {
            const Var x = tg::constant(Array{1.0, 2.0});
            const Var w = tg::parameter(Array{0.5, -0.3}), b = tg::parameter(Array{0.1});
            const Var y = tg::constant(Array{1.0});
            const Var z = tg::sum(w * x) + b;
            const Var s = tg::sigmoid(z);
            const Var e = y - s;
            const Var loss = tg::sum(0.5 * e * e);
            print_tape(loss);
            const std::string dot = dot_with_all_gradients(loss, "loss = 1/2 (y - sigmoid(w.x + b))^2");
            const double sv = s.value()(0);
            const double by_hand = -(1.0 - sv) * sv * (1 - sv) * 1.0;
            fmt::print("   dloss/dw1 = {:.8f}   by hand -(y - sigma) sigma (1 - sigma) x1 = {:.8f}\n", w.grad()(0),
                       by_hand);
            claims.check(std::abs(w.grad()(0) - by_hand) < 1e-15, "dloss/dw1 is the product of the rates of change");
            claims.check(draw(dot, "graph_neuron", out, drawn), "Graphviz reads graph_neuron.dot");
            lesson::write_explorer(out, "explorer_neuron", loss,
                                   tg::HtmlOptions()
                                       .title("A sigmoid neuron's loss 1/2 (y - sigmoid(w.x + b))^2")
                                       .layout(layout)
                                       .name(x, "x")
                                       .name(w, "w")
                                       .name(b, "b")
                                       .name(y, "y")
                                       .name(z, "z")
                                       .name(s, "sigma")
                                       .name(e, "e")
                                       .name(loss, "loss"));
        }

        // 3. The 2-3-1 test-score network of lesson 2 and its cost J.
        fmt::print("\n3. The 2-3-1 test-score network: J = 1/2 sum (y - sigma(sigma(X W1) W2))^2\n");
        {
            const Var X = tg::constant(Array{{0.3, 1.0}, {0.5, 0.2}, {1.0, 0.4}});
            const Var y = tg::constant(lesson::column({0.75, 0.82, 0.93}));
            tg::Generator gen(5);
            const Var W1 = tg::randn<double>({2, 3}, gen, true), W2 = tg::randn<double>({3, 1}, gen, true);
            const Var yHat = tg::sigmoid(tg::matmul(tg::sigmoid(tg::matmul(X, W1)), W2));
            const Var e = y - yHat;
            const Var J = 0.5 * tg::sum(e * e);
            print_tape(J);
            claims.check(is_reverse_topological(tg::backward_order(J)),
                         "backward visits each op before its inputs' ops");
            const std::string dot = dot_with_all_gradients(J, "J of the 2-3-1 test-score network");
            const auto check = tg::gradcheck<double>(
                [&] {
                    const Var e2 = y - tg::sigmoid(tg::matmul(tg::sigmoid(tg::matmul(X, W1)), W2));
                    return 0.5 * tg::sum(e2 * e2);
                },
                {W1, W2});
            fmt::print("   {}\n", check.summary());
            claims.check(check.passed, "the drawn gradients of W1 and W2 pass gradcheck");
            claims.check(draw(dot, "graph_network", out, drawn), "Graphviz reads graph_network.dot");
        }
        // 4. A tiny convolutional network on one 6x6 image: two 3x3 filters with shared weights
        //    (lesson 5), ReLU, 2x2 max pooling, a dense layer to 3 classes and cross-entropy. In the
        //    explorer, conv2d's VJP sends one gradient to the image and one to the filters: the
        //    filters' gradient sums over every position they were applied at.
        fmt::print("\n4. A tiny CNN: conv 3x3 (2 filters) -> ReLU -> max pool 2x2 -> dense -> cross-entropy\n");
        {
            Tensor image = Tensor::from_shape({1, 1, 6, 6});
            for (std::size_t r = 0; r < 6; ++r)
                for (std::size_t c = 0; c < 6; ++c) image(0, 0, r, c) = (r == 2 || c == 3) ? 1.0 : 0.0;  // a cross
            const Var x = tg::constant(image);
            tg::Generator gen(7);
            const Var K = tg::randn<double>({2, 1, 3, 3}, gen, true), c = tg::randn<double>({2}, gen, true);
            // Small dense weights, so that the classes' scores start close and the gradients are not tiny.
            const Var W = tg::parameter(Tensor(0.2 * tg::randn<double>({8, 3}, gen).value()));
            const Var b = tg::parameter(Tensor(0.2 * tg::randn<double>({3}, gen).value()));
            const auto net = [&] {
                const Var maps = tg::relu(tg::conv2d(x, K, c));
                const Var pooled = tg::max_pool2d(maps, tg::Pool2dOptions(2));
                return tg::matmul(tg::reshape(pooled, {1, 8}), W) + b;
            };
            // gradcheck nudges the parameters in place, so the graph to explore is recorded after it.
            const auto check =
                tg::gradcheck<double>([&] { return tg::cross_entropy(net(), tg::Indices{1}); }, {K, c, W, b});
            const Var loss = tg::cross_entropy(net(), tg::Indices{1});
            print_tape(loss);
            fmt::print("   {}\n", check.summary());
            claims.check(check.passed, "the CNN's gradients pass gradcheck");
            const tg::HtmlPage page =
                lesson::write_explorer(out, "explorer_cnn", loss,
                                       tg::HtmlOptions()
                                           .title("A tiny CNN: conv, ReLU, max pool, dense, cross-entropy")
                                           .layout(layout)
                                           .name(x, "image")
                                           .name(K, "filters")
                                           .name(c, "filter bias")
                                           .name(W, "W")
                                           .name(b, "b")
                                           .name(loss, "loss"));
            claims.check(page.backward_steps == tg::backward_order(loss).size(),
                         "the CNN's explorer page steps through all {} VJPs of the sweep", page.backward_steps);
        }
        // 5. A long graph: one recurrent unit unrolled over 50 time steps (lesson 5's weight sharing,
        //    in time), h_t = tanh(w h_(t-1) + u x_t), loss = h_50^2 / 2. Every step multiplies the
        //    gradient on its way back by w (1 - h_t^2), less than 1 here, so what reaches the early
        //    steps has all but vanished. The explorer page has about 250 boxes: zoom and pan.
        fmt::print("\n5. One recurrent unit over 50 steps: h_t = tanh(w h_(t-1) + u x_t), loss = h_50^2 / 2\n");
        {
            tg::Generator gen(11);
            const Var w = tg::parameter(Array{0.8}), u = tg::parameter(Array{1.0});
            Var h = tg::constant(Array{0.0});
            std::vector<Var> hs;
            for (int t = 1; t <= 50; ++t) {
                h = tg::tanh(w * h + u * tg::constant(Array{gen.uniform(-1.0, 1.0)}));
                hs.push_back(h);
            }
            const Var loss = tg::sum(0.5 * h * h);
            const std::vector<Var> dh = tg::grad(std::vector<Var>{loss}, hs, {}, tg::GradOptions().retain_graph(true));
            for (int t : {50, 40, 30, 20, 10, 1})
                fmt::print("   dloss/dh_{:<2} = {:+.3e}\n", t, dh[std::size_t(t - 1)].item());
            claims.check(std::abs(dh[0].item()) < 1e-3 * std::abs(dh[49].item()),
                         "the gradient reaching h_1 is under 1/1000 of the one at h_50 (it vanishes)");
            const tg::HtmlPage page = lesson::write_explorer(out, "explorer_rnn", loss,
                                                             tg::HtmlOptions()
                                                                 .title("One recurrent unit unrolled over 50 steps")
                                                                 .layout(layout)
                                                                 .name(w, "w")
                                                                 .name(u, "u")
                                                                 .name(loss, "loss"));
            claims.check(page.nodes > 200, "the recurrence's page has a few hundred boxes ({})", page.nodes);
        }
        if (!drawn) fmt::print("\n(Graphviz is not installed: apt-get install graphviz)\n");
        return claims.exit_code();
    });
}
