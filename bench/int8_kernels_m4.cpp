// Instructions per MAC of the int8 kernels (runtime/mcutrain_int8_kernels.h)
// on QEMU's Cortex-M4 (mps2-an386, -icount shift=0: SysTick counts
// instructions, calibrated against a loop of known length). Built and run by
// bench/int8_kernels_m4.py; the layers are the DemoCNN's and typical
// MobileNet / DS-CNN shapes. Each figure is the whole kernel call: weight
// widening, input widening, products and requantization. The float
// gradient kernels of the int8 layers (qconv2d_grad_weight / _grad_input,
// qgemm_grad_a) follow: dy float, the int8 operand, a float result.
#include "mcutrain_kernels.h"
#include "measure_m4.h"
#include "semihosting.h"
#include "systick.h"

#include <cstdint>

namespace {

namespace k = mcutrain::kernels;

alignas(8) std::int8_t input[64 * 1024], output[64 * 1024], weights[40960];
alignas(8) std::int8_t scratch[24 * 1024];
float gradOut[16 * 1024], gradIn[12 * 1024], weightScale[256];
std::int32_t multiplier[256], shift[256];
std::int64_t offset[256];

/// (4 repetitions: the figures of docs/quantization.md.)
template <typename Layer>
void measure(const char *name, std::uint32_t macs, Layer layer) {
  bench::measure<4>(name, macs, layer);
}

template <int C, int H, int W, int F, int KH, int KW, int S, int P>
void conv(const char *name) {
  constexpr int OH = (H + 2 * P - KH) / S + 1, OW = (W + 2 * P - KW) / S + 1;
  static_assert(k::int8::convScratchBytes(C, W, F, KH, KW, OW, S, P, 1, 1, 1,
                                          OH, S) <= int(sizeof scratch));
  static_assert(C * H * W <= int(sizeof input) &&
                F * OH * OW <= int(sizeof output) &&
                F * C * KH * KW <= int(sizeof weights));
  measure(name, std::uint32_t(F * OH * OW * C * KH * KW), [] {
    k::qconv2d<1, C, H, W, F, KH, KW, OH, OW, S, S, P, P, 1, 1, 1, 3, 0, 255,
               1>(input, weights, multiplier, shift, offset, output, scratch);
  });
}

template <int C, int H, int W, int S> void depthwise(const char *name) {
  constexpr int OH = (H + 2 - 3) / S + 1, OW = (W + 2 - 3) / S + 1;
  static_assert(k::int8::depthwiseScratchBytes(W, 3, 3, OW, S, 1, 1, 1) <=
                int(sizeof scratch));
  measure(name, std::uint32_t(C * OH * OW * 9), [] {
    k::qdepthwise2d<1, C, H, W, 3, 3, OH, OW, S, S, 1, 1, 1, 1, 1, 3, 0, 255,
                    1>(input, weights, multiplier, shift, offset, output,
                       scratch);
  });
}

template <int N, int K> void gemm(const char *name) {
  static_assert(N * K <= int(sizeof weights));
  measure(name, std::uint32_t(N * K), [] {
    k::qgemm<1, N, K, 1, 1, 3, 0, 255, 1>(input, weights, multiplier, shift,
                                          offset, output, scratch);
  });
}

/// Weight and input gradient of a convolution (groups G) from its int8
/// input and weight.
template <int C, int H, int W, int F, int G, int KH, int KW, int S, int P>
void convGrads(const char *weightName, const char *inputName) {
  constexpr int OH = (H + 2 * P - KH) / S + 1, OW = (W + 2 * P - KW) / S + 1;
  constexpr int CG = C / G;
  static_assert(
      k::int8::convGradWeightScratchBytes(C, CG, H, W, KH, KW, OH, OW, S, S, P,
                                          P, 1, 1) <= int(sizeof scratch) &&
      k::int8::convGradInputScratchBytes(C, CG, H, W, F, KH, KW, OH, OW, S, S,
                                         P, P, 1, 1) <= int(sizeof scratch));
  static_assert(F * OH * OW <= int(sizeof gradOut / 4) &&
                C * H * W <= int(sizeof gradIn / 4) &&
                F * CG * KH * KW <= int(sizeof weights) && F <= 256);
  constexpr std::uint32_t macs = F * OH * OW * CG * KH * KW;
  measure(weightName, macs, [] {
    k::qconv2d_grad_weight<1, C, H, W, F, CG, KH, KW, OH, OW, S, S, P, P, 1, 1,
                           1, 3>(gradOut, input, gradIn, 0.02f, scratch);
  });
  if (!inputName)
    return;
  measure(inputName, macs, [] {
    k::qconv2d_grad_input<1, C, H, W, F, CG, KH, KW, OH, OW, S, S, P, P, 1, 1>(
        gradOut, weights, weightScale, gradIn, scratch);
  });
}
} // namespace

extern "C" void SysTick_Handler() { systick::onWrap(); }

int main() {
  systick::start();
  std::uint64_t loopTicks = 0;
  bench::instructionsPerTick = systick::calibrate(loopTicks);
  for (int i = 0; i < 256; ++i) {
    multiplier[i] = 1 << 30;
    shift[i] = 40;
    offset[i] = std::int64_t(1) << 39;
  }
  for (unsigned i = 0; i < sizeof input; ++i)
    input[i] = std::int8_t(i * 37u);
  for (unsigned i = 0; i < sizeof weights; ++i)
    weights[i] = std::int8_t(i * 11u);
  for (unsigned i = 0; i < sizeof gradOut / 4; ++i)
    gradOut[i] = float(int(i % 61) - 30) * 0.01f;
  for (float &s : weightScale)
    s = 0.004f;
  semihosting::Line head;
  head << "layer | MACs | instructions | per MAC";
  head.print();
  // C H W F KH KW S P
  conv<1, 28, 28, 8, 3, 3, 1, 1>("DemoCNN conv1 3x3 1->8, 28x28 (im2col)");
  conv<8, 14, 14, 16, 3, 3, 1, 1>("DemoCNN conv2 3x3 8->16, 14x14");
  gemm<10, 784>("DemoCNN fc 784->10 (batch 1)");
  conv<16, 16, 16, 32, 3, 3, 1, 1>("conv 3x3 16->32, 16x16");
  conv<64, 8, 8, 64, 1, 1, 1, 0>("pointwise 64->64, 8x8 (DS-CNN)");
  conv<16, 16, 16, 96, 1, 1, 1, 0>("pointwise 16->96, 16x16 (MobileNetV2)");
  conv<96, 16, 16, 24, 1, 1, 1, 0>("pointwise 96->24, 16x16 (MobileNetV2)");
  conv<3, 32, 32, 16, 3, 3, 2, 1>("conv 3x3 stride 2 3->16, 32x32 (im2col)");
  gemm<128, 128>("fc 128->128 (batch 1)");
  depthwise<96, 16, 16, 1>("depthwise 3x3 96 channels, 16x16 (MobileNetV2)");
  depthwise<64, 25, 5, 1>("depthwise 3x3 64 channels, 25x5 (DS-CNN)");
  depthwise<48, 32, 32, 2>("depthwise 3x3 stride 2, 48 channels, 32x32");
  // Small images (MobileNetV2-0.35 at 32x32: its late layers).
  conv<64, 2, 2, 192, 1, 1, 1, 0>("pointwise 64->192, 2x2 (Gemm rows)");
  conv<112, 1, 1, 336, 1, 1, 1, 0>("pointwise 112->336, 1x1 (Gemm rows)");
  depthwise<192, 2, 2, 1>("depthwise 3x3 192 channels, 2x2 (direct taps)");
  depthwise<96, 4, 4, 2>("depthwise 3x3 stride 2, 96 channels, 4x4 (direct)");
  // C H W F G KH KW S P
  convGrads<1, 28, 28, 8, 1, 3, 3, 1, 1>(
      "grad weight: DemoCNN conv1 (C 1, 28x28)", nullptr);
  convGrads<8, 14, 14, 16, 1, 3, 3, 1, 1>("grad weight: DemoCNN conv2",
                                          "grad input: DemoCNN conv2");
  convGrads<16, 16, 16, 32, 1, 3, 3, 1, 1>(
      "grad weight: conv 3x3 16->32, 16x16",
      "grad input: conv 3x3 16->32, 16x16");
  convGrads<64, 8, 8, 64, 1, 1, 1, 1, 0>("grad weight: pointwise 64->64, 8x8",
                                         "grad input: pointwise 64->64, 8x8");
  convGrads<48, 16, 16, 48, 48, 3, 3, 1, 1>(
      "grad weight: depthwise 48 channels, 16x16",
      "grad input: depthwise 48 channels, 16x16");
  convGrads<48, 16, 16, 48, 48, 3, 3, 2, 1>(
      "grad weight: depthwise stride 2, 48 channels, 16x16",
      "grad input: depthwise stride 2, 48 channels, 16x16");
  measure("grad input: DemoCNN fc 784->10 (batch 1)", 7840, [] {
    k::qgemm_grad_a<1, 10, 784, 1>(gradOut, weights, weightScale, gradIn);
  });
  semihosting::exit(0);
}
