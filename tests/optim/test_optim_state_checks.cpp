// Optimizer state that no longer fits its parameters (a value of another shape) or holds impossible values (a step of
// -3, NaN moments).
#include "test_optim_common.hpp"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>

#include <stdlib.h>

#include <tapegrad/io/npz.hpp>

using namespace tgtest;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

/// One step of a first-order optimizer on sum(w^2) over two parameters.
template <class Opt>
void first_order_step(Opt& o, const V& a, const V& b) {
    o.zero_grad();
    tg::sum(a * a).backward();
    tg::sum(b * b).backward();
    o.step();
}

/// After a step, parameter a gets a value of another shape (larger, then smaller); the next
/// step must refuse, naming the parameter, and change nothing.
template <class Make>
void check_reshape_refused(Make make, const std::string& name, const std::string& slot) {
    CAPTURE(name);
    for (std::size_t n : {24u, 200000u, 1u}) {
        CAPTURE(n);
        V a = param({1.0, 2.0}), b = param({3.0});
        auto o = make(std::vector<V>{a, b});
        first_order_step(o, a, b);
        a.set_value(tg::Tensor<double>(tg::Shape{n}, 0.5));
        b.set_value(tg::Tensor<double>{9.0});
        const tg::Tensor<double> a_before = a.value(), b_before = b.value();
        const std::string e = error_of([&] { first_order_step(o, a, b); });
        CHECK(e == name + ": step: parameter 0 now has shape (" + std::to_string(n) + ",), but its state '" + slot +
                       "' has shape (2,) (its value was replaced by one of another shape after a step); make a new "
                       "optimizer for it, or load_state_dict a state of the new shape");
        CHECK(a.value() == a_before);
        CHECK(b.value() == b_before);  // nothing stepped, not even the parameters that still fit
    }
}

/// The optimizer's state with one entry replaced (it must exist).
opt::StateDict<double> replaced(opt::StateDict<double> s, const std::string& name, tg::Tensor<double> value) {
    bool found = false;
    for (auto& [n, v] : s)
        if (n == name) {
            v = value;
            found = true;
        }
    REQUIRE_MESSAGE(found, name);
    return s;
}

bool same_state(const opt::StateDict<double>& a, const opt::StateDict<double>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].first != b[i].first || a[i].second.shape() != b[i].second.shape() ||
            std::memcmp(a[i].second.data(), b[i].second.data(), a[i].second.size() * sizeof(double)) != 0)
            return false;
    return true;
}

tg::Tensor<double> scalar(double v) { return xt::xarray<double>(v); }

}  // namespace

TEST_CASE("a parameter given another shape after a step is refused by every first-order optimizer") {
    check_reshape_refused([](std::vector<V> p) { return opt::SGD<double>(p, opt::SGDOptions(0.1).momentum(0.9)); },
                          "SGD", "momentum_buffer");
    check_reshape_refused([](std::vector<V> p) { return opt::Adam<double>(p); }, "Adam", "exp_avg");
    check_reshape_refused([](std::vector<V> p) { return opt::AdamW<double>(p); }, "AdamW", "exp_avg");
    check_reshape_refused([](std::vector<V> p) { return opt::RMSprop<double>(p, opt::RMSpropOptions(0.01)); },
                          "RMSprop", "square_avg");
    check_reshape_refused([](std::vector<V> p) { return opt::Adagrad<double>(p, opt::AdagradOptions(0.1)); }, "Adagrad",
                          "sum");
    // Without state (plain SGD) a new shape is fine: there is nothing to overrun.
    V a = param({1.0, 2.0});
    opt::SGD<double> sgd({a}, opt::SGDOptions(0.5));
    a.set_value(tg::Tensor<double>{4.0, 4.0, 4.0});
    tg::sum(a * a).backward();
    sgd.step();
    CHECK(a.value() == tg::Tensor<double>{0.0, 0.0, 0.0});
}

TEST_CASE("a gradient of another shape than its parameter is refused") {
    V a = param({1.0, 2.0});
    opt::Adam<double> adam({a});
    tg::sum(a * a).backward();
    a.mutable_value() = tg::Tensor<double>{1.0, 2.0, 3.0};  // the value changed under the gradient
    CHECK(error_of([&] { adam.step(); }) == "Adam: step: parameter 0 has shape (3,) but its gradient has shape (2,)");
}

TEST_CASE("BFGS and LBFGS refuse a parameter whose shape changed since they were made") {
    for (int which = 0; which < 2; ++which) {
        CAPTURE(which);
        Rosenbrock r;
        std::function<double(std::function<double()>)> step;
        opt::LBFGS<double> lbfgs(r.params(), opt::LBFGSOptions().max_iter(3));
        opt::BFGS<double> bfgs(r.params(), opt::BFGSOptions().max_iter(3));
        const std::string name = which == 0 ? "LBFGS" : "BFGS";
        auto run = [&] {
            if (which == 0) return lbfgs.step(r.closure(lbfgs));
            return bfgs.step(r.closure(bfgs));
        };
        run();
        r.x.set_value(tg::Tensor<double>{0.5, 0.5, 0.5});
        CHECK(error_of(run) ==
              name +
                  ": step: parameter 0 now has shape (3,), but it had shape () when the optimizer was made (its "
                  "value was replaced by one of another shape); the flattened state no longer fits: make a new "
                  "optimizer");
    }
    // A closure that gives a parameter another shape mid-step is caught after that evaluation.
    V w = param({1.0, 2.0});
    opt::LBFGS<double> lbfgs({w}, opt::LBFGSOptions().max_iter(5).line_search(opt::LineSearch::StrongWolfe));
    int calls = 0;
    auto closure = [&] {
        lbfgs.zero_grad();
        if (++calls == 2) w.set_value(tg::Tensor<double>(tg::Shape{5}, 1.0));
        V f = tg::sum(w * w);
        f.backward();
        return f.item();
    };
    CHECK(error_of([&] { lbfgs.step(closure); }).find("LBFGS: step: parameter 0 now has shape (5,)") == 0);
}

TEST_CASE("Adam: a step count of -3, NaN or 2.5, and impossible moments, are refused on load") {
    V a = param({1.0, 2.0}), b = param({3.0});
    opt::Adam<double> adam({a, b}, opt::AdamOptions(0.1).amsgrad(true));
    first_order_step(adam, a, b);
    const auto good = adam.state_dict();
    auto load = [&](const opt::StateDict<double>& s) { return error_of([&] { adam.load_state_dict(s); }); };
    CHECK(load(replaced(good, "state.0.step", scalar(-3))) ==
          "Adam: load_state_dict: entry 'state.0.step' holds -3; expected a count (a whole number >= 0)");
    CHECK(load(replaced(good, "state.0.step", scalar(kNaN))) ==
          "Adam: load_state_dict: entry 'state.0.step' holds nan; expected a count (a whole number >= 0)");
    CHECK(load(replaced(good, "state.1.step", scalar(2.5))) ==
          "Adam: load_state_dict: entry 'state.1.step' holds 2.5; expected a count (a whole number >= 0)");
    CHECK(load(replaced(good, "state.0.step", scalar(kInf))) ==
          "Adam: load_state_dict: entry 'state.0.step' holds inf; expected a count (a whole number >= 0)");
    CHECK(load(replaced(good, "state.0.exp_avg", tg::Tensor<double>{0.1, kNaN})) ==
          "Adam: load_state_dict: entry 'state.0.exp_avg' element 1 is nan; expected finite values");
    CHECK(load(replaced(good, "state.0.exp_avg_sq", tg::Tensor<double>{-0.5, 1.0})) ==
          "Adam: load_state_dict: entry 'state.0.exp_avg_sq' element 0 is -0.5; expected finite values >= 0");
    CHECK(load(replaced(good, "state.1.max_exp_avg_sq", tg::Tensor<double>{kInf})) ==
          "Adam: load_state_dict: entry 'state.1.max_exp_avg_sq' holds inf; expected finite values >= 0");
    CHECK(load(replaced(good, "param_groups.0.lr", scalar(kInf))) ==
          "Adam: load_state_dict: entry 'param_groups.0.lr' holds lr inf, must be finite");
    CHECK(same_state(adam.state_dict(), good));  // nothing taken from the refused states

    // Through a file, as the issue found it: the parameters stay finite.
    std::string dir = (std::filesystem::temp_directory_path() / "tapegrad-optim-XXXXXX").string();
    REQUIRE(mkdtemp(dir.data()));
    const std::string path = dir + "/adam.npz";
    tg::io::save_npz(path, replaced(good, "state.0.step", scalar(-3)));
    CHECK(error_of([&] { opt::load(adam, path); }).find("entry 'state.0.step' holds -3") != std::string::npos);
    first_order_step(adam, a, b);
    CHECK(std::isfinite(a.value()(0)));
    CHECK(std::isfinite(b.value()(0)));
    std::filesystem::remove_all(dir);
}

TEST_CASE("SGD, RMSprop and Adagrad state values are checked on load") {
    V a = param({1.0, 2.0}), b = param({3.0});
    opt::SGD<double> sgd({a, b}, opt::SGDOptions(0.1).momentum(0.9));
    first_order_step(sgd, a, b);
    CHECK(error_of([&] {
              sgd.load_state_dict(replaced(sgd.state_dict(), "state.1.momentum_buffer", tg::Tensor<double>{-kInf}));
          }) == "SGD: load_state_dict: entry 'state.1.momentum_buffer' holds -inf; expected finite values");

    opt::RMSprop<double> rms({a, b}, opt::RMSpropOptions(0.01).momentum(0.5).centered(true));
    first_order_step(rms, a, b);
    const auto r = rms.state_dict();
    auto load_rms = [&](const std::string& n, tg::Tensor<double> v) {
        return error_of([&] { rms.load_state_dict(replaced(r, n, v)); });
    };
    CHECK(load_rms("state.0.step", scalar(-1)) ==
          "RMSprop: load_state_dict: entry 'state.0.step' holds -1; expected a count (a whole number >= 0)");
    CHECK(load_rms("state.0.square_avg", tg::Tensor<double>{1.0, -1e-3}) ==
          "RMSprop: load_state_dict: entry 'state.0.square_avg' element 1 is -0.001; expected finite values >= 0");
    CHECK(load_rms("state.1.momentum_buffer", tg::Tensor<double>{kNaN}) ==
          "RMSprop: load_state_dict: entry 'state.1.momentum_buffer' holds nan; expected finite values");
    CHECK(load_rms("state.1.grad_avg", tg::Tensor<double>{kInf}) ==
          "RMSprop: load_state_dict: entry 'state.1.grad_avg' holds inf; expected finite values");

    opt::Adagrad<double> ada({a, b}, opt::AdagradOptions(0.1));
    first_order_step(ada, a, b);
    CHECK(error_of([&] {
              ada.load_state_dict(replaced(ada.state_dict(), "state.0.sum", tg::Tensor<double>{-2, 1}));
          }) == "Adagrad: load_state_dict: entry 'state.0.sum' element 0 is -2; expected finite values >= 0");
    CHECK(error_of([&] { ada.load_state_dict(replaced(ada.state_dict(), "state.1.step", scalar(1e300))); }) ==
          "Adagrad: load_state_dict: entry 'state.1.step' holds 1e+300; expected a count (a whole number >= 0)");
}

TEST_CASE("LBFGS and BFGS state values are checked on load") {
    Rosenbrock r;
    opt::LBFGS<double> lbfgs(r.params(), opt::LBFGSOptions().max_iter(4).max_eval(100).history_size(5).line_search(
                                             opt::LineSearch::StrongWolfe));
    lbfgs.step(r.closure(lbfgs));
    const auto good = lbfgs.state_dict();
    auto load = [&](const std::string& n, tg::Tensor<double> v) {
        return error_of([&] { lbfgs.load_state_dict(replaced(good, n, v)); });
    };
    CHECK(load("state.0.t", scalar(kNaN)) ==
          "LBFGS: load_state_dict: entry 'state.0.t' holds nan; expected finite values >= 0");
    CHECK(load("state.0.prev_loss", scalar(kInf)) ==
          "LBFGS: load_state_dict: entry 'state.0.prev_loss' holds inf; expected finite values");
    CHECK(load("state.0.d", tg::Tensor<double>{1.0, kNaN}) ==
          "LBFGS: load_state_dict: entry 'state.0.d' element 1 is nan; expected finite values");
    CHECK(load("state.0.prev_flat_grad", tg::Tensor<double>{kInf, 1.0}) ==
          "LBFGS: load_state_dict: entry 'state.0.prev_flat_grad' element 0 is inf; expected finite values");
    CHECK(load("state.0.H_diag", scalar(-1)) ==
          "LBFGS: load_state_dict: entry 'state.0.H_diag' holds -1; expected finite values > 0");
    CHECK(load("state.0.ro", tg::Tensor<double>{1.0, 0.0, 1.0}) ==
          "LBFGS: load_state_dict: entry 'state.0.ro' element 1 is 0; expected finite values > 0");
    CHECK(load("state.0.old_dirs.1", tg::Tensor<double>{kNaN, 0.0}) ==
          "LBFGS: load_state_dict: entry 'state.0.old_dirs.1' element 0 is nan; expected finite values");
    CHECK(load("param_groups.0.lr", scalar(kInf)) ==
          "LBFGS: load_state_dict: entry 'param_groups.0.lr' holds lr inf, must be finite");
    CHECK(load("state.0.func_evals", scalar(-2)) ==
          "LBFGS: load_state_dict: entry 'state.0.func_evals' must be a count, got -2");
    CHECK(same_state(lbfgs.state_dict(), good));

    Rosenbrock r2;
    opt::BFGS<double> bfgs(r2.params(), opt::BFGSOptions().max_iter(3).max_eval(100));
    bfgs.step(r2.closure(bfgs));
    CHECK(error_of([&] {
              bfgs.load_state_dict(replaced(bfgs.state_dict(), "state.0.H", tg::Tensor<double>{{1, 0}, {0, kInf}}));
          }) == "BFGS: load_state_dict: entry 'state.0.H' element 3 is inf; expected finite values");
}
