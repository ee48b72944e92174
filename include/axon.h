/* axon: a neural-network library in C11 with hand-written CUDA kernels.
 * One include for everything: core (status, context, tensor, RNG) and ops. */
#ifndef AXON_H
#define AXON_H

#include "axon/core.h"
#include "axon/ops.h"
#include "axon/graph.h"
#include "axon/optim.h"
#include "axon/io.h"

#define AXON_VERSION_MAJOR 0
#define AXON_VERSION_MINOR 1
#define AXON_VERSION_PATCH 0

#endif
