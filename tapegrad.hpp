// The whole public API of tapegrad in one include.
#pragma once

#include <tapegrad/autograd/engine.hpp>
#include <tapegrad/autograd/factories.hpp>
#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/autograd/gradcheck.hpp>
#include <tapegrad/autograd/graph_print.hpp>
#include <tapegrad/autograd/ops/blas.hpp>
#include <tapegrad/autograd/ops/broadcast.hpp>
#include <tapegrad/autograd/ops/elementwise.hpp>
#include <tapegrad/autograd/ops/linalg.hpp>
#include <tapegrad/autograd/ops/reduce.hpp>
#include <tapegrad/autograd/ops/shape.hpp>
#include <tapegrad/autograd/random.hpp>
#include <tapegrad/autograd/tensor.hpp>
#include <tapegrad/autograd/variable.hpp>
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
