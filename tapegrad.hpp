// The whole public API of tapegrad in one include.
#pragma once

#include <tapegrad/autograd/engine.hpp>
#include <tapegrad/autograd/grad_mode.hpp>
#include <tapegrad/autograd/ops/broadcast.hpp>
#include <tapegrad/autograd/ops/elementwise.hpp>
#include <tapegrad/autograd/tensor.hpp>
#include <tapegrad/autograd/variable.hpp>
