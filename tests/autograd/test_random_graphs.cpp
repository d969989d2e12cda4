// Random-graph property test: seeded random compositions of ops, each gradchecked in double.
//
// A Builder draws a small program (leaves, then up to ~20 ops over random earlier values, with
// shapes that broadcast validly) and evaluates each step as it goes, so it can keep away from
// the points where an op is not differentiable (kinks of relu/abs/clamp/max, ties of
// maximum/max, log/sqrt/pow/div near or below zero): a step whose operands come within
// `kink_gap` of such a point is redrawn, and log/sqrt/pow/div take x*x + 0.5 instead of x where
// x is not safely positive. Every value no step reads feeds the result, so no step is dead code.
// The program is then replayed by gradcheck and gradgradcheck. A failure prints the seed, the
// program and the recorded tape. The ops are drawn from a table, one row per op (random_graph_ops.hpp);
// the helpers they are drawn with are in random_graph_draw.hpp.
//
// Environment: TAPEGRAD_RANDOM_GRAPHS=N checks N graphs (default 1000);
// TAPEGRAD_RANDOM_GRAPH_SEED=S checks only the graph of seed S (to reproduce a failure);
// TAPEGRAD_RANDOM_GRAPH_PRINT=1 prints every program checked.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>

#include "helpers.hpp"
#include "random_graph_ops.hpp"

using namespace tgtest;
using namespace tgtest::random_graph;

namespace {

/// Draws a random program step by step, evaluating as it goes.
class Builder : OpTable {
public:
    Builder(std::uint64_t seed, bool with_wrong_op) : OpTable(seed, with_wrong_op) {}

    Program build() {
        const int leaves = pick(1, 3);
        for (int i = 0; i < leaves; ++i) new_leaf(random_shape(), true);
        const std::size_t target = std::size_t(pick(1, int(max_steps)));
        std::size_t ops = 0;
        for (int attempt = 0; ops < target && attempt < 400; ++attempt)
            if (try_step()) ++ops;
        // Every value no step reads (a sink) feeds the result, so that no step is dead code. A
        // lone sink of up to four elements is checked as it is (a Jacobian, one backward per
        // element); otherwise each sink is weighted by fixed random numbers and summed.
        std::vector<char> read(vals_.size(), 0);
        for (const Step& s : p_.steps)
            for (std::size_t i : s.args) read[i] = 1;
        std::vector<std::size_t> sinks;
        for (std::size_t i = 0; i < vals_.size(); ++i)
            if (!read[i] && !p_.steps[i].args.empty()) sinks.push_back(i);
        if (sinks.empty()) sinks.push_back(vals_.size() - 1);  // no op was drawn: a leaf alone
        if (sinks.size() == 1 && vals_[sinks[0]].size() <= 4 && coin(0.3)) return std::move(p_);
        std::size_t total = 0;
        for (std::size_t k = 0; k < sinks.size(); ++k) {
            const std::size_t i = sinks[k], w = new_leaf(vals_[i].shape(), false);
            add_step(
                {"sum(" + ref(i) + " * " + ref(w) + ")", {i, w}, [](const Args& a) { return tg::sum(a[0] * a[1]); }},
                true);
            if (k > 0)
                add_step({"add(" + ref(total) + ", " + ref(vals_.size() - 1) + ")",
                          {total, vals_.size() - 1},
                          [](const Args& a) { return a[0] + a[1]; }},
                         true);
            total = vals_.size() - 1;
        }
        return std::move(p_);
    }

private:
    /// Draws one row of the table (the canary only with the wrong op) and one step of it.
    bool try_step() {
        const std::size_t a = operand();
        const Operand o(a, val(a));
        const std::vector<Row>& table = rows();
        const Row& row = table[std::size_t(pick(0, int(table.size()) - (wrong_ ? 1 : 2)))];
        const bool added = (this->*row.build)(o);
        if (added && p_.steps.back().args.size() > row.arity)
            throw std::logic_error(std::string("the random-graph row ") + row.name + " has arity " +
                                   std::to_string(row.arity) + " but drew " + p_.steps.back().text);
        return added;
    }
};

/// What checking one graph found: empty when it passed, else the whole story.
std::string check_graph(std::uint64_t seed, bool with_wrong_op, bool second_order, Program* keep = nullptr,
                        std::size_t* elements = nullptr) {
    Program p;
    try {
        p = Builder(seed, with_wrong_op).build();
    } catch (const std::exception& e) {
        return "seed " + std::to_string(seed) + ": building the graph threw: " + e.what();
    }
    const auto f = [&p] { return p.run(); };
    std::string failure;
    try {
        const auto first = tg::gradcheck<double>(f, p.params);
        if (!first.passed) failure = first.summary();
        if (elements) *elements += first.elements;
        if (failure.empty() && second_order) {
            const auto second = tg::gradgradcheck<double>(f, p.params, tg::GradcheckOptions().seed(seed));
            if (!second.passed) failure = "gradgradcheck: " + second.summary();
        }
    } catch (const std::exception& e) {
        failure = std::string("threw: ") + e.what();
    }
    if (keep) *keep = p;
    if (failure.empty()) return {};
    std::string tape;
    try {
        tape = tg::tape_listing(p.run());
    } catch (const std::exception& e) {
        tape = std::string("(cannot record: ") + e.what() + ")\n";
    }
    return "random graph of seed " + std::to_string(seed) + " (TAPEGRAD_RANDOM_GRAPH_SEED=" + std::to_string(seed) +
           " reproduces it) failed: " + failure + "\nprogram:\n" + p.listing() + "tape:\n" + tape;
}

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
    const char* s = std::getenv(name);
    return s && *s ? std::strtoull(s, nullptr, 10) : fallback;
}

}  // namespace

TEST_CASE("1,000 random graphs pass gradcheck and gradgradcheck in double") {
    std::vector<std::uint64_t> seeds;
    if (std::getenv("TAPEGRAD_RANDOM_GRAPH_SEED")) {
        seeds.push_back(env_or("TAPEGRAD_RANDOM_GRAPH_SEED", 0));
    } else {
        const std::uint64_t n = env_or("TAPEGRAD_RANDOM_GRAPHS", 1000);
        for (std::uint64_t s = 1; s <= n; ++s) seeds.push_back(s);
    }
    std::size_t failures = 0, ops = 0, deepest = 0, elements = 0;
    std::map<std::string, std::size_t> recorded;  // how often each op was exercised, for the report
    for (std::uint64_t seed : seeds) {
        Program p;
        const std::string failure = check_graph(seed, false, true, &p, &elements);
        ops += p.ops();
        std::istringstream tape(tg::tape_listing(p.run()));
        for (std::string line; std::getline(tape, line);) {
            const auto eq = line.find(" = "), paren = line.find('(', eq == std::string::npos ? 0 : eq);
            if (eq == std::string::npos || paren == std::string::npos) continue;
            const std::string name = line.substr(eq + 3, paren - eq - 3);
            if (name.find(' ') == std::string::npos) ++recorded[name];  // leaves have no '(' before their shape
        }
        deepest = std::max(deepest, p.depth());
        if (!failure.empty() && ++failures <= 3) FAIL_CHECK(failure);
        if (std::getenv("TAPEGRAD_RANDOM_GRAPH_PRINT")) MESSAGE("seed " << seed << ":\n" << p.listing());
    }
    MESSAGE(seeds.size() << " random graphs gradchecked and gradgradchecked: " << ops << " ops in all, deepest path "
                         << deepest << " ops, " << elements << " Jacobian elements compared, " << failures
                         << " failed");
    std::ostringstream per_op;
    for (const auto& [name, count] : recorded) per_op << ' ' << name << '=' << count;
    MESSAGE("recorded ops:" << per_op.str());
    CHECK(failures == 0);
    CHECK(recorded.size() >= 30);  // the pool really mixes the op library, not a handful of ops
}

TEST_CASE("the random-graph test catches a deliberately wrong VJP and prints the seed and the graph") {
    std::size_t with_op = 0, caught = 0, false_alarms = 0;
    std::string example;
    for (std::uint64_t seed = 1; seed <= 150; ++seed) {
        Program p;
        const std::string failure = check_graph(seed, true, false, &p);
        const bool has = tg::tape_listing(p.run()).find("square_wrong(") != std::string::npos;
        with_op += has;
        if (!failure.empty()) {
            if (has)
                ++caught, example = example.empty() ? failure : example;
            else
                ++false_alarms;
        }
    }
    INFO(example);
    MESSAGE("wrong VJP recorded in " << with_op << " of 150 graphs, caught in " << caught);
    CHECK(with_op >= 20);
    CHECK(false_alarms == 0);
    // Where it is recorded the wrong VJP is almost always seen; it is masked only where its
    // gradient is multiplied by zero anyway (seen: square_wrong(relu(x)) with x < 0).
    CHECK(double(caught) >= 0.8 * double(with_op));
    CHECK(example.find("random graph of seed ") != std::string::npos);
    CHECK(example.find("TAPEGRAD_RANDOM_GRAPH_SEED=") != std::string::npos);
    CHECK(example.find("gradcheck FAILED") != std::string::npos);
    CHECK(example.find("= square_wrong(%") != std::string::npos);            // the program listing
    CHECK(example.find("square_wrong(") != example.rfind("square_wrong("));  // and the tape names it too
}
