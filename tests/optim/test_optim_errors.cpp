// Every error path of optim: bad options, bad parameters, bad calls; each checked by its message.
#include "test_optim_common.hpp"

#include <limits>

using namespace tgtest;

namespace {
const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

TEST_CASE("SGD options are checked at construction") {
    V p = param({1.0});
    auto make = [&](const opt::SGDOptions& o) { return [&p, o] { opt::SGD<double> sgd({p}, o); }; };
    CHECK(error_of(make(opt::SGDOptions(-0.1))) == "SGD: lr must be >= 0, got -0.1");
    CHECK(error_of(make(opt::SGDOptions(kNaN))) == "SGD: lr must be >= 0, got nan");
    CHECK(error_of(make(opt::SGDOptions(kInf))) == "SGD: lr must be finite, got inf");
    CHECK(error_of(make(opt::SGDOptions(0.1).momentum(-0.9))) == "SGD: momentum must be >= 0, got -0.9");
    CHECK(error_of(make(opt::SGDOptions(0.1).dampening(-1))) == "SGD: dampening must be >= 0, got -1");
    CHECK(error_of(make(opt::SGDOptions(0.1).weight_decay(-1e-4))) == "SGD: weight_decay must be >= 0, got -0.0001");
    CHECK(error_of(make(opt::SGDOptions(0.1).nesterov(true))) ==
          "SGD: nesterov needs momentum > 0 and dampening 0, got momentum 0 and dampening 0");
    CHECK(error_of(make(opt::SGDOptions(0.1).momentum(0.9).dampening(0.1).nesterov(true))) ==
          "SGD: nesterov needs momentum > 0 and dampening 0, got momentum 0.9 and dampening 0.1");
    CHECK(error_of(make(opt::SGDOptions(0))) == "");  // lr 0 is allowed (a frozen group)
}

TEST_CASE("Adam and AdamW options are checked at construction") {
    V p = param({1.0});
    auto adam = [&](const opt::AdamOptions& o) { return [&p, o] { opt::Adam<double> a({p}, o); }; };
    auto adamw = [&](const opt::AdamWOptions& o) { return [&p, o] { opt::AdamW<double> a({p}, o); }; };
    CHECK(error_of(adam(opt::AdamOptions(-1e-3))) == "Adam: lr must be >= 0, got -0.001");
    CHECK(error_of(adam(opt::AdamOptions().betas(1.0, 0.999))) == "Adam: beta1 must be in [0, 1), got 1");
    CHECK(error_of(adam(opt::AdamOptions().betas(-0.1, 0.999))) == "Adam: beta1 must be in [0, 1), got -0.1");
    CHECK(error_of(adam(opt::AdamOptions().betas(0.9, 1.5))) == "Adam: beta2 must be in [0, 1), got 1.5");
    CHECK(error_of(adam(opt::AdamOptions().betas(0.9, kNaN))) == "Adam: beta2 must be in [0, 1), got nan");
    CHECK(error_of(adam(opt::AdamOptions().eps(-1e-8))) == "Adam: eps must be >= 0, got -1e-08");
    CHECK(error_of(adam(opt::AdamOptions().weight_decay(-1))) == "Adam: weight_decay must be >= 0, got -1");
    CHECK(error_of(adamw(opt::AdamWOptions(-1))) == "AdamW: lr must be >= 0, got -1");
    CHECK(error_of(adamw(opt::AdamWOptions().betas(0.9, 1.0))) == "AdamW: beta2 must be in [0, 1), got 1");
    CHECK(error_of(adamw(opt::AdamWOptions().weight_decay(-0.01))) == "AdamW: weight_decay must be >= 0, got -0.01");
}

TEST_CASE("RMSprop and Adagrad options are checked at construction") {
    V p = param({1.0});
    auto rms = [&](const opt::RMSpropOptions& o) { return [&p, o] { opt::RMSprop<double> r({p}, o); }; };
    auto ada = [&](const opt::AdagradOptions& o) { return [&p, o] { opt::Adagrad<double> a({p}, o); }; };
    CHECK(error_of(rms(opt::RMSpropOptions(-0.01))) == "RMSprop: lr must be >= 0, got -0.01");
    CHECK(error_of(rms(opt::RMSpropOptions().alpha(-0.5))) == "RMSprop: alpha must be >= 0, got -0.5");
    CHECK(error_of(rms(opt::RMSpropOptions().eps(-1))) == "RMSprop: eps must be >= 0, got -1");
    CHECK(error_of(rms(opt::RMSpropOptions().momentum(-1))) == "RMSprop: momentum must be >= 0, got -1");
    CHECK(error_of(rms(opt::RMSpropOptions().weight_decay(-1))) == "RMSprop: weight_decay must be >= 0, got -1");
    CHECK(error_of(ada(opt::AdagradOptions(-0.01))) == "Adagrad: lr must be >= 0, got -0.01");
    CHECK(error_of(ada(opt::AdagradOptions().lr_decay(-1))) == "Adagrad: lr_decay must be >= 0, got -1");
    CHECK(error_of(ada(opt::AdagradOptions().weight_decay(-1))) == "Adagrad: weight_decay must be >= 0, got -1");
    CHECK(error_of(ada(opt::AdagradOptions().initial_accumulator_value(-1))) ==
          "Adagrad: initial_accumulator_value must be >= 0, got -1");
    CHECK(error_of(ada(opt::AdagradOptions().eps(-1))) == "Adagrad: eps must be >= 0, got -1");
}

TEST_CASE("BFGS and LBFGS options are checked at construction") {
    V p = param({1.0});
    auto lbfgs = [&](const opt::LBFGSOptions& o) { return [&p, o] { opt::LBFGS<double> l({p}, o); }; };
    auto bfgs = [&](const opt::BFGSOptions& o) { return [&p, o] { opt::BFGS<double> b({p}, o); }; };
    CHECK(error_of(lbfgs(opt::LBFGSOptions().history_size(0))) == "LBFGS: history_size must be >= 1, got 0");
    CHECK(error_of(lbfgs(opt::LBFGSOptions(0))) == "LBFGS: lr must be > 0, got 0");
    CHECK(error_of(lbfgs(opt::LBFGSOptions().max_iter(0))) == "LBFGS: max_iter must be >= 1, got 0");
    CHECK(error_of(lbfgs(opt::LBFGSOptions().max_eval(0))) == "LBFGS: max_eval must be >= 1, got 0");
    CHECK(error_of(lbfgs(opt::LBFGSOptions().tolerance_grad(-1))) == "LBFGS: tolerance_grad must be >= 0, got -1");
    CHECK(error_of(lbfgs(opt::LBFGSOptions().tolerance_change(-1))) == "LBFGS: tolerance_change must be >= 0, got -1");
    CHECK(error_of(bfgs(opt::BFGSOptions(-1))) == "BFGS: lr must be > 0, got -1");
    CHECK(error_of(bfgs(opt::BFGSOptions().max_iter(-5))) == "BFGS: max_iter must be >= 1, got -5");
    V big = V(tg::Tensor<double>(xt::zeros<double>({10001})), true);
    CHECK(error_of([&] { opt::BFGS<double> b({big}); }) ==
          "BFGS: 10001 parameter elements would need a dense 10001x10001 inverse Hessian; BFGS takes at most 10000 "
          "(use LBFGS for larger problems)");
}

TEST_CASE("parameters must be distinct leaves that require grad") {
    V a = param({1.0, 2.0}), b = param({3.0});
    V product = a * 2.0;
    V data = tg::constant(xt::xarray<double>({1.0, 2.0}));
    CHECK(error_of([&] { opt::SGD<double> s({}, opt::SGDOptions(0.1)); }) == "SGD: got an empty parameter list");
    CHECK(error_of([&] {
              opt::SGD<double> s({b, product}, opt::SGDOptions(0.1));
          }) == std::string("SGD: parameter 1 of shape (2,) is the output of '") + product.op_name() +
                    "', not a leaf; optimizers update leaves (parameter(), or detach() and set_requires_grad(true))");
    CHECK(error_of([&] { opt::Adam<double> s({data}); }) ==
          "Adam: parameter 0 of shape (2,) does not require grad (make it with parameter() or call "
          "set_requires_grad(true))");
    CHECK(error_of([&] {
              opt::SGD<double> s({a, b, a}, opt::SGDOptions(0.1));
          }) == "SGD: parameter 2 of shape (2,) is the same Variable as parameter 0; give each parameter once");
    CHECK(error_of([&] { opt::LBFGS<double> s({a, V()}); }) == "LBFGS: parameter 1 is an empty Variable");

    opt::SGD<double> sgd({a}, opt::SGDOptions(0.1));
    CHECK(error_of([&] {
              sgd.add_param_group({b, a}, opt::SGDOptions(0.1));
          }) == "SGD: parameter 2 of shape (2,) is the same Variable as parameter 0; give each parameter once");
    CHECK(error_of([&] { sgd.add_param_group({}, opt::SGDOptions(0.1)); }) == "SGD: parameter group 1 is empty");
    CHECK(error_of([&] { sgd.add_param_group({b}, opt::SGDOptions(-1)); }) == "SGD: lr must be >= 0, got -1");
    CHECK(sgd.num_param_groups() == 1);  // nothing was added by the failed calls
}

TEST_CASE("bad calls") {
    V a = param({1.0});
    opt::SGD<double> sgd({a}, opt::SGDOptions(0.1));
    CHECK(error_of([&] { sgd.options(1); }) == "SGD: parameter group 1 does not exist (there is 1)");
    CHECK(error_of([&] { sgd.lr(3); }) == "SGD: parameter group 3 does not exist (there is 1)");
    CHECK(error_of([&] { sgd.params(2); }) == "SGD: parameter group 2 does not exist (there is 1)");
    CHECK(error_of([&] { sgd.set_lr(-1.0); }) == "SGD: lr must be >= 0, got -1");
    CHECK(error_of([&] { sgd.set_lr(1, 0.1); }) == "SGD: parameter group 1 does not exist (there is 1)");
    CHECK(error_of([&] { sgd.set_options(0, opt::SGDOptions(0.1).momentum(-1)); }) ==
          "SGD: momentum must be >= 0, got -1");
    CHECK(error_of([&] { sgd.step(opt::Closure()); }) == "SGD: step(closure) was given an empty closure");

    opt::LBFGS<double> lbfgs({a});
    CHECK(error_of([&] { lbfgs.step(); }) ==
          "LBFGS: step() needs a closure that zeroes the gradients, computes the loss, runs backward and returns "
          "the loss: step(closure)");
    CHECK(error_of([&] { lbfgs.set_lr(0.0); }) == "LBFGS: lr must be > 0, got 0");
    CHECK(error_of([&] { lbfgs.lr(1); }) == "LBFGS: parameter group 1 does not exist (there is 1)");
    opt::BFGS<double> bfgs({a});
    CHECK(error_of([&] { bfgs.step(); }) ==
          "BFGS: step() needs a closure that zeroes the gradients, computes the loss, runs backward and returns "
          "the loss: step(closure)");
}

TEST_CASE("schedule options are checked") {
    V a = param({1.0});
    opt::SGD<double> sgd({a}, opt::SGDOptions(0.1));
    CHECK(error_of([&] { opt::StepLR s(sgd, 0); }) == "StepLR: step_size must be >= 1, got 0");
    CHECK(error_of([&] { opt::StepLR s(sgd, 10, 0.0); }) == "StepLR: gamma must be > 0, got 0");
    CHECK(error_of([&] {
              opt::MultiStepLR s(sgd, {30, 10});
          }) == "MultiStepLR: milestones must be strictly increasing, got 10 after 30");
    CHECK(error_of([&] { opt::MultiStepLR s(sgd, {-1}); }) ==
          "MultiStepLR: milestones must be >= 0, got -1 at index 0");
    CHECK(error_of([&] { opt::MultiStepLR s(sgd, {1}, -0.1); }) == "MultiStepLR: gamma must be > 0, got -0.1");
    CHECK(error_of([&] { opt::ExponentialLR s(sgd, 0.0); }) == "ExponentialLR: gamma must be > 0, got 0");
    CHECK(error_of([&] { opt::CosineAnnealingLR s(sgd, 0); }) == "CosineAnnealingLR: T_max must be >= 1, got 0");
    CHECK(error_of([&] { opt::CosineAnnealingLR s(sgd, 10, -1e-3); }) ==
          "CosineAnnealingLR: eta_min must be >= 0, got -0.001");
    opt::StepLR step(sgd, 3);
    CHECK(error_of([&] { step.set_epoch(-1); }) == "LRScheduler: epoch must be >= 0, got -1");

    using P = opt::ReduceLROnPlateauOptions;
    auto plateau = [&](const P& o) { return [&sgd, o] { opt::ReduceLROnPlateau r(sgd, o); }; };
    CHECK(error_of(plateau(P().factor(1.0))) == "ReduceLROnPlateau: factor must be in [0, 1), got 1");
    CHECK(error_of(plateau(P().patience(-1))) == "ReduceLROnPlateau: patience must be >= 0, got -1");
    CHECK(error_of(plateau(P().threshold(-1))) == "ReduceLROnPlateau: threshold must be >= 0, got -1");
    CHECK(error_of(plateau(P().cooldown(-2))) == "ReduceLROnPlateau: cooldown must be >= 0, got -2");
    CHECK(error_of(plateau(P().min_lr(-1))) == "ReduceLROnPlateau: min_lr must be >= 0, got -1");
    CHECK(error_of(plateau(P().eps(-1))) == "ReduceLROnPlateau: eps must be >= 0, got -1");

    // A schedule that reaches lr 0 cannot drive LBFGS, whose lr must stay > 0.
    opt::LBFGS<double> lbfgs({a});
    CHECK(error_of([&] {
              opt::CosineAnnealingLR c(lbfgs, 1);
              c.step();
          }) == "LBFGS: lr must be > 0, got 0");
}

TEST_CASE("clipping arguments are checked") {
    V a = param({3.0, 4.0});
    tg::sum(a * a).backward();
    CHECK(error_of([&] { opt::clip_grad_norm<double>({a}, -1.0); }) == "clip_grad_norm: max_norm must be >= 0, got -1");
    CHECK(error_of([&] { opt::clip_grad_norm<double>({a}, 1.0, 0.0); }) ==
          "clip_grad_norm: norm_type must be > 0 (or infinity), got 0");
    CHECK(error_of([&] {
              opt::clip_grad_norm<double>({a, a}, 1.0);
          }) == "clip_grad_norm: parameter 1 appears more than once; give each parameter once");
    CHECK(error_of([&] { opt::clip_grad_norm<double>({V()}, 1.0); }) ==
          "clip_grad_norm: parameter 0 is an empty Variable");
    CHECK(error_of([&] { opt::clip_grad_value<double>({a}, -0.5); }) ==
          "clip_grad_value: clip_value must be >= 0, got -0.5");
    CHECK(error_of([&] {
              opt::clip_grad_value<double>({a, a}, 0.5);
          }) == "clip_grad_value: parameter 1 appears more than once; give each parameter once");
    a.mutable_grad()(0) = kNaN;
    CHECK(error_of([&] { opt::clip_grad_norm<double>({a}, 1.0, 2.0, true); }) ==
          "clip_grad_norm: the total norm of order 2 of the gradients is nan, so they cannot be clipped "
          "(error_if_nonfinite is set)");
    a.mutable_grad()(0) = kInf;
    CHECK(error_of([&] { opt::clip_grad_norm<double>({a}, 1.0, kInf, true); }) ==
          "clip_grad_norm: the total norm of order inf of the gradients is inf, so they cannot be clipped "
          "(error_if_nonfinite is set)");
}
