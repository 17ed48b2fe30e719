// Instructions per MAC of the float kernels (runtime/mcutrain_kernels.h) on
// QEMU's Cortex-M4 (mps2-an386, -icount shift=0: SysTick counts
// instructions, calibrated against a loop of known length). Built and run by
// bench/kernels_m4.py; the layers are the DemoCNN's, the 784-64-10 MLP's and
// typical ResNet-8 / DS-CNN shapes, each as the generated code calls it
// (the forward pass with its bias and ReLU, the input and weight gradients,
// the fully connected layers' batch-1 products and SGD updates). Each figure
// is the whole kernel call, packing and tails included.
#include "mcutrain_kernels.h"
#include "measure_m4.h"
#include "semihosting.h"
#include "systick.h"

#include <cstdint>

namespace {

namespace k = mcutrain::kernels;

float input[20 * 1024], output[20 * 1024], weights[51200], bias[256];
float gradOut[20 * 1024], gradIn[20 * 1024];
float rate = 0.01f;

using bench::measure;

/// A KxK convolution with padding P, stride S, on an already padded input
/// (the generated code pads first): forward with bias and ReLU, then the
/// weight gradient and (unless first) the input gradient.
template <int C, int H, int W, int F, int KH, int KW, int S, int P>
void conv(const char *name, bool first = false) {
  constexpr int HP = H + 2 * P, WP = W + 2 * P;
  constexpr int OH = (HP - KH) / S + 1, OW = (WP - KW) / S + 1;
  static_assert(C * HP * WP <= int(sizeof input / 4) &&
                F * OH * OW <= int(sizeof output / 4) &&
                F * C * KH * KW <= int(sizeof weights / 4) && F <= 256);
  constexpr std::uint32_t macs = F * OH * OW * C * KH * KW;
  measure(name, macs, [] {
    k::conv2d_bias_act<1, C, HP, WP, F, C, KH, KW, OH, OW, S, S, 1, 1, 1,
                       k::kRelu>(input, weights, output, bias, 0.0f, 0.0f);
  });
  if (first) // (the products alone: the bias and ReLU weigh on 9 MACs)
    measure("  without bias and ReLU (conv2d)", macs, [] {
      k::conv2d<1, C, HP, WP, F, C, KH, KW, OH, OW, S, S, 1, 1, 1>(
          input, weights, output);
    });
  measure("  weight gradient", macs, [] {
    k::conv2d_grad_weight<1, C, HP, WP, F, C, KH, KW, OH, OW, S, S, 1, 1, 1>(
        gradOut, input, weights);
  });
  if (first)
    return;
  if constexpr (S == 1) {
    // The input gradient correlates dy padded by KH-1-P with the flipped
    // weights.
    constexpr int QH = OH + 2 * (KH - 1 - P), QW = OW + 2 * (KW - 1 - P);
    static_assert(F * QH * QW <= int(sizeof gradOut / 4));
    measure("  input gradient", macs, [] {
      k::conv2d_grad_input<1, C, H, W, F, C, KH, KW, QH, QW, 1, 1, 1>(
          gradOut, weights, gradIn);
    });
  } else {
    measure("  input gradient (strided)", macs, [] {
      k::conv2d_grad_input_strided<1, C, HP, WP, F, C, KH, KW, OH, OW, S, S, 1,
                                   1, 1>(gradOut, weights, gradIn);
    });
  }
}

/// A batch-1 Linear layer N -> M: the forward product, the SGD step with
/// the input gradient (last layers) or the plain update (first layers).
template <int M, int N> void linear(const char *name, bool first) {
  static_assert(M * N <= int(sizeof weights / 4) && N <= 20 * 1024);
  measure(name, M * N,
          [] { k::gemm<1, M, N, 0, 1>(input, weights, output, 1.0f); });
  if (first) {
    measure("  SGD update", 2 * M * N,
            [] { k::sgd_outer_update<M, N>(gradOut, input, &rate, weights); });
    return;
  }
  measure("  SGD update and input gradient", 2 * M * N, [] {
    k::sgd_outer_update_input_grad<M, N, true>(gradOut, input, &rate, gradIn,
                                               weights);
  });
}
/// A 3x3 depthwise layer (C channels, padding 1) as the generated code
/// calls it: a padded plane at a time, forward with bias and ReLU, the
/// weight gradient.
template <int C, int H, int W> void depthwise(const char *name) {
  constexpr int HP = H + 2, WP = W + 2;
  static float plane[HP * WP];
  static_assert(C * H * W <= int(sizeof input / 4));
  constexpr std::uint32_t macs = C * H * W * 9;
  measure(name, macs, [] {
    k::depthwise_conv2d_bias_act<1, C, H, W, HP, WP, 1, 1, 3, 3, H, W, 1, 1, 1,
                                 1, k::kRelu>(input, weights, output, plane,
                                              bias, 0.0f, 0.0f);
  });
  measure("  weight gradient", macs, [] {
    k::depthwise_conv2d_grad_weight<1, C, H, W, HP, WP, 1, 1, 3, 3, H, W, 1, 1,
                                    1, 1>(gradOut, input, weights, plane);
  });
}
} // namespace

extern "C" void SysTick_Handler() { systick::onWrap(); }

int main() {
  systick::start();
  std::uint64_t loopTicks = 0;
  bench::instructionsPerTick = systick::calibrate(loopTicks);
  for (unsigned i = 0; i < sizeof input / 4; ++i)
    input[i] = float(int(i * 37u % 255u) - 127) / 127.0f;
  for (unsigned i = 0; i < sizeof weights / 4; ++i)
    weights[i] = float(int(i * 11u % 61u) - 30) * 0.01f;
  for (unsigned i = 0; i < sizeof gradOut / 4; ++i)
    gradOut[i] = float(int(i % 61) - 30) * 0.001f;
  semihosting::Line head;
  head << "layer | MACs | instructions | per MAC";
  head.print();
  // C H W F KH KW S P
  conv<1, 28, 28, 8, 3, 3, 1, 1>("DemoCNN conv1 3x3 1->8, 28x28", true);
  conv<8, 14, 14, 16, 3, 3, 1, 1>("DemoCNN conv2 3x3 8->16, 14x14");
  linear<10, 784>("DemoCNN fc 784->10", false);
  linear<64, 784>("MLP fc1 784->64", true);
  linear<10, 64>("MLP fc2 64->10", false);
  conv<16, 32, 32, 16, 3, 3, 1, 1>("ResNet-8 conv 3x3 16->16, 32x32");
  conv<16, 32, 32, 32, 3, 3, 2, 1>("ResNet-8 conv 3x3 stride 2 16->32");
  conv<64, 25, 5, 64, 1, 1, 1, 0>("DS-CNN pointwise 64->64, 25x5");
  depthwise<64, 25, 5>("DS-CNN depthwise 3x3 64 channels, 25x5");
  semihosting::exit(0);
}
