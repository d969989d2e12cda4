// tapegrad_bench: every workload on tapegrad and libtorch, alternating, and the table of results.
//   tapegrad_bench [--threads N] [--only a,b] [--rounds R] [--epoch-runs K] [--quick] [--csv F] [--json F] [--markdown
//   F]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

#include "harness.hpp"
#include "process.hpp"
#include "report.hpp"
#include "seq.hpp"
#include "sides.hpp"

namespace bench {

#if defined(TAPEGRAD_BENCH_HAVE_LIBTORCH)
constexpr bool have_libtorch = true;
#else
constexpr bool have_libtorch = false;
// Built without libtorch: every libtorch runner is absent.
namespace lt {
void set_threads(int) {}
std::string version() { return "libtorch not found"; }
std::unique_ptr<Runner> make_step(Model, const ImageSet&, const Recipe&, std::size_t) { return nullptr; }
std::unique_ptr<Runner> make_chain(std::size_t, std::size_t, bool, std::size_t) { return nullptr; }
std::unique_ptr<Runner> make_linear(std::size_t, std::size_t, std::size_t) { return nullptr; }
std::unique_ptr<Runner> make_seq_step(SeqModel, std::size_t) { return nullptr; }
}  // namespace lt
#endif

namespace {

const std::vector<std::string> all_workloads{"mlp_step",    "cnn_step",  "chain_tiny", "chain_tiny_nograd", "chain_100",
                                             "linear_1024", "mlp_epoch", "cnn_epoch",  "lstm_step",         "gpt_step"};

struct Options {
    int threads = 1;
    int rounds = 15;
    int epoch_runs = 3;
    double sample_seconds = 0.05;
    std::size_t epoch_limit = 0;  // 0: the whole training set
    std::set<std::string> only;
    std::string csv = "bench_results.csv";
    std::string json = "bench_results.json";
    std::string markdown;
    bool libtorch = have_libtorch;  // --no-libtorch: tapegrad alone (for profiling)
};

Options parse(int argc, char** argv) {
    Options o;
    auto need = [&](int& i) -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(std::string(argv[i]) + " needs a value");
        return argv[++i];
    };
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads")
            o.threads = std::max(1, std::atoi(need(i).c_str()));
        else if (a == "--rounds")
            o.rounds = std::max(1, std::atoi(need(i).c_str()));
        else if (a == "--epoch-runs")
            o.epoch_runs = std::max(0, std::atoi(need(i).c_str()));
        else if (a == "--sample-ms")
            o.sample_seconds = std::max(1.0, std::atof(need(i).c_str())) / 1000;
        else if (a == "--epoch-limit")
            o.epoch_limit = std::size_t(std::atol(need(i).c_str()));
        else if (a == "--csv")
            o.csv = need(i);
        else if (a == "--json")
            o.json = need(i);
        else if (a == "--markdown")
            o.markdown = need(i);
        else if (a == "--no-libtorch")
            o.libtorch = false;
        else if (a == "--quick") {  // a smoke run: few rounds, short samples, a tenth of an epoch
            o.rounds = 3;
            o.epoch_runs = 1;
            o.sample_seconds = 0.01;
            o.epoch_limit = 6000;
        } else if (a == "--only") {
            std::stringstream s(need(i));
            for (std::string w; std::getline(s, w, ',');) {
                bool known = false;
                for (const auto& k : all_workloads) known = known || k == w;
                if (!known) throw std::invalid_argument("--only: unknown workload '" + w + "'");
                o.only.insert(w);
            }
        } else if (a == "--help" || a == "-h") {
            std::printf(
                "usage: tapegrad_bench [--threads N] [--only a,b,...] [--rounds R] [--epoch-runs K]\n"
                "                      [--sample-ms MS] [--epoch-limit IMAGES] [--quick]\n"
                "                      [--csv FILE] [--json FILE] [--markdown FILE] [--no-libtorch]\n"
                "workloads:");
            for (const auto& w : all_workloads) std::printf(" %s", w.c_str());
            std::printf("\n");
            std::exit(0);
        } else {
            throw std::invalid_argument("unknown argument '" + a + "' (--help lists them)");
        }
    }
    return o;
}

std::string utc_now() {
    char buf[32];
    const std::time_t t = std::time(nullptr);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%MZ", std::gmtime(&t));
    return buf;
}

std::string load_average() {
    std::ifstream f("/proc/loadavg");
    std::string one;
    f >> one;
    return one;
}

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    for (std::string line; std::getline(f, line);)
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown CPU";
}

Stats scaled(const Stats& s, double k) {
    Stats r = s;
    r.median *= k, r.p25 *= k, r.p75 *= k, r.min *= k, r.max *= k;
    return r;
}

/// The two sides' probes agree (same data, same weights, same computation)?
std::string agreement(double a, double b) {
    const double rel = std::fabs(a - b) / std::max({std::fabs(a), std::fabs(b), 1e-12});
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s: tg %.6g vs torch %.6g", rel < 1e-3 ? "same result" : "RESULTS DIFFER", a, b);
    return buf;
}

/// Runners of one in-process workload timed in alternation; seconds per iteration.
struct Timing {
    std::vector<std::vector<double>> samples;
    std::vector<double> probes;
};

Timing time_alternating(const std::vector<Runner*>& runners, std::size_t warmup, const Options& o) {
    Timing t;
    for (Runner* r : runners) {
        r->run(warmup);
        t.probes.push_back(r->probe());
    }
    std::vector<std::size_t> iterations;
    for (Runner* r : runners) iterations.push_back(calibrate(*r, o.sample_seconds));
    t.samples = alternate(runners, iterations, o.rounds);
    return t;
}

void add_comparison(std::vector<Row>& rows, const std::string& name, const std::string& unit, double scale, Runner* tg,
                    Runner* lt, std::size_t warmup, const Options& o, double target_ratio) {
    std::vector<Runner*> rs{tg};
    if (lt) rs.push_back(lt);
    const Timing t = time_alternating(rs, warmup, o);
    Row row{name, unit};
    row.tapegrad = scaled(summarize(t.samples[0]), scale);
    if (lt) {
        row.libtorch = scaled(summarize(t.samples[1]), scale);
        row.compare = paired_ratio(t.samples[0], t.samples[1]).median;
        row.note = agreement(t.probes[0], t.probes[1]);
    }
    if (target_ratio > 0) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "<= %.2f", target_ratio);
        row.target = buf;
        if (row.compare) row.met = *row.compare <= target_ratio;
    }
    rows.push_back(row);
    std::fprintf(stderr, "  %s done\n", name.c_str());
}

void step_workload(std::vector<Row>& rows, Model model, const ImageSet& train, const Options& o, double target) {
    const Recipe recipe;
    const std::size_t pool = std::min<std::size_t>(16, train.n / recipe.batch);
    auto tg = tg::make_step(model, train, recipe, pool);
    auto lt = o.libtorch ? lt::make_step(model, train, recipe, pool) : nullptr;
    const std::string name = std::string(model_name(model)) + "_step";
    // Three steps from the same weights on the same batches: the losses must agree.
    add_comparison(rows, name, "us/step", 1e6, tg.get(), lt.get(), 3, o, target);
}

void seq_workload(std::vector<Row>& rows, SeqModel model, const Options& o, double target) {
    auto tg = tg::make_seq_step(model, 4);
    auto lt = o.libtorch ? lt::make_seq_step(model, 4) : nullptr;
    // Three steps from the same weights on the same batches: the losses must agree.
    add_comparison(rows, std::string(seq_model_name(model)) + "_step", "ms/step", 1e3, tg.get(), lt.get(), 3, o,
                   target);
}

void chain_workload(std::vector<Row>& rows, const std::string& name, std::size_t n, bool grad, const Options& o,
                    double target) {
    constexpr std::size_t length = 1000;
    auto tg = tg::make_chain(n, n, grad, length);
    auto lt = o.libtorch ? lt::make_chain(n, n, grad, length) : nullptr;
    add_comparison(rows, name, grad ? "us/op fwd+bwd" : "us/op fwd", 1e6 / double(length), tg.get(), lt.get(), 2, o,
                   target);
}

void linear_workload(std::vector<Row>& rows, const Options& o) {
    constexpr std::size_t batch = 256, in = 1024, out = 1024;
    const double layer_flops = 3 * 2.0 * batch * in * out;  // x W^T, g W, g^T x
    const double square_flops = 2.0 * 1024 * 1024 * 1024;
    auto tg = tg::make_linear(batch, in, out);
    auto lt = o.libtorch ? lt::make_linear(batch, in, out) : nullptr;
    auto shapes = make_sgemm_linear(batch, in, out);
    auto square = make_sgemm_square(1024);
    auto square_dnnl = make_dnnl_sgemm_square(1024);
    // All alternate, so that each fraction compares samples taken side by side.
    std::vector<Runner*> rs{tg.get(), square.get(), shapes.get(), square_dnnl.get()};
    if (lt) rs.push_back(lt.get());
    const Timing t = time_alternating(rs, 2, o);
    enum { TG, SQUARE, SHAPES, SQUARE_DNNL, LT };
    // The machine's best sgemm rate, round by round: the faster of OpenBLAS and oneDNN.
    auto best_square = [&](std::size_t r) { return std::min(t.samples[SQUARE][r], t.samples[SQUARE_DNNL][r]); };

    auto rate = [&](std::size_t i, double flops) {
        std::vector<double> g;
        for (double s : t.samples[i]) g.push_back(flops / s / 1e9);
        return summarize(g);
    };
    // Rate of runner i over the square sgemm's rate, round by round.
    auto fraction = [&](std::size_t i, double flops) {
        std::vector<double> f;
        for (std::size_t r = 0; r < t.samples[i].size(); ++r)
            f.push_back((flops / t.samples[i][r]) / (square_flops / best_square(r)));
        return summarize(f).median;
    };

    Row time_row{"linear_1024", "ms fwd+bwd"};
    time_row.tapegrad = scaled(summarize(t.samples[TG]), 1e3);
    if (lt) {
        time_row.libtorch = scaled(summarize(t.samples[LT]), 1e3);
        time_row.compare = paired_ratio(t.samples[TG], t.samples[LT]).median;
        time_row.note = agreement(t.probes[TG], t.probes[LT]);
    }
    rows.push_back(time_row);

    std::vector<double> best;
    for (std::size_t r = 0; r < t.samples[SQUARE].size(); ++r) best.push_back(square_flops / best_square(r) / 1e9);
    const Stats square_rate = summarize(best);
    Row rate_row{"linear_1024_rate", "GFLOP/s"};
    rate_row.tapegrad = rate(TG, layer_flops);
    if (lt) rate_row.libtorch = rate(LT, layer_flops);
    rate_row.compare = fraction(TG, layer_flops);
    rate_row.compare_kind = "value";
    rate_row.target = ">= 0.90";
    rate_row.met = *rate_row.compare >= 0.90;
    rate_row.note = "compare = tapegrad's rate / best sgemm 1024^3 rate (" + fmt_value(square_rate.median) +
                    " GFLOP/s, same run)" + (lt ? "; libtorch's: " + fmt_value(fraction(LT, layer_flops)) : "");
    rows.push_back(rate_row);

    Row square_row{"sgemm_1024", "GFLOP/s"};
    square_row.tapegrad = rate(SQUARE, square_flops);
    square_row.note = "reference: cblas_sgemm 1024x1024x1024 on OpenBLAS, alternated with the rows above";
    rows.push_back(square_row);
    Row dnnl_row{"sgemm_1024_dnnl", "GFLOP/s"};
    dnnl_row.tapegrad = rate(SQUARE_DNNL, square_flops);
    dnnl_row.note = "reference: dnnl_sgemm 1024x1024x1024 on oneDNN; the faster of the two is the best rate";
    rows.push_back(dnnl_row);
    Row shapes_row{"sgemm_linear_shapes", "GFLOP/s"};
    shapes_row.tapegrad = rate(SHAPES, layer_flops);
    shapes_row.compare = fraction(SHAPES, layer_flops);
    shapes_row.compare_kind = "value";
    shapes_row.note = "reference: the layer's three products on OpenBLAS directly; compare = / best sgemm 1024^3";
    rows.push_back(shapes_row);
    std::fprintf(stderr, "  linear_1024 done\n");
}

struct EpochSamples {
    std::vector<double> train, load, process, rss, accuracy, loss;
};

bool run_epoch_child(const std::string& program, Model model, const Options& o, EpochSamples& out) {
    std::vector<std::string> args{"--model", model_name(model), "--threads", std::to_string(o.threads)};
    if (o.epoch_limit > 0) args.insert(args.end(), {"--limit", std::to_string(o.epoch_limit)});
    const ChildRun c = run_child(program, args);
    if (c.exit_code != 0) {
        std::fprintf(stderr, "  %s failed (exit %d)\n", program.c_str(), c.exit_code);
        return false;
    }
    out.train.push_back(field(c.output, "train_seconds"));
    out.load.push_back(field(c.output, "load_seconds"));
    out.accuracy.push_back(field(c.output, "accuracy"));
    out.loss.push_back(field(c.output, "final_loss"));
    out.process.push_back(c.wall_seconds);
    const double own = field(c.output, "peak_rss_kib");  // VmHWM: see epoch_main.cpp
    out.rss.push_back(own > 0 ? own / 1024.0 : c.peak_rss_mib);
    return true;
}

void epoch_workload(std::vector<Row>& rows, Model model, const Options& o, double step_target) {
    const std::string dir = own_directory();
    const std::string tg_prog = dir + "/tapegrad_bench_epoch", lt_prog = dir + "/libtorch_bench_epoch";
    EpochSamples tg, lt;
    bool tg_ok = true, lt_ok = o.libtorch;
    for (int r = 0; r < o.epoch_runs; ++r) {  // alternate, starting with a different side each run
        for (int k = 0; k < 2; ++k) {
            const bool tg_turn = (k == 0) == (r % 2 == 0);
            if (tg_turn && tg_ok) tg_ok = run_epoch_child(tg_prog, model, o, tg);
            if (!tg_turn && lt_ok) lt_ok = run_epoch_child(lt_prog, model, o, lt);
        }
    }
    const std::string m = model_name(model);
    const bool both = tg_ok && lt_ok && !tg.train.empty() && !lt.train.empty();
    auto add = [&](const std::string& name, const std::string& unit, const std::vector<double>& a,
                   const std::vector<double>& b, double target, const std::string& kind) {
        Row row{m + name, unit};
        if (tg_ok && !a.empty()) row.tapegrad = summarize(a);
        if (lt_ok && !b.empty()) row.libtorch = summarize(b);
        if (both) {
            if (kind == "diff") {
                row.compare = row.tapegrad->median - row.libtorch->median;
                row.compare_kind = "diff";
            } else {
                row.compare = paired_ratio(a, b).median;
            }
        }
        if (target > 0) {
            char buf[32];
            std::snprintf(buf, sizeof buf, kind == "diff" ? ">= -%.0f" : "<= %.2f", target);
            row.target = buf;
            if (row.compare) row.met = kind == "diff" ? *row.compare >= -target : *row.compare <= target;
        }
        rows.push_back(row);
        return &rows.back();
    };
    const std::string images = o.epoch_limit > 0 ? std::to_string(o.epoch_limit) + " images" : "60000 images";
    add("_epoch_train", "s", tg.train, lt.train, step_target, "ratio")->note =
        images + ", data conversion included; no target of its own (the step's)";
    add("_epoch_load", "s", tg.load, lt.load, 0, "ratio")->note =
        "reading the gzip'd IDX files (same reader both sides) + libtorch's float tensors";
    add("_epoch_process", "s", tg.process, lt.process, model == Model::mlp ? 0.4 : 0, "ratio")->note =
        "whole process: start, load data, train, test";
    add("_epoch_peak_rss", "MiB", tg.rss, lt.rss, model == Model::mlp ? 0.2 : 0, "ratio")->note =
        "peak resident memory (VmHWM) of the epoch process";
    Row* acc = add("_epoch_accuracy", "%", tg.accuracy, lt.accuracy, 1, "diff");
    acc->note = "test accuracy after one epoch; compare = tapegrad - libtorch (points)";
    if (acc->compare) acc->met = std::fabs(*acc->compare) <= 1;
    std::fprintf(stderr, "  %s_epoch done\n", m.c_str());
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
    using namespace bench;
    try {
        const Options o = parse(argc, argv);
        if (o.threads > 1 && have_libtorch && !std::getenv("OMP_WAIT_POLICY")) {
            // libtorch's OpenMP workers spin after every parallel loop, and so do OpenBLAS's
            // threads after every product: in one process on 2 cores they steal each other's
            // cores (a libtorch MLP step measured 76 ms instead of 1). Passive waiting is read when
            // libgomp loads, so the program starts itself again with it.
            setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
            std::fprintf(stderr, "note: restarting with OMP_WAIT_POLICY=PASSIVE for --threads %d\n", o.threads);
            execv("/proc/self/exe", argv);
            std::fprintf(stderr, "note: could not restart; two-thread libtorch timings will include spinning\n");
        }
        auto wanted = [&](const std::string& w) { return o.only.empty() || o.only.count(w) > 0; };
        tg::set_threads(o.threads);
        lt::set_threads(o.threads);
        if (!have_libtorch)
            std::fprintf(stderr, "note: libtorch was not found when this was built; timing tapegrad alone\n");

        RunInfo info;
        info.date = utc_now();
        info.threads = o.threads;
        info.host = cpu_model();
        info.load = load_average();
        info.libtorch = o.libtorch;
        info.versions = lt::version() + "; " + openblas_info();
        info.build = tg::build_info();
        if (const char* w = std::getenv("OMP_WAIT_POLICY")) info.versions += std::string("; OMP_WAIT_POLICY=") + w;

        const ImageSet train = load_images(true, 6000);
        info.real_data = train.real;
        std::vector<Row> rows;
        std::fprintf(stderr, "running (%d thread%s, %d rounds)...\n", o.threads, o.threads == 1 ? "" : "s", o.rounds);
        if (wanted("mlp_step")) step_workload(rows, Model::mlp, train, o, 0.6);
        if (wanted("cnn_step")) step_workload(rows, Model::cnn, train, o, 0.4);
        if (wanted("chain_tiny")) chain_workload(rows, "chain_tiny", 1, true, o, 0.03);
        if (wanted("chain_tiny_nograd")) chain_workload(rows, "chain_tiny_nograd", 1, false, o, 0);
        if (wanted("chain_100")) chain_workload(rows, "chain_100", 100, true, o, 0.35);
        if (wanted("linear_1024")) linear_workload(rows, o);
        if (wanted("lstm_step")) seq_workload(rows, SeqModel::lstm, o, 0.7);
        if (wanted("gpt_step")) seq_workload(rows, SeqModel::gpt, o, 0.7);
        if (o.epoch_runs > 0 && wanted("mlp_epoch")) epoch_workload(rows, Model::mlp, o, 0);
        if (o.epoch_runs > 0 && wanted("cnn_epoch")) epoch_workload(rows, Model::cnn, o, 0);

        std::printf("%s", format_table(info, rows, false).c_str());
        if (!o.csv.empty()) write_csv(o.csv, info, rows);
        if (!o.json.empty()) write_json(o.json, info, rows);
        if (!o.markdown.empty()) {
            std::ofstream f(o.markdown);
            f << format_table(info, rows, true);
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tapegrad_bench: %s\n", e.what());
        return 1;
    }
}
