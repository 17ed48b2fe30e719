// An elementwise tanh loop as the generated code writes it (arena offsets).
#include "mcutrain_kernels.h"

float arena[2 * 4704];
void tanhLoop() {
  for (unsigned long i = 0; i < 4704; ++i)
    arena[i] = mcutrain::kernels::tanh(arena[i + 4704]);
}
// The SiLU as the generated code writes it: x * sigmoid(x), e^-x by the
// runtime's exp.
void siluLoop() {
  for (unsigned long i = 0; i < 4704; ++i) {
    float x = arena[i + 4704];
    arena[i] = x * (1.0f / (1.0f + mcutrain::kernels::exp(-x)));
  }
}
