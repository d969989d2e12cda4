// Optimizer state: entry names, bit-exact resume through state_dict, and rejected state dicts.
#include "test_optim_common.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>

#include <stdlib.h>

#include <tapegrad/io/npz.hpp>

using namespace tgtest;

namespace {

bool bit_equal(const tg::Tensor<double>& a, const tg::Tensor<double>& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

std::vector<std::string> names(const opt::StateDict<double>& state) {
    std::vector<std::string> out;
    for (const auto& [name, value] : state) out.push_back(name);
    return out;
}

/// A fresh directory under the system's temporary directory, removed at the end of the test.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "tapegrad-optim-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

/// How the state gets from the first half of a run to the second.
enum class Through { Memory, File };

/// Training 10 steps equals training 5, checkpointing, restoring into a new optimizer over new
/// parameters, and training 5 more — bit for bit. In memory: state_dict / load_state_dict, the
/// parameter values copied. Through files: optim::save / optim::load, and the parameters through
/// io::save_npz / load_npz (as a model checkpoint). `make(params)` builds the optimizer;
/// `step(opt, net)` does one step.
template <class Make, class Step>
void check_resume(Make make, Step step, Through through) {
    TestScoreNetwork straight(3), first_half(3), resumed(11);
    auto a = make(straight.params());
    for (int t = 0; t < 10; ++t) step(a, straight);

    auto b = make(first_half.params());
    for (int t = 0; t < 5; ++t) step(b, first_half);
    auto c = make(resumed.params());
    if (through == Through::Memory) {
        resumed.W1.set_value(first_half.W1.value());
        resumed.W2.set_value(first_half.W2.value());
        c.load_state_dict(b.state_dict());
    } else {
        TempDir dir;
        tg::io::save_npz<double>(dir.file("model.npz"), {{"W1", first_half.W1.value()}, {"W2", first_half.W2.value()}});
        opt::save(b, dir.file("optimizer.npz"));
        const auto model = tg::io::load_npz<double>(dir.file("model.npz"));
        REQUIRE(model.size() == 2);
        resumed.W1.set_value(model[0].second);
        resumed.W2.set_value(model[1].second);
        opt::load(c, dir.file("optimizer.npz"));
    }
    for (int t = 0; t < 5; ++t) step(c, resumed);

    CHECK(bit_equal(straight.W1.value(), resumed.W1.value()));
    CHECK(bit_equal(straight.W2.value(), resumed.W2.value()));
    CHECK(!bit_equal(straight.W1.value(), first_half.W1.value()));  // the second half did something
    // Taking the state again gives the same arrays.
    const auto again = c.state_dict(), reference = a.state_dict();
    REQUIRE(names(again) == names(reference));
    for (std::size_t i = 0; i < again.size(); ++i) CHECK(bit_equal(again[i].second, reference[i].second));
}

auto first_order_step = [](auto& optimizer, TestScoreNetwork& net) {
    optimizer.zero_grad();
    net.cost().backward();
    optimizer.step();
};

auto closure_step = [](auto& optimizer, TestScoreNetwork& net) { optimizer.step(net.closure(optimizer)); };

}  // namespace

TEST_CASE("state entries are named as in PyTorch") {
    V a = param({1.0, 2.0}), b = param({3.0});
    auto train = [&](auto& optimizer, int steps) {
        for (int t = 0; t < steps; ++t) {
            optimizer.zero_grad();
            tg::sum(a * a + b * b).backward();
            optimizer.step();
        }
    };
    opt::SGD<double> plain({a, b}, opt::SGDOptions(0.1));
    train(plain, 1);
    CHECK(names(plain.state_dict()) == std::vector<std::string>{"param_groups.0.lr"});
    opt::SGD<double> sgd({a, b}, opt::SGDOptions(0.1).momentum(0.9));
    CHECK(names(sgd.state_dict()) == std::vector<std::string>{"param_groups.0.lr"});  // no state before a step
    train(sgd, 2);
    CHECK(names(sgd.state_dict()) ==
          std::vector<std::string>{"state.0.momentum_buffer", "state.1.momentum_buffer", "param_groups.0.lr"});
    opt::Adam<double> adam({a}, opt::AdamOptions().amsgrad(true));
    adam.add_param_group({b}, opt::AdamOptions(0.5));
    train(adam, 3);
    const auto state = adam.state_dict();
    CHECK(names(state) == std::vector<std::string>{"state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq",
                                                   "state.0.max_exp_avg_sq", "state.1.step", "state.1.exp_avg",
                                                   "state.1.exp_avg_sq", "param_groups.0.lr", "param_groups.1.lr"});
    CHECK(state[0].second.dimension() == 0);
    CHECK(state[0].second() == 3.0);
    CHECK(state[1].second.shape() == a.shape());
    CHECK(state[8].second() == 0.5);
    opt::RMSprop<double> rms({a}, opt::RMSpropOptions().momentum(0.9).centered(true));
    train(rms, 1);
    CHECK(names(rms.state_dict()) == std::vector<std::string>{"state.0.step", "state.0.square_avg",
                                                              "state.0.momentum_buffer", "state.0.grad_avg",
                                                              "param_groups.0.lr"});
    opt::Adagrad<double> ada({a});
    train(ada, 1);
    CHECK(names(ada.state_dict()) == std::vector<std::string>{"state.0.step", "state.0.sum", "param_groups.0.lr"});
}

TEST_CASE("resume: 10 steps equal 5 steps, a checkpoint, and 5 more (bit-exact)") {
    for (Through through : {Through::Memory, Through::File}) {
        CAPTURE(through == Through::File ? "through files" : "in memory");
        check_resume(
            [](std::vector<V> p) {
                return opt::SGD<double>(p, opt::SGDOptions(0.5).momentum(0.9).nesterov(true).weight_decay(1e-3));
            },
            first_order_step, through);
        check_resume([](std::vector<V> p) { return opt::Adam<double>(p, opt::AdamOptions(0.05).amsgrad(true)); },
                     first_order_step, through);
        check_resume([](std::vector<V> p) { return opt::AdamW<double>(p, opt::AdamWOptions(0.05)); }, first_order_step,
                     through);
        check_resume(
            [](std::vector<V> p) {
                return opt::RMSprop<double>(p, opt::RMSpropOptions(0.01).momentum(0.5).centered(true));
            },
            first_order_step, through);
        check_resume([](std::vector<V> p) { return opt::Adagrad<double>(p, opt::AdagradOptions(0.1).lr_decay(0.01)); },
                     first_order_step, through);
        // BFGS and LBFGS: one iteration per step(closure).
        check_resume(
            [](std::vector<V> p) {
                return opt::LBFGS<double>(
                    p, opt::LBFGSOptions().max_iter(1).history_size(3).line_search(opt::LineSearch::StrongWolfe));
            },
            closure_step, through);
        check_resume([](std::vector<V> p) { return opt::BFGS<double>(p, opt::BFGSOptions().max_iter(1)); },
                     closure_step, through);
    }
}

TEST_CASE("load from a missing or corrupt file throws FileError and changes nothing") {
    TempDir dir;
    V a = param({1.0, 2.0});
    opt::SGD<double> sgd({a}, opt::SGDOptions(0.1).momentum(0.9));
    tg::sum(a * a).backward();
    sgd.step();
    const auto before = sgd.state_dict();
    CHECK_THROWS_AS(opt::load(sgd, dir.file("missing.npz")), tg::FileError);
    { std::ofstream(dir.file("garbage.npz")) << "not a zip archive"; }
    CHECK_THROWS_AS(opt::load(sgd, dir.file("garbage.npz")), tg::FileError);
    // A valid file with state for another optimizer: Error, naming the entry.
    opt::Adam<double> adam({a});
    adam.step();
    opt::save(adam, dir.file("adam.npz"));
    CHECK(error_of([&] { opt::load(sgd, dir.file("adam.npz")); }) ==
          "SGD: load_state_dict: unexpected entry 'state.0.step' (SGD keeps 'momentum_buffer' per parameter)");
    const auto after = sgd.state_dict();
    REQUIRE(names(after) == names(before));
    for (std::size_t i = 0; i < before.size(); ++i) CHECK(bit_equal(after[i].second, before[i].second));
    // Saving into a directory that does not exist fails without creating anything.
    CHECK_THROWS_AS(opt::save(sgd, dir.file("no/such/dir/sgd.npz")), tg::FileError);
}

TEST_CASE("resume: the learning rate set by a schedule is part of the state") {
    TestScoreNetwork a(5), b(5);
    opt::SGD<double> sgd_a(a.params(), opt::SGDOptions(0.5).momentum(0.9));
    opt::StepLR sched_a(sgd_a, 2, 0.5);
    for (int t = 0; t < 5; ++t) {
        first_order_step(sgd_a, a);
        sched_a.step();
    }
    opt::SGD<double> sgd_b(b.params(), opt::SGDOptions(0.5).momentum(0.9));
    sgd_b.load_state_dict(sgd_a.state_dict());
    CHECK(sgd_b.lr() == sgd_a.lr());
    CHECK(sgd_b.lr() == 0.125);  // 0.5 * 0.5^(5 / 2)
    // A schedule made for the resumed run starts from the original base lr at the right epoch.
    opt::SGD<double> sgd_c(b.params(), opt::SGDOptions(0.5));
    opt::StepLR sched_c(sgd_c, 2, 0.5);
    sched_c.set_epoch(5);
    CHECK(sgd_c.lr() == sgd_a.lr());
}

TEST_CASE("a float optimizer keeps its double lr through a state round trip") {
    tg::Variable<float> a(tg::Tensor<float>(xt::xarray<float>({1.0f})), true);
    opt::SGD<float> sgd({a}, opt::SGDOptions(0.1).momentum(0.9));
    tg::sum(a * a).backward();
    sgd.step();
    const auto state = sgd.state_dict();
    opt::SGD<float> other({a}, opt::SGDOptions(0.1).momentum(0.9));
    other.load_state_dict(state);
    CHECK(other.lr() == 0.1);
    opt::SGD<float> third({a}, opt::SGDOptions(0.3));
    third.load_state_dict(state);
    CHECK(third.lr() == double(0.1f));
}

TEST_CASE("load_state_dict rejects malformed state and changes nothing") {
    V a = param({1.0, 2.0}), b = param({3.0});
    opt::Adam<double> adam({a, b}, opt::AdamOptions(0.1));
    tg::sum(a * a + b * b).backward();
    adam.step();
    const auto good = adam.state_dict();
    auto with = [&](const std::string& name, tg::Tensor<double> value) {
        auto s = good;
        s.emplace_back(name, std::move(value));
        return s;
    };
    auto replaced = [&](const std::string& name, tg::Tensor<double> value) {
        auto s = good;
        for (auto& [n, v] : s)
            if (n == name) v = value;
        return s;
    };
    const tg::Tensor<double> scalar = xt::xarray<double>(1.0);
    const tg::Tensor<double> three = xt::xarray<double>({1.0, 2.0, 3.0});
    auto load = [&](const opt::StateDict<double>& s) { return error_of([&] { adam.load_state_dict(s); }); };

    CHECK(load(with("state.0.momentum_buffer", three)) ==
          "Adam: load_state_dict: unexpected entry 'state.0.momentum_buffer' (Adam keeps 'step', 'exp_avg', "
          "'exp_avg_sq', 'max_exp_avg_sq' per parameter)");
    CHECK(load(with("weights", scalar)) ==
          "Adam: load_state_dict: unexpected entry 'weights' (expected 'state.<i>.<slot>' or "
          "'param_groups.<g>.lr')");
    CHECK(load(with("state.01.step", scalar)) ==
          "Adam: load_state_dict: unexpected entry 'state.01.step' (expected 'state.<i>.<slot>' or "
          "'param_groups.<g>.lr')");
    CHECK(load(with("state.-1.step", scalar)) ==
          "Adam: load_state_dict: unexpected entry 'state.-1.step' (expected 'state.<i>.<slot>' or "
          "'param_groups.<g>.lr')");
    CHECK(load(with("state.2.step", scalar)) ==
          "Adam: load_state_dict: entry 'state.2.step' names parameter 2, but there are 2");
    CHECK(load(with("param_groups.1.lr", scalar)) ==
          "Adam: load_state_dict: entry 'param_groups.1.lr' names group 1, but there is 1");
    CHECK(load(with("state.0.step", scalar)) == "Adam: load_state_dict: entry 'state.0.step' appears twice");
    CHECK(load(replaced("state.0.exp_avg", three)) ==
          "Adam: load_state_dict: entry 'state.0.exp_avg' has shape (3,), expected (2,)");
    CHECK(load(replaced("state.1.step", three)) ==
          "Adam: load_state_dict: entry 'state.1.step' has shape (3,), expected ()");
    CHECK(load(replaced("param_groups.0.lr", three)) ==
          "Adam: load_state_dict: entry 'param_groups.0.lr' must hold one value, got shape (3,)");
    CHECK(load(replaced("param_groups.0.lr", xt::xarray<double>(-1.0))) ==
          "Adam: load_state_dict: entry 'param_groups.0.lr' holds lr -1, must be >= 0");
    // Nothing changed by the failed loads.
    const auto after = adam.state_dict();
    REQUIRE(names(after) == names(good));
    for (std::size_t i = 0; i < good.size(); ++i) CHECK(bit_equal(after[i].second, good[i].second));
    // An empty state dict is fine: it forgets the state (as a fresh optimizer).
    adam.load_state_dict({});
    CHECK(names(adam.state_dict()) == std::vector<std::string>{"param_groups.0.lr"});
}

TEST_CASE("LBFGS and BFGS load_state_dict reject malformed state") {
    Rosenbrock r;
    opt::LBFGS<double> lbfgs(r.params(), opt::LBFGSOptions().max_iter(4).max_eval(100).history_size(5).line_search(
                                             opt::LineSearch::StrongWolfe));
    lbfgs.step(r.closure(lbfgs));
    const auto good = lbfgs.state_dict();
    CHECK(names(good) == std::vector<std::string>{"state.0.n_iter", "state.0.func_evals", "state.0.d", "state.0.t",
                                                  "state.0.prev_flat_grad", "state.0.prev_loss", "state.0.old_dirs.0",
                                                  "state.0.old_stps.0", "state.0.old_dirs.1", "state.0.old_stps.1",
                                                  "state.0.old_dirs.2", "state.0.old_stps.2", "state.0.ro",
                                                  "state.0.H_diag", "param_groups.0.lr"});
    auto without = [&](const std::string& name) {
        opt::StateDict<double> s;
        for (const auto& e : good)
            if (e.first != name) s.push_back(e);
        return s;
    };
    auto replaced = [&](const std::string& name, tg::Tensor<double> value) {
        auto s = good;
        for (auto& [n, v] : s)
            if (n == name) v = value;
        return s;
    };
    auto load = [&](const opt::StateDict<double>& s) { return error_of([&] { lbfgs.load_state_dict(s); }); };
    const tg::Tensor<double> two = xt::xarray<double>({1.0, 2.0});
    CHECK(load(without("state.0.d")) == "LBFGS: load_state_dict: entry 'state.0.d' is missing");
    CHECK(load(without("state.0.n_iter")) == "LBFGS: load_state_dict: entry 'state.0.n_iter' is missing");
    CHECK(load(without("state.0.old_stps.1")) == "LBFGS: load_state_dict: entry 'state.0.old_stps.1' is missing");
    CHECK(load(without("state.0.ro")) == "LBFGS: load_state_dict: entry 'state.0.ro' is missing");
    CHECK(load(replaced("state.0.n_iter", xt::xarray<double>(2.5))) ==
          "LBFGS: load_state_dict: entry 'state.0.n_iter' must be a count, got 2.5");
    CHECK(load(replaced("state.0.d", xt::xarray<double>({1.0, 2.0, 3.0}))) ==
          "LBFGS: load_state_dict: entry 'state.0.d' has shape (3,), expected (2,)");
    CHECK(load(replaced("state.0.ro", two)) ==
          "LBFGS: load_state_dict: entry 'state.0.old_dirs.2' is beyond the 2 pairs of 'state.0.ro'");
    CHECK(load(replaced("state.0.ro", xt::xarray<double>({1., 1., 1., 1., 1., 1.}))) ==
          "LBFGS: load_state_dict: 6 stored pairs exceed history_size 5");
    CHECK(load(replaced("state.0.n_iter", xt::xarray<double>(0.0))) ==
          "LBFGS: load_state_dict: state.0.n_iter is 0 but there are entries of a started run");
    auto extra = good;
    extra.emplace_back("state.0.H", two);
    CHECK(load(extra) == "LBFGS: load_state_dict: unexpected entry 'state.0.H' for LBFGS");
    auto twice = good;
    twice.emplace_back("state.0.t", xt::xarray<double>(1.0));
    CHECK(load(twice) == "LBFGS: load_state_dict: entry 'state.0.t' appears twice");
    CHECK(load(replaced("param_groups.0.lr", xt::xarray<double>(0.0))) ==
          "LBFGS: load_state_dict: entry 'param_groups.0.lr' holds lr 0, must be > 0");
    // Nothing changed by the failed loads.
    const auto after = lbfgs.state_dict();
    REQUIRE(names(after) == names(good));
    for (std::size_t i = 0; i < good.size(); ++i) CHECK(bit_equal(after[i].second, good[i].second));

    Rosenbrock r2;
    opt::BFGS<double> bfgs(r2.params(), opt::BFGSOptions().max_iter(3).max_eval(100));
    bfgs.step(r2.closure(bfgs));
    auto bstate = bfgs.state_dict();
    CHECK(names(bstate) == std::vector<std::string>{"state.0.n_iter", "state.0.func_evals", "state.0.d", "state.0.t",
                                                    "state.0.prev_flat_grad", "state.0.prev_loss", "state.0.H",
                                                    "param_groups.0.lr"});
    for (auto& [n, v] : bstate)
        if (n == "state.0.H") v = two;
    CHECK(error_of([&] { bfgs.load_state_dict(bstate); }) ==
          "BFGS: load_state_dict: entry 'state.0.H' has shape (2,), expected (2,2)");
}
