// A run interrupted by a checkpoint and resumed equals the uninterrupted run bit for bit: model, optimizer, scheduler
// and random generator state.
//
// Each test trains N epochs straight, then the same run stopped after k epochs, saved (in .npz
// and in .safetensors), restored into freshly made objects with other initial weights, and
// continued. A control run that leaves out one piece of the state (the scheduler, the generator)
// must differ, so the comparison can fail.
#include <cstring>
#include <functional>

#include <tapegrad/io/generator.hpp>
#include <tapegrad/nn/serialize.hpp>

#include "test_data_helpers.hpp"
#include "test_optim_common.hpp"

using namespace tgtest;
namespace nn = tapegrad::nn;
namespace tgio = tapegrad::io;
using F = float;

namespace {

/// Four fixed batches of a regression problem.
struct Data {
    std::vector<tg::Tensor<F>> x, y;
    Data() {
        tg::Generator gen(5);
        for (int b = 0; b < 4; ++b) {
            tg::Tensor<F> xb = tg::Tensor<F>::from_shape({8, 3}), yb = tg::Tensor<F>::from_shape({8, 1});
            for (auto& v : xb) v = F(gen.normal());
            for (std::size_t i = 0; i < 8; ++i) yb(i, 0) = std::sin(xb(i, 0)) + F(0.5) * xb(i, 1) * xb(i, 2);
            x.push_back(xb);
            y.push_back(yb);
        }
    }
};

nn::Sequential<F> make_model(std::uint64_t seed, double dropout) {
    tg::manual_seed(seed);
    if (dropout > 0)
        return nn::Sequential<F>{nn::Linear<F>(3, 16), nn::Tanh{}, nn::Dropout<F>(dropout), nn::Linear<F>(16, 1)};
    return nn::Sequential<F>{nn::Linear<F>(3, 16), nn::Tanh{}, nn::Linear<F>(16, 1)};
}

/// One epoch over the batches; returns the mean loss (the plateau metric).
template <class Opt>
double epoch(nn::Sequential<F>& model, Opt& optimizer, const Data& data) {
    double total = 0;
    for (std::size_t b = 0; b < data.x.size(); ++b) {
        optimizer.zero_grad();
        auto loss = nn::mse_loss(model(tg::Variable<F>(data.x[b])), tg::Variable<F>(data.y[b]));
        loss.backward();
        optimizer.step();
        total += double(loss.item());
    }
    return total / double(data.x.size());
}

bool same_bits(const nn::Sequential<F>& a, const nn::Sequential<F>& b) {
    const auto pa = a.parameters(), pb = b.parameters();
    for (std::size_t i = 0; i < pa.size(); ++i)
        if (pa[i].shape() != pb[i].shape() ||
            std::memcmp(pa[i].value().data(), pb[i].value().data(), pa[i].size() * sizeof(F)) != 0)
            return false;
    return true;
}

/// What to leave out of the restore, for the control runs.
enum class Skip { nothing, scheduler, generator };

}  // namespace

TEST_CASE("resume: SGD with momentum and StepLR, bit for bit") {
    const Data data;
    for (const std::string ext : {".npz", ".safetensors"}) {
        CAPTURE(ext);
        auto straight = make_model(1, 0);
        opt::SGD<F> so(straight.parameters(), opt::SGDOptions(0.1).momentum(0.9).nesterov(true));
        opt::StepLR ss(so, 2, 0.5);
        for (int e = 0; e < 7; ++e) {
            epoch(straight, so, data);
            ss.step();
        }
        auto resumed_run = [&](Skip skip) {
            data_test::TempDir dir;
            {
                auto first = make_model(1, 0);
                opt::SGD<F> o(first.parameters(), opt::SGDOptions(0.1).momentum(0.9).nesterov(true));
                opt::StepLR s(o, 2, 0.5);
                for (int e = 0; e < 3; ++e) {
                    epoch(first, o, data);
                    s.step();
                }
                nn::save(first, dir / ("model" + ext));
                opt::save(o, dir / ("optimizer" + ext));
                opt::save(s, dir / ("scheduler" + ext));
            }
            auto model = make_model(77, 0);  // other weights: all must come from the files
            opt::SGD<F> o(model.parameters(), opt::SGDOptions(0.1).momentum(0.9).nesterov(true));
            opt::StepLR s(o, 2, 0.5);
            nn::load(model, dir / ("model" + ext));
            opt::load(o, dir / ("optimizer" + ext));
            if (skip != Skip::scheduler) opt::load(s, dir / ("scheduler" + ext));
            if (skip != Skip::scheduler) CHECK(s.last_epoch() == 3);
            for (int e = 3; e < 7; ++e) {
                epoch(model, o, data);
                s.step();
            }
            return same_bits(model, straight);
        };
        CHECK(resumed_run(Skip::nothing));
        CHECK_FALSE(resumed_run(Skip::scheduler));  // the control: without the schedule's epoch it differs
    }
}

TEST_CASE("resume: Adam and ReduceLROnPlateau (best value, patience and cooldown counts), bit for bit") {
    const Data data;
    const auto plateau = opt::ReduceLROnPlateauOptions().patience(1).factor(0.5).cooldown(1).threshold(0.05);
    for (const std::string ext : {".npz", ".safetensors"}) {
        CAPTURE(ext);
        auto straight = make_model(2, 0);
        opt::Adam<F> ao(straight.parameters(), opt::AdamOptions(0.05));
        opt::ReduceLROnPlateau as(ao, plateau);
        std::vector<double> lrs;
        for (int e = 0; e < 12; ++e) {
            as.step(epoch(straight, ao, data));
            lrs.push_back(ao.lr());
        }
        CHECK(lrs.front() == 0.05);
        CHECK(lrs.back() < 0.05 / 2);  // the plateau reduced the lr more than once on the way
        auto resumed_run = [&](Skip skip, int stop) {
            data_test::TempDir dir;
            long bad_at_stop = -1;
            {
                auto first = make_model(2, 0);
                opt::Adam<F> o(first.parameters(), opt::AdamOptions(0.05));
                opt::ReduceLROnPlateau s(o, plateau);
                for (int e = 0; e < stop; ++e) s.step(epoch(first, o, data));
                bad_at_stop = s.num_bad_epochs();
                nn::save(first, dir / ("model" + ext));
                opt::save(o, dir / ("optimizer" + ext));
                opt::save(s, dir / ("scheduler" + ext));
            }
            auto model = make_model(78, 0);
            opt::Adam<F> o(model.parameters(), opt::AdamOptions(0.05));
            opt::ReduceLROnPlateau s(o, plateau);
            nn::load(model, dir / ("model" + ext));
            opt::load(o, dir / ("optimizer" + ext));
            if (skip != Skip::scheduler) {
                opt::load(s, dir / ("scheduler" + ext));
                CHECK(s.num_bad_epochs() == bad_at_stop);
                CHECK(s.last_epoch() == stop);
                CHECK(o.lr() == lrs[std::size_t(stop) - 1]);  // the exact double, not the float the optimizer kept
            }
            for (int e = stop; e < 12; ++e) s.step(epoch(model, o, data));
            return same_bits(model, straight);
        };
        for (int stop = 1; stop < 12; ++stop) {
            CAPTURE(stop);
            CHECK(resumed_run(Skip::nothing, stop));
        }
        CHECK_FALSE(resumed_run(Skip::scheduler, 6));
    }
}

TEST_CASE("resume: a model with dropout, the default generator's state in the checkpoint, bit for bit") {
    const Data data;
    for (const std::string ext : {".npz", ".safetensors"}) {
        CAPTURE(ext);
        auto straight = make_model(3, 0.3);
        opt::SGD<F> so(straight.parameters(), opt::SGDOptions(0.05).momentum(0.5));
        tg::manual_seed(100);
        for (int e = 0; e < 6; ++e) epoch(straight, so, data);
        auto resumed_run = [&](Skip skip) {
            data_test::TempDir dir;
            {
                auto first = make_model(3, 0.3);
                opt::SGD<F> o(first.parameters(), opt::SGDOptions(0.05).momentum(0.5));
                tg::manual_seed(100);
                for (int e = 0; e < 3; ++e) epoch(first, o, data);
                nn::save(first, dir / ("model" + ext));
                opt::save(o, dir / ("optimizer" + ext));
                tgio::save_generator(tg::default_generator(), dir / ("rng" + ext));
            }
            auto model = make_model(79, 0.3);
            opt::SGD<F> o(model.parameters(), opt::SGDOptions(0.05).momentum(0.5));
            tg::manual_seed(12345);  // a process that starts afresh
            nn::load(model, dir / ("model" + ext));
            opt::load(o, dir / ("optimizer" + ext));
            if (skip != Skip::generator) tgio::load_generator(tg::default_generator(), dir / ("rng" + ext));
            for (int e = 3; e < 6; ++e) epoch(model, o, data);
            return same_bits(model, straight);
        };
        CHECK(resumed_run(Skip::nothing));
        CHECK_FALSE(resumed_run(Skip::generator));  // the control: other dropout masks, another result
    }
}

TEST_CASE("scheduler and generator state that does not fit is refused, and changes nothing") {
    V w = param({1.0, 2.0});
    opt::SGD<double> sgd({w}, opt::SGDOptions(0.1));
    opt::StepLR step(sgd, 2);
    step.step();
    auto state = step.state_dict();
    auto with = [&](const char* name, tgio::Array a) {
        auto s = state;
        for (auto& e : s)
            if (e.name() == name) e = std::move(a);
        return s;
    };
    tg::Tensor<std::int64_t> minus = tg::Tensor<std::int64_t>::from_shape({});
    minus() = -1;
    CHECK(error_of([&] { step.load_state_dict(with("last_epoch", tgio::Array("last_epoch", minus))); }) ==
          "LRScheduler: load_state_dict: entry 'last_epoch' holds -1; expected at least 0");
    CHECK(error_of([&] {
              step.load_state_dict(with("base_lrs", tgio::Array("base_lrs", tg::Tensor<double>{0.1, 0.2})));
          }) ==
          "LRScheduler: load_state_dict: entry 'base_lrs' is float64 of shape (2,); expected float64 of shape (1,)");
    CHECK(error_of([&] {
              step.load_state_dict(with("base_lrs", tgio::Array("base_lrs", tg::Tensor<double>{std::nan("")})));
          }) == "LRScheduler: load_state_dict: entry 'base_lrs' holds nan; expected finite values >= 0");
    CHECK(error_of([&] { step.load_state_dict({state[0]}); }) ==
          "LRScheduler: load_state_dict: entry 'base_lrs' is missing");
    CHECK(step.last_epoch() == 1);

    opt::ReduceLROnPlateau plateau(sgd, opt::ReduceLROnPlateauOptions().patience(3));
    plateau.step(1.0);
    plateau.step(2.0);
    auto ps = plateau.state_dict();
    tg::Tensor<std::int64_t> five = tg::Tensor<std::int64_t>::from_shape({});
    five() = 5;
    for (auto& e : ps)
        if (e.name() == "num_bad_epochs") e = tgio::Array("num_bad_epochs", five);
    CHECK(error_of([&] { plateau.load_state_dict(ps); }) ==
          "ReduceLROnPlateau: load_state_dict: entry 'num_bad_epochs' holds 5; expected at most patience 3");
    CHECK(plateau.num_bad_epochs() == 1);
    CHECK(plateau.best() == 1.0);
    // Before its first step the best value is infinite: stored as none, restored as infinite.
    opt::ReduceLROnPlateau fresh(sgd);
    auto fs = fresh.state_dict();
    plateau.load_state_dict(fs);
    CHECK(std::isinf(plateau.best()));

    tg::Generator g(1);
    const auto before = g.state();
    auto words = before;
    words.back() = 10000;  // the position in the state, out of range
    CHECK(error_of([&] { g.set_state(words); }).find("Generator::set_state: position 10000; expected 0 to 312") == 0);
    CHECK(error_of([&] { g.set_state({1, 2, 3}); }).find("Generator::set_state: 3 numbers; expected 313") == 0);
    CHECK(g.state() == before);
    tg::Generator h(2);
    h.set_state(before);
    CHECK(h.uniform() == g.uniform());
}
