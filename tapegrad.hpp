// The whole public API of tapegrad in one include.
#pragma once

// What the docs and most programs use beside tapegrad itself: xtensor's views and slices
// (xt::view, xt::all, xt::range) and its sorting and arg-reductions (xt::argmax, xt::sort).
#include <xtensor/xsort.hpp>
#include <xtensor/xview.hpp>

#include <tapegrad/autograd/build_info.hpp>
#include <tapegrad/autograd/engine.hpp>
#include <tapegrad/autograd/factories.hpp>
#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/autograd/gradcheck.hpp>
#include <tapegrad/autograd/graph_html.hpp>
#include <tapegrad/autograd/graph_print.hpp>
#include <tapegrad/autograd/op.hpp>
#include <tapegrad/autograd/ops.hpp>
#include <tapegrad/autograd/ops/multinomial.hpp>
#include <tapegrad/autograd/ops/rnn_cell.hpp>
#include <tapegrad/autograd/random.hpp>
#include <tapegrad/autograd/tensor.hpp>
#include <tapegrad/autograd/threads.hpp>
#include <tapegrad/autograd/variable.hpp>
#include <tapegrad/autograd/vjp.hpp>
#include <tapegrad/nn/activation.hpp>
#include <tapegrad/nn/attention.hpp>
#include <tapegrad/nn/conv.hpp>
#include <tapegrad/nn/dropout.hpp>
#include <tapegrad/nn/embedding.hpp>
#include <tapegrad/nn/flatten.hpp>
#include <tapegrad/nn/init.hpp>
#include <tapegrad/nn/linear.hpp>
#include <tapegrad/nn/loss.hpp>
#include <tapegrad/nn/module.hpp>
#include <tapegrad/nn/normalization.hpp>
#include <tapegrad/nn/pooling.hpp>
#include <tapegrad/nn/rnn.hpp>
#include <tapegrad/nn/sequential.hpp>
#include <tapegrad/nn/serialize.hpp>
#include <tapegrad/nn/transformer.hpp>
#include <tapegrad/data/char_text.hpp>
#include <tapegrad/data/dataset.hpp>
#include <tapegrad/data/fashion_mnist.hpp>
#include <tapegrad/data/idx.hpp>
#include <tapegrad/data/loader.hpp>
#include <tapegrad/data/tensor_dataset.hpp>
#include <tapegrad/data/tensor_loader.hpp>
#include <tapegrad/io/array.hpp>
#include <tapegrad/io/checkpoint.hpp>
#include <tapegrad/io/generator.hpp>
#include <tapegrad/io/npz.hpp>
#include <tapegrad/io/options.hpp>
#include <tapegrad/io/safetensors.hpp>
#include <tapegrad/optim/adagrad.hpp>
#include <tapegrad/optim/adam.hpp>
#include <tapegrad/optim/bfgs.hpp>
#include <tapegrad/optim/clip.hpp>
#include <tapegrad/optim/lbfgs.hpp>
#include <tapegrad/optim/line_search.hpp>
#include <tapegrad/optim/lr_scheduler.hpp>
#include <tapegrad/optim/optimizer.hpp>
#include <tapegrad/optim/rmsprop.hpp>
#include <tapegrad/optim/serialize.hpp>
#include <tapegrad/optim/sgd.hpp>
// distributed/: only for programs that link tapegrad::distributed (built with MPI), which defines TAPEGRAD_HAS_MPI.
#ifdef TAPEGRAD_HAS_MPI
#include <tapegrad/distributed/distributed.hpp>
#endif
