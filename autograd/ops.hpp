// Every built-in op, family by family (each family's header holds its ops' forwards and VJPs).
#pragma once

#include <tapegrad/autograd/ops/activation.hpp>
#include <tapegrad/autograd/ops/arithmetic.hpp>
#include <tapegrad/autograd/ops/attention.hpp>
#include <tapegrad/autograd/ops/broadcast.hpp>
#include <tapegrad/autograd/ops/conv.hpp>
#include <tapegrad/autograd/ops/conv_pool.hpp>
#include <tapegrad/autograd/ops/index.hpp>
#include <tapegrad/autograd/ops/layer_norm.hpp>
#include <tapegrad/autograd/ops/linalg.hpp>
#include <tapegrad/autograd/ops/loss.hpp>
#include <tapegrad/autograd/ops/math.hpp>
#include <tapegrad/autograd/ops/pool.hpp>
#include <tapegrad/autograd/ops/reduce.hpp>
#include <tapegrad/autograd/ops/sequence.hpp>
#include <tapegrad/autograd/ops/shape.hpp>
#include <tapegrad/autograd/ops/where.hpp>
