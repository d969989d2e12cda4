// save / load on one rank, with the outcome agreed on by all (throw_if_any_rank) and the values broadcast.
#include <tapegrad/distributed/checkpoint.hpp>

#include <exception>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/distributed/broadcast.hpp>
#include <tapegrad/distributed/collectives.hpp>
#include <tapegrad/nn/serialize.hpp>

namespace tapegrad::distributed {

namespace {

// Runs f on root only; every rank then throws what root threw, or none does.
template <class F>
void on_root(const char* fn, std::size_t root, F f) {
    check_root(fn, root);
    std::string problem;
    bool file_error = false;
    if (world_rank(fn) == root) {
        try {
            f();
        } catch (const FileError& e) {
            problem = e.what();
            file_error = true;
        } catch (const std::exception& e) {
            problem = e.what();
        }
    }
    throw_if_any_rank(problem, file_error);
}

}  // namespace

template <class T>
void save(const nn::Module<T>& module, const std::string& path, std::size_t root) {
    on_root("distributed::save", root, [&] { nn::save(module, path); });
}

template <class T>
void load(nn::Module<T>& module, const std::string& path, std::size_t root) {
    // Models first, then root loads: a bad model or a bad file leaves every model as it was.
    check_same_model(module, root, "distributed::load");
    on_root("distributed::load", root, [&] { nn::load(module, path); });
    broadcast_parameters(module, root);
}

template void save(const nn::Module<float>&, const std::string&, std::size_t);
template void save(const nn::Module<double>&, const std::string&, std::size_t);
template void load(nn::Module<float>&, const std::string&, std::size_t);
template void load(nn::Module<double>&, const std::string&, std::size_t);

}  // namespace tapegrad::distributed
