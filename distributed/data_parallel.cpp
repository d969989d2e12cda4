// DataParallel: broadcast at construction, average then step.
#include <tapegrad/distributed/data_parallel.hpp>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/distributed/broadcast.hpp>

namespace tapegrad::distributed {

DataParallelOptions& DataParallelOptions::bucket_bytes(std::size_t v) {
    if (v < sizeof(double))
        throw Error(fmt::format("DataParallelOptions::bucket_bytes: got {}; expected at least {} (one element)", v,
                                sizeof(double)));
    bucket_bytes_ = v;
    return *this;
}

template <class T>
DataParallel<T>::DataParallel(nn::Module<T>& module, const DataParallelOptions& options)
    : module_(&module), averager_(module.parameters(), options.bucket_bytes()) {
    broadcast_parameters(module, options.root(), options.bucket_bytes());
}

template <class T>
void DataParallel<T>::step(optim::OptimizerBase& optimizer) {
    average_gradients();
    optimizer.step();
}

template <class T>
void DataParallel<T>::step(optim::OptimizerBase& optimizer, std::size_t samples) {
    average_gradients(samples);
    optimizer.step();
}

template class DataParallel<float>;
template class DataParallel<double>;

}  // namespace tapegrad::distributed
