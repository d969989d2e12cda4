// The whole public API of tapegrad in one include.
#pragma once

#include <tapegrad/autograd/engine.hpp>
#include <tapegrad/autograd/factories.hpp>
#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/autograd/gradcheck.hpp>
#include <tapegrad/autograd/ops/blas.hpp>
#include <tapegrad/autograd/ops/broadcast.hpp>
#include <tapegrad/autograd/ops/conv_pool.hpp>
#include <tapegrad/autograd/ops/elementwise.hpp>
#include <tapegrad/autograd/ops/linalg.hpp>
#include <tapegrad/autograd/ops/reduce.hpp>
#include <tapegrad/autograd/ops/shape.hpp>
#include <tapegrad/autograd/random.hpp>
#include <tapegrad/autograd/tensor.hpp>
#include <tapegrad/autograd/variable.hpp>
