// Resuming from a checkpoint continues training exactly: the generated
// package's save_checkpoint/load_checkpoint carry parameters, optimizer
// state, counters and the sparse-update controllers.
#include "net.h"
#include "ram_checkpoint_storage.h"
#include "trainable_params.h"

#include <cstdio>
#include <cstring>
#include <vector>

static std::uint32_t rng = 7;
static float nextFloat() {
  rng = rng * 1664525u + 1013904223u;
  return (float)(rng >> 8) / 16777216.0f;
}

int main() {
  const int warm = 20, more = 20;
  std::vector<float> x((warm + more) * net::kInputSize);
  std::vector<int> y(warm + more);
  for (float &v : x)
    v = nextFloat();
  for (int &l : y)
    l = (int)(nextFloat() * net::kNumClasses) % (int)net::kNumClasses;
  RamStorage storage(net::checkpoint_bytes());
  net::init();
  for (int s = 0; s < warm; ++s)
    net::train_step(&x[s * net::kInputSize], y[s]);
  bool saved = net::save_checkpoint(storage);
  std::vector<float> first;
  for (int s = warm; s < warm + more; ++s)
    first.push_back(net::train_step(&x[s * net::kInputSize], y[s]));
  std::vector<float> p1 = params();
  unsigned skipped1 = net::last_step().skipped_steps;

  // A fresh start that wanders off, then the checkpoint.
  net::init();
  for (int s = 0; s < 3; ++s)
    net::train_step(&x[(warm + more - 1 - s) * net::kInputSize], y[s]);
  std::uint32_t seq = net::load_checkpoint(storage);
  std::vector<float> second;
  for (int s = warm; s < warm + more; ++s)
    second.push_back(net::train_step(&x[s * net::kInputSize], y[s]));
  std::vector<float> p2 = params();

  // Determinism: the whole run again from init() gives the same bits.
  net::init();
  for (int s = 0; s < warm + more; ++s)
    net::train_step(&x[s * net::kInputSize], y[s]);
  std::vector<float> p3 = params();
  bool deterministic = same(p1, p3);
  std::printf("%s two runs from init(): parameters bit-identical\n",
              deterministic ? "ok  " : "FAIL");

  std::printf("checkpoint: %zu blocks, %zu bytes per slot\n",
              net::kNumCheckpointBlocks, net::checkpoint_bytes());
  for (std::size_t i = 0; i < net::kNumCheckpointBlocks; ++i)
    std::printf("  block %s %zu B\n", net::kCheckpointBlocks[i].name,
                net::kCheckpointBlocks[i].bytes);
  bool resumed = same(first, second) && same(p1, p2);
  std::printf("%s resumed run: %d steps, losses and parameters bit-identical "
              "(saved %d, sequence %u, skipped steps in the first run %u)\n",
              saved && seq == 1 && resumed ? "ok  " : "FAIL", more, (int)saved,
              (unsigned)seq, skipped1);
  return saved && seq == 1 && resumed && deterministic ? 0 : 1;
}
