// Checkpoint storage in RAM for tests: two slots erased to 0xFF like
// flash; after `budget` more bytes the power goes (the write stores what
// fits and fails).
#ifndef MCUTRAIN_TEST_RAM_CHECKPOINT_STORAGE_H
#define MCUTRAIN_TEST_RAM_CHECKPOINT_STORAGE_H

#include "mcutrain_checkpoint.h"

#include <cstring>
#include <vector>

class RamStorage : public mcutrain::CheckpointStorage {
public:
  explicit RamStorage(std::size_t bytes) {
    for (auto &s : slots)
      s.assign(bytes, 0xFF);
  }
  bool read(unsigned slot, std::size_t offset, void *dst,
            std::size_t n) override {
    if (slot > 1 || offset + n > slots[slot].size())
      return false;
    std::memcpy(dst, slots[slot].data() + offset, n);
    return true;
  }
  bool write(unsigned slot, std::size_t offset, const void *src,
             std::size_t n) override {
    if (slot > 1 || offset + n > slots[slot].size())
      return false;
    std::size_t fits = n < budget ? n : budget;
    std::memcpy(slots[slot].data() + offset, src, fits);
    budget -= fits;
    written += fits;
    return fits == n;
  }
  std::vector<unsigned char> slots[2];
  std::size_t budget = (std::size_t)-1, written = 0;
};

#endif
