// An elementwise tanh loop as the generated code writes it (arena offsets).
#include "mcutrain_kernels.h"

float arena[2 * 4704];
void tanhLoop() {
  for (unsigned long i = 0; i < 4704; ++i)
    arena[i] = mcutrain::kernels::tanh(arena[i + 4704]);
}
