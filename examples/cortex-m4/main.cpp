// Trains the generated code on the device: accuracy on held-out images
// before and after, the mean loss per epoch, and the cost of a training
// step in instructions (SysTick under QEMU's -icount, calibrated against a
// loop of known instruction count). Exit status 0 when the loss fell and
// accuracy rose (unless data.h says the test set is too small to tell).
#include "data.h"
#include "model.h"
#include "semihosting.h"
#include "systick.h"

#include <cstdint>

namespace {

using systick::ticks;

// Image i of a set: bytes scaled into a RAM buffer, or (prepare.py
// --float-inputs) floats read where they are in flash, as a 128x128x3
// image (196,608 B) would not leave the model room in 256 KiB of RAM.
[[maybe_unused]] const float *input(const std::uint8_t *pixels, unsigned i) {
  static float image[model::kInputSize];
  for (unsigned p = 0; p < model::kInputSize; ++p)
    image[p] = (float)pixels[i * model::kInputSize + p] / 255.0f;
  return image;
}

[[maybe_unused]] const float *input(const float *inputs, unsigned i) {
  return inputs + i * model::kInputSize;
}

// Ticks and calls of predict() (the forward pass alone).
std::uint64_t predictTicks = 0, predictCalls = 0;

float accuracy() {
  unsigned right = 0;
  float logits[model::kOutputSize];
  for (unsigned i = 0; i < kTestImages; ++i) {
    const float *x = input(kTestPixels, i);
    std::uint64_t s = ticks();
    model::predict(x, logits);
    predictTicks += ticks() - s;
    ++predictCalls;
    right += mcutrain::argmax(logits, model::kOutputSize) == kTestLabels[i];
  }
  return 100.0f * (float)right / (float)kTestImages;
}

void printAccuracy(const char *when, float percent) {
  semihosting::Line l;
  l << "accuracy " << when << ": ";
  l.fixed(percent, 2) << "%";
  l.print();
}

} // namespace

// The core and board, from the build (CMakeLists.txt's QEMU_MACHINE).
#ifndef MCUTRAIN_BOARD
#define MCUTRAIN_BOARD "Cortex-M4 (QEMU mps2-an386)"
#endif

extern "C" void SysTick_Handler() { systick::onWrap(); }

int main() {
  using semihosting::Line;
  systick::start();
  std::uint64_t loopTicks = 0;
  double perTick = systick::calibrate(loopTicks);

  model::init();
  Line title;
  title << "mcutrain on " << MCUTRAIN_BOARD << ": " << (int)kTrainImages
        << " training images x " << (int)kEpochs << " epochs, "
        << (int)kTestImages << " test images";
  title.print();
  Line l0;
  l0 << "RAM planned "
     << (std::uint64_t)(model::kArenaBytes + model::kTrainableParamBytes +
                        model::kOptimizerStateBytes)
     << " B; MACs per training step " << (std::uint64_t)model::kTrainStepMacs;
  l0.print();
  float before = accuracy();
  printAccuracy("before", before);

  float firstLoss = 0.0f, lastLoss = 0.0f;
  std::uint64_t trainTicks = 0, macs = 0, steps = 0;
  for (unsigned e = 0; e < kEpochs; ++e) {
    double sum = 0.0;
    for (unsigned i = 0; i < kTrainImages; ++i) {
      const float *x = input(kTrainPixels, i);
      std::uint64_t s = ticks();
      float loss = model::train_step(x, (int)kTrainLabels[i]);
      trainTicks += ticks() - s;
      macs += model::last_step().macs;
      ++steps;
      sum += loss;
    }
    float mean = (float)(sum / kTrainImages);
    if (e == 0)
      firstLoss = mean;
    lastLoss = mean;
    Line l;
    l << "epoch " << (int)(e + 1) << " mean loss ";
    l.fixed(mean, 4);
    l.print();
  }
  float after = accuracy();
  printAccuracy("after", after);
  double instructions = (double)trainTicks * perTick;
  Line l3;
  l3 << "instructions per training step: "
     << (std::uint64_t)(instructions / (double)steps) << "; per MAC: ";
  l3.fixed((float)(instructions / (double)macs), 2);
#if defined(__riscv)
  l3 << " (minstret x ";
#else
  l3 << " (SysTick x ";
#endif
  l3.fixed((float)perTick, 2)
      << " instructions per tick, calibrated: " << loopTicks
      << " ticks for 4000000)";
  l3.print();
  double forward = (double)predictTicks * perTick / (double)predictCalls;
  Line l5;
  l5 << "instructions per forward pass (predict): " << (std::uint64_t)forward
     << "; per MAC: ";
  l5.fixed((float)(forward / (double)model::kForwardMacs), 2);
  l5.print();
  // A handful of test images (prepare.py --no-accuracy-check) measures no
  // rise; the loss must fall all the same.
  bool ok = lastLoss < firstLoss && (after > before || !kAccuracyMustRise);
  Line l4;
  l4 << (ok ? "PASSED" : "FAILED") << ": loss ";
  l4.fixed(firstLoss, 4) << " -> ";
  l4.fixed(lastLoss, 4) << ", accuracy ";
  l4.fixed(before, 2) << "% -> ";
  l4.fixed(after, 2) << "%";
  l4.print();
  return ok ? 0 : 1;
}
