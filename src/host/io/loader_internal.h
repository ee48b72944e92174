/* The loader's shuffle draw, for tests of its distribution. */
#ifndef AX_LOADER_INTERNAL_H
#define AX_LOADER_INTERNAL_H

#include <stdint.h>

/* The j in [0, i] that Fisher-Yates swaps with position i in epoch `epoch` under seed. */
uint64_t ax_loader_draw(uint64_t seed, uint64_t epoch, uint64_t i);

#endif
