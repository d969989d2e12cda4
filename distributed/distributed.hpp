// The distributed part in one include: Session, collectives, broadcast, gradient averaging, DataParallel, the sampler,
// checkpoints.
#pragma once

#include <tapegrad/distributed/broadcast.hpp>
#include <tapegrad/distributed/checkpoint.hpp>
#include <tapegrad/distributed/collectives.hpp>
#include <tapegrad/distributed/data_parallel.hpp>
#include <tapegrad/distributed/gradient_averager.hpp>
#include <tapegrad/distributed/sampler.hpp>
#include <tapegrad/distributed/session.hpp>
