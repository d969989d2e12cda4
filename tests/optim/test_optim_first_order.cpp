// SGD, Adam, AdamW, RMSprop, Adagrad: first steps by the formula, least squares, groups, skipping, closures.
#include "test_optim_common.hpp"

#include <array>

using namespace tgtest;

namespace {

using Steps = std::vector<std::array<double, 2>>;

/// Three steps on f(x) = 0.5 x0^2 + 2 x1^2 (gradient (x0, 4 x1)) from x = (1, -2).
template <class Opt, class Options>
Steps three_steps(const Options& options) {
    V x = param({1.0, -2.0});
    V c = tg::constant(xt::xarray<double>({0.5, 2.0}));
    Opt optimizer({x}, options);
    Steps out;
    for (int t = 0; t < 3; ++t) {
        optimizer.zero_grad();
        tg::sum(c * x * x).backward();
        optimizer.step();
        out.push_back({x.value()(0), x.value()(1)});
    }
    return out;
}

void check_steps(const Steps& got, const Steps& expected) {
    REQUIRE(got.size() == expected.size());
    for (std::size_t t = 0; t < got.size(); ++t)
        for (std::size_t i = 0; i < 2; ++i) {
            INFO("step " << t + 1 << ", element " << i << ": got " << got[t][i] << ", expected " << expected[t][i]);
            CHECK(std::abs(got[t][i] - expected[t][i]) <= 1e-14 * (1 + std::abs(expected[t][i])));
        }
}

}  // namespace

// The expected numbers apply each optimizer's documented update (torch.optim docs) by hand
// to g = (x0, 4 x1), in double; PyTorch 1.13.1 gives the same numbers to within 1.4e-16.
// For instance plain SGD with lr 0.1: x0 = 1 - 0.1 * 1 = 0.9, x1 = -2 - 0.1 * (-8) = -1.2;
// then 0.81, -0.72; then 0.729, -0.432.

TEST_CASE("SGD: first three steps match the update formula") {
    check_steps(three_steps<opt::SGD<double>>(opt::SGDOptions(0.1)), {{0.9, -1.2}, {0.81, -0.72}, {0.729, -0.432}});
    // b1 = g1; b = 0.9 b + 0.9 g; g includes 0.01 x.
    check_steps(
        three_steps<opt::SGD<double>>(opt::SGDOptions(0.1).momentum(0.9).dampening(0.1).weight_decay(0.01)),
        {{0.89900000000000002, -1.198}, {0.7263809, -0.04384179999999982}, {0.50499568619000001, 1.0107230856200002}});
    // Nesterov: step along g + 0.9 b.
    check_steps(three_steps<opt::SGD<double>>(opt::SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(0.01)),
                {{0.80810000000000004, -0.47619999999999996},
                 {0.5712156100000001, 0.53623677999999986},
                 {0.32185967344100008, 0.86701049931799989}});
}

TEST_CASE("Adam: first three steps match the update formula") {
    check_steps(three_steps<opt::Adam<double>>(opt::AdamOptions(0.1)), {{0.90000000099999999, -1.9000000001249999},
                                                                        {0.80041222971233816, -1.8001664858630053},
                                                                        {0.70158627450441502, -1.7006233916636408}});
    // With betas (0.5, 0.5) the second moment of x0 falls at step 2, so AMSGrad's maximum differs.
    check_steps(three_steps<opt::Adam<double>>(opt::AdamOptions(0.5).betas(0.5, 0.5).weight_decay(0.1)),
                {{0.50000000454545446, -1.5000000006097562},
                 {0.028595489100779525, -1.0049262298245734},
                 {-0.29730559741497853, -0.52356281016854833}});
    check_steps(three_steps<opt::Adam<double>>(opt::AdamOptions(0.5).betas(0.5, 0.5).weight_decay(0.1).amsgrad(true)),
                {{0.50000000454545446, -1.5000000006097562},
                 {0.091751716771371949, -1.0049262298245734},
                 {-0.1319094071796548, -0.59150873334675014}});
}

TEST_CASE("AdamW: first three steps match the update formula") {
    check_steps(three_steps<opt::AdamW<double>>(opt::AdamWOptions(0.1).weight_decay(0.1)),
                {{0.89000000099999999, -1.8800000001249999},
                 {0.78157185695416109, -1.7614089503325472},
                 {0.67510122318920074, -1.6443686831798794}});
    check_steps(three_steps<opt::AdamW<double>>(opt::AdamWOptions(0.5).betas(0.5, 0.5).weight_decay(0.1).amsgrad(true)),
                {{0.45000000499999987, -1.400000000625},
                 {0.039664131518088563, -0.84010205265953686},
                 {-0.15684383067539234, -0.41255390199578268}});
    CHECK(opt::AdamWOptions().weight_decay() == 1e-2);
    CHECK(opt::AdamOptions().weight_decay() == 0);
}

TEST_CASE("RMSprop: first three steps match the update formula") {
    check_steps(three_steps<opt::RMSprop<double>>(opt::RMSpropOptions(0.01)),
                {{0.90000000999999907, -1.90000000125},
                 {0.83291797526505928, -1.8309433272561533},
                 {0.77998228198235409, -1.7753494433525812}});
    check_steps(three_steps<opt::RMSprop<double>>(opt::RMSpropOptions(0.01).alpha(0.9).momentum(0.5)),
                {{0.96837722439831619, -1.9683772235233161},
                 {0.92997663844501499, -1.9297982486236005},
                 {0.89224648610888824, -1.8916319227757425}});
    check_steps(three_steps<opt::RMSprop<double>>(opt::RMSpropOptions(0.01).alpha(0.9).centered(true)),
                {{0.96666666777777777, -1.9666666668055555},
                 {0.94159014428872534, -1.9413801527080776},
                 {0.91970050288847605, -1.9191804003080515}});
    check_steps(three_steps<opt::RMSprop<double>>(
                    opt::RMSpropOptions(0.01).alpha(0.9).weight_decay(0.1).momentum(0.5).centered(true)),
                {{0.96666666767676768, -1.966666666802168},
                 {0.92492347796825203, -1.9247134861038127},
                 {0.88241836727359602, -1.881660230999836}});
}

TEST_CASE("Adagrad: first three steps match the update formula") {
    check_steps(three_steps<opt::Adagrad<double>>(opt::AdagradOptions(0.1)),
                {{0.90000000001000002, -1.90000000000125},
                 {0.83310352685231681, -1.8311250538103812},
                 {0.78045618136551631, -1.7758215150108221}});
    check_steps(three_steps<opt::Adagrad<double>>(
                    opt::AdagradOptions(0.1).lr_decay(0.1).weight_decay(0.1).initial_accumulator_value(0.5)),
                {{0.91588089758722679, -1.9003697417094312},
                 {0.86039836908056211, -1.8378717477980535},
                 {0.81894952673655974, -1.7917331488085111}});
}

TEST_CASE("SGD and Adam solve a least-squares problem to its closed-form solution") {
    const LeastSquares problem;
    const std::vector<double> exact = problem.solution();
    auto check_solution = [&](const V& w) {
        for (std::size_t i = 0; i < exact.size(); ++i) {
            INFO("w[" << i << "] = " << w.value()(i, 0) << ", closed form " << exact[i]);
            CHECK(std::abs(w.value()(i, 0) - exact[i]) < 1e-6);
        }
    };
    SUBCASE("SGD with Nesterov momentum") {
        V w = V(tg::Tensor<double>(xt::zeros<double>({3, 1})), true);
        opt::SGD<double> sgd({w}, opt::SGDOptions(0.5).momentum(0.9).nesterov(true));
        for (int t = 0; t < 300; ++t) {
            sgd.zero_grad();
            problem.loss(w).backward();
            sgd.step();
        }
        check_solution(w);
    }
    SUBCASE("Adam with a cosine-annealed learning rate") {
        V w = V(tg::Tensor<double>(xt::zeros<double>({3, 1})), true);
        opt::Adam<double> adam({w}, opt::AdamOptions(0.05));
        opt::CosineAnnealingLR schedule(adam, 1000);
        for (int t = 0; t < 1000; ++t) {
            adam.zero_grad();
            problem.loss(w).backward();
            adam.step();
            schedule.step();
        }
        check_solution(w);
    }
}

TEST_CASE("parameters without a gradient are skipped and keep no state") {
    V a = param({1.0, 2.0}), b = param({3.0});
    opt::Adam<double> adam({a, b}, opt::AdamOptions(0.1));
    adam.zero_grad();
    tg::sum(a * a).backward();
    adam.step();
    CHECK(b.value()(0) == 3.0);
    CHECK(a.value()(0) != 1.0);
    const auto state = adam.state_dict();
    for (const auto& [name, value] : state) CHECK(name.rfind("state.1.", 0) != 0);
}

TEST_CASE("parameter groups have their own options") {
    V a = param({1.0}), b = param({1.0});
    opt::SGD<double> sgd({a}, opt::SGDOptions(0.1));
    sgd.add_param_group({b}, opt::SGDOptions(0.01).momentum(0.9));
    CHECK(sgd.num_param_groups() == 2);
    CHECK(sgd.num_params() == 2);
    CHECK(sgd.lr(1) == 0.01);
    CHECK(sgd.options(1).momentum() == 0.9);
    tg::sum(a * 1.0 + b * 1.0).backward();
    sgd.step();
    CHECK(a.value()(0) == doctest::Approx(0.9).epsilon(1e-15));
    CHECK(b.value()(0) == doctest::Approx(0.99).epsilon(1e-15));
    sgd.set_lr(0.5);
    CHECK(sgd.lr(0) == 0.5);
    CHECK(sgd.lr(1) == 0.5);
    sgd.set_options(0, opt::SGDOptions(0.2).weight_decay(0.1));
    CHECK(sgd.options(0).weight_decay() == 0.1);
    CHECK(sgd.params(1).size() == 1);
}

TEST_CASE("zero_grad resets to none, or to zeros on request") {
    V a = param({1.0, 2.0});
    opt::SGD<double> sgd({a}, opt::SGDOptions(0.1));
    tg::sum(a * a).backward();
    REQUIRE(a.has_grad());
    sgd.zero_grad(false);
    REQUIRE(a.has_grad());
    CHECK(a.grad()(0) == 0.0);
    CHECK(a.grad()(1) == 0.0);
    sgd.zero_grad();
    CHECK(!a.has_grad());
    sgd.step();  // nothing to do
    CHECK(a.value()(0) == 1.0);
}

TEST_CASE("step(closure) evaluates the closure once, with recording on, and returns its loss") {
    V a = param({3.0});
    opt::SGD<double> sgd({a}, opt::SGDOptions(0.1));
    int calls = 0;
    tg::NoGradGuard no_grad;  // the closure still records
    const double loss = sgd.step([&] {
        ++calls;
        sgd.zero_grad();
        V l = tg::sum(a * a);
        CHECK(l.requires_grad());
        l.backward();
        return l.item();
    });
    CHECK(calls == 1);
    CHECK(loss == 9.0);
    CHECK(a.value()(0) == doctest::Approx(2.4).epsilon(1e-15));
}

TEST_CASE("an update changes the parameter's version, so a graph recorded before refuses backward") {
    V a = param({1.0, 2.0});
    opt::SGD<double> sgd({a}, opt::SGDOptions(0.1));
    V stale = tg::sum(a * a);
    tg::sum(a * a).backward();
    sgd.step();
    CHECK_THROWS_AS(stale.backward(), tg::Error);
}

TEST_CASE("float parameters follow the double results") {
    tg::Variable<float> xf(tg::Tensor<float>(xt::xarray<float>({1.0f, -2.0f})), true);
    tg::Variable<float> cf(tg::Tensor<float>(xt::xarray<float>({0.5f, 2.0f})), false);
    opt::Adam<float> adam({xf}, opt::AdamOptions(0.1).amsgrad(true));
    for (int t = 0; t < 3; ++t) {
        adam.zero_grad();
        tg::sum(cf * xf * xf).backward();
        adam.step();
    }
    CHECK(xf.value()(0) == doctest::Approx(0.70158627450441502).epsilon(1e-6));
    CHECK(xf.value()(1) == doctest::Approx(-1.7006233916636408).epsilon(1e-6));
    opt::SGD<float> sgd({xf}, opt::SGDOptions(0.1).momentum(0.5));
    opt::RMSprop<float> rms({xf});
    opt::Adagrad<float> ada({xf});
    opt::AdamW<float> adamw({xf});
    tg::sum(cf * xf * xf).backward();
    sgd.step();
    rms.step();
    ada.step();
    adamw.step();
    CHECK(std::isfinite(xf.value()(0)));
}

TEST_CASE("the vectorised loops agree with the element-by-element ones") {
    // One parameter of 37 elements (whole SIMD batches plus a tail) against 37 one-element
    // parameters (tails only), on f = sum(c x^2) with varied c.
    constexpr std::size_t n = 37;
    auto run = [&](auto make) {
        tg::Tensor<double> x0 = tg::Tensor<double>::from_shape({n}), c = tg::Tensor<double>::from_shape({n});
        for (std::size_t i = 0; i < n; ++i) {
            x0(i) = std::sin(double(i)) * 2;
            c(i) = 0.5 + double(i % 5);
        }
        V whole(x0, true);
        std::vector<V> parts;
        for (std::size_t i = 0; i < n; ++i) parts.push_back(param({x0(i)}));
        auto a = make(std::vector<V>{whole});
        auto b = make(parts);
        for (int t = 0; t < 4; ++t) {
            a.zero_grad();
            b.zero_grad();
            tg::sum(tg::constant(c) * whole * whole).backward();
            for (std::size_t i = 0; i < n; ++i)
                (c(i) * parts[i] * parts[i]).backward(tg::Tensor<double>(xt::ones<double>({1})));
            a.step();
            b.step();
        }
        for (std::size_t i = 0; i < n; ++i) {
            INFO(a.name() << " element " << i);
            CHECK(whole.value()(i) == doctest::Approx(parts[i].value()(0)).epsilon(1e-14));
        }
    };
    run([](std::vector<V> p) { return opt::SGD<double>(p, opt::SGDOptions(0.1).momentum(0.9).weight_decay(0.01)); });
    run([](std::vector<V> p) { return opt::Adam<double>(p, opt::AdamOptions(0.1).betas(0.5, 0.5).amsgrad(true)); });
    run([](std::vector<V> p) { return opt::Adam<double>(p, opt::AdamOptions(0.1).weight_decay(0.1)); });
    run([](std::vector<V> p) { return opt::AdamW<double>(p, opt::AdamWOptions(0.1)); });
    run([](std::vector<V> p) { return opt::RMSprop<double>(p, opt::RMSpropOptions(0.01)); });
    run([](std::vector<V> p) { return opt::RMSprop<double>(p, opt::RMSpropOptions(0.01).momentum(0.5)); });
    run([](std::vector<V> p) { return opt::RMSprop<double>(p, opt::RMSpropOptions(0.01).centered(true)); });
    run([](std::vector<V> p) {
        return opt::RMSprop<double>(p, opt::RMSpropOptions(0.01).momentum(0.5).centered(true).weight_decay(0.1));
    });
    run([](std::vector<V> p) { return opt::Adagrad<double>(p, opt::AdagradOptions(0.1).lr_decay(0.1)); });
}

TEST_CASE("float parameters of many elements follow the double results") {
    constexpr std::size_t n = 37;
    auto run = [&](auto make_f, auto make_d) {
        tg::Tensor<double> x0 = tg::Tensor<double>::from_shape({n});
        for (std::size_t i = 0; i < n; ++i) x0(i) = std::cos(double(i)) * 2;
        V xd(x0, true);
        tg::Variable<float> xf(tg::Tensor<float>(xt::cast<float>(x0)), true);
        auto a = make_d(std::vector<V>{xd});
        auto b = make_f(std::vector<tg::Variable<float>>{xf});
        for (int t = 0; t < 5; ++t) {
            a.zero_grad();
            b.zero_grad();
            tg::sum(xd * xd * xd).backward();
            tg::sum(xf * xf * xf).backward();
            a.step();
            b.step();
        }
        for (std::size_t i = 0; i < n; ++i) {
            INFO(a.name() << " element " << i);
            CHECK(double(xf.value()(i)) == doctest::Approx(xd.value()(i)).epsilon(1e-5));
        }
    };
    run([](std::vector<tg::Variable<float>> p) { return opt::Adam<float>(p, opt::AdamOptions(0.1).amsgrad(true)); },
        [](std::vector<V> p) { return opt::Adam<double>(p, opt::AdamOptions(0.1).amsgrad(true)); });
    run([](std::vector<tg::Variable<float>> p) { return opt::AdamW<float>(p, opt::AdamWOptions(0.1)); },
        [](std::vector<V> p) { return opt::AdamW<double>(p, opt::AdamWOptions(0.1)); });
    run(
        [](std::vector<tg::Variable<float>> p) {
            return opt::RMSprop<float>(p, opt::RMSpropOptions(0.01).momentum(0.5).centered(true));
        },
        [](std::vector<V> p) {
            return opt::RMSprop<double>(p, opt::RMSpropOptions(0.01).momentum(0.5).centered(true));
        });
    run([](std::vector<tg::Variable<float>> p) { return opt::Adagrad<float>(p, opt::AdagradOptions(0.1)); },
        [](std::vector<V> p) { return opt::Adagrad<double>(p, opt::AdagradOptions(0.1)); });
    run([](std::vector<tg::Variable<float>> p) { return opt::SGD<float>(p, opt::SGDOptions(0.01).momentum(0.9)); },
        [](std::vector<V> p) { return opt::SGD<double>(p, opt::SGDOptions(0.01).momentum(0.9)); });
}
