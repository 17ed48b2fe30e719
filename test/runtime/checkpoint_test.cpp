// Host test of runtime/mcutrain_checkpoint.h: a save cut after every
// possible byte count (power loss) leaves load() returning the old or the
// new state, never a mix. Prints one line per check and a closing
// "N passed, M failed"; exits non-zero on a failure.
#include "mcutrain_checkpoint.h"
#include "ram_checkpoint_storage.h"

#include <cstdio>
#include <cstring>
#include <vector>

static int passed = 0, failed = 0;

static void check(bool ok, const char *what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  (ok ? passed : failed)++;
}

/// Two slots in RAM, erased to 0xFF like flash; after `budget` more bytes
/// the power goes: the write stores what fits and fails.
// The state of a small model: parameters, optimizer state, counters.
static float weights[37];
static float momentum[37];
static float stepCount[1];
static short ages[5];
static mcutrain::StateBlock blocks[] = {
    {"w", weights, sizeof weights},
    {"w__state0", momentum, sizeof momentum},
    {"mcutrain_step_count", stepCount, sizeof stepCount},
    {"w__dgsu_age", ages, sizeof ages}};
constexpr std::size_t kBlocks = sizeof blocks / sizeof blocks[0];

struct Snapshot {
  std::vector<unsigned char> bytes;
  bool operator==(const Snapshot &o) const { return bytes == o.bytes; }
};

static Snapshot take() {
  Snapshot s;
  for (const auto &b : blocks)
    s.bytes.insert(s.bytes.end(), (unsigned char *)b.data,
                   (unsigned char *)b.data + b.bytes);
  return s;
}

static void fill(int seed) {
  for (int i = 0; i < 37; ++i) {
    weights[i] = (float)(seed * 100 + i) * 0.25f;
    momentum[i] = -(float)(seed + i);
  }
  stepCount[0] = (float)seed;
  for (int i = 0; i < 5; ++i)
    ages[i] = (short)(seed * 7 + i);
}

int main() {
  const std::size_t slotBytes = mcutrain::checkpoint_bytes(blocks, kBlocks);
  check(slotBytes == 20 + 37 * 4 * 2 + 4 + 5 * 2,
        "checkpoint_bytes: 20-byte header + every block");
  const char text[] = "123456789";
  check(mcutrain::crc32(text, 9) == 0xCBF43926u,
        "crc32 of \"123456789\" is 0xCBF43926");

  // Nothing saved yet.
  RamStorage empty(slotBytes);
  fill(9);
  Snapshot untouched = take();
  check(mcutrain::load_checkpoint(empty, blocks, kBlocks) == 0 &&
            take() == untouched,
        "load from erased storage finds nothing, leaves the state alone");

  // Cut the very first save at every byte: nothing or the new state.
  bool firstOk = true;
  fill(1);
  Snapshot s1 = take();
  std::size_t fullSave = 0;
  {
    RamStorage probe(slotBytes);
    mcutrain::save_checkpoint(probe, blocks, kBlocks);
    fullSave = probe.written;
  }
  for (std::size_t cut = 0; cut <= fullSave; ++cut) {
    RamStorage st(slotBytes);
    st.budget = cut;
    fill(1);
    bool saved = mcutrain::save_checkpoint(st, blocks, kBlocks);
    fill(9);
    std::uint32_t seq = mcutrain::load_checkpoint(st, blocks, kBlocks);
    if (cut < fullSave)
      firstOk &= !saved && seq == 0 && take() == untouched;
    else
      firstOk &= saved && seq == 1 && take() == s1;
  }
  check(firstOk, "first save cut after every byte: nothing or the new state");

  // Two good checkpoints, then a third cut at every byte (it overwrites the
  // slot of the first): always the second or the third, never a mix.
  RamStorage base(slotBytes);
  fill(1);
  mcutrain::save_checkpoint(base, blocks, kBlocks);
  fill(2);
  Snapshot s2 = take();
  bool second = mcutrain::save_checkpoint(base, blocks, kBlocks);
  fill(3);
  Snapshot s3 = take();
  bool cutOk = second;
  std::size_t oldCount = 0, newCount = 0;
  for (std::size_t cut = 0; cut <= fullSave; ++cut) {
    RamStorage st = base;
    st.budget = cut;
    fill(3);
    bool saved = mcutrain::save_checkpoint(st, blocks, kBlocks);
    fill(9);
    std::uint32_t seq = mcutrain::load_checkpoint(st, blocks, kBlocks);
    Snapshot got = take();
    if (got == s2 && seq == 2 && !saved)
      ++oldCount;
    else if (got == s3 && seq == 3 && saved && cut == fullSave)
      ++newCount;
    else
      cutOk = false;
  }
  check(cutOk && oldCount == fullSave && newCount == 1,
        "third save cut after every byte: the second state until the last "
        "byte, then the third, never a mix");

  // Alternation: successive saves go to alternating slots, sequence grows.
  RamStorage alt(slotBytes);
  bool altOk = true;
  for (int i = 1; i <= 5; ++i) {
    fill(i);
    Snapshot want = take();
    altOk &= mcutrain::save_checkpoint(alt, blocks, kBlocks);
    fill(9);
    altOk &= mcutrain::load_checkpoint(alt, blocks, kBlocks) == (unsigned)i;
    altOk &= take() == want;
  }
  check(altOk, "five saves: each loads back with sequence 1..5");

  // A flipped bit in the newest checkpoint: the CRC rejects it and load
  // falls back to the one before.
  RamStorage flip = base; // holds sequences 1 (slot 0) and 2 (slot 1)
  flip.slots[1][slotBytes / 2] ^= 0x10;
  fill(9);
  std::uint32_t seq = mcutrain::load_checkpoint(flip, blocks, kBlocks);
  fill(1);
  Snapshot s1again = take();
  fill(9);
  mcutrain::load_checkpoint(flip, blocks, kBlocks);
  check(seq == 1 && take() == s1again,
        "a corrupted newest checkpoint falls back to the previous one");

  // A checkpoint of another model (other payload size) is not loaded.
  mcutrain::StateBlock other[] = {{"w", weights, sizeof weights}};
  fill(9);
  Snapshot before = take();
  check(mcutrain::load_checkpoint(base, other, 1) == 0 && take() == before,
        "a checkpoint of a different state layout is refused");

  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
