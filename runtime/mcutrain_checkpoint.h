// mcutrain_checkpoint.h - power-safe checkpoints of a generated model's
// training state (trainable parameters, optimizer state, counters, sparse
// controllers). Dependency-free like mcutrain_runtime.h: no heap, no
// exceptions, no RTTI.
//
// Two slots (e.g. two flash sectors or two files) take turns. A slot holds
// a 20-byte header {magic, version, sequence number, payload bytes, CRC-32
// of header fields and payload} followed by the payload (every state block
// in order). save() writes the slot that does not hold the newest good
// checkpoint, payload first and header last; a power cut at any byte
// leaves that slot failing its CRC, so load() still finds the previous
// checkpoint in the other slot: it returns the old or the new state, never
// a mix.
#ifndef MCUTRAIN_CHECKPOINT_H
#define MCUTRAIN_CHECKPOINT_H

#include <cstddef>
#include <cstdint>

namespace mcutrain {

/// CRC-32 (IEEE 802.3, reflected 0xEDB88320), continued from `crc` (0 to
/// start). Bitwise: no table in flash.
inline std::uint32_t crc32(const void *data, std::size_t n,
                           std::uint32_t crc = 0) {
  const std::uint8_t *p = static_cast<const std::uint8_t *>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int b = 0; b < 8; ++b)
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

/// Where checkpoints live: two slots, each at least checkpoint_bytes()
/// long. Return false on an I/O error.
class CheckpointStorage {
public:
  virtual bool read(unsigned slot, std::size_t offset, void *dst,
                    std::size_t n) = 0;
  virtual bool write(unsigned slot, std::size_t offset, const void *src,
                     std::size_t n) = 0;

protected:
  ~CheckpointStorage() = default;
};

/// One piece of state a checkpoint carries (the generated package lists
/// them as kCheckpointBlocks).
struct StateBlock {
  const char *name;
  void *data;
  std::size_t bytes;
};

namespace detail {
constexpr std::uint32_t kCheckpointMagic = 0x4B43544Du; // "MTCK"
constexpr std::uint32_t kCheckpointVersion = 1;
constexpr std::size_t kCheckpointHeaderBytes = 20;

struct CheckpointHeader {
  std::uint32_t magic, version, sequence, payload, crc;
};

inline void put32(std::uint8_t *p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = (std::uint8_t)(v >> (8 * i));
}
inline std::uint32_t get32(const std::uint8_t *p) {
  return (std::uint32_t)p[0] | (std::uint32_t)p[1] << 8 |
         (std::uint32_t)p[2] << 16 | (std::uint32_t)p[3] << 24;
}

inline std::size_t payload_bytes(const StateBlock *blocks, std::size_t n) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < n; ++i)
    total += blocks[i].bytes;
  return total;
}

/// The first 16 header bytes (little endian), the CRC's start.
inline void header_fields(std::uint8_t *out, std::uint32_t sequence,
                          std::uint32_t payload) {
  put32(out, kCheckpointMagic);
  put32(out + 4, kCheckpointVersion);
  put32(out + 8, sequence);
  put32(out + 12, payload);
}

/// Reads and checks slot `slot`: the header matches this state's payload
/// size and the CRC over header fields and payload holds (the payload is
/// streamed through a small buffer, the state is not touched).
inline bool valid_slot(CheckpointStorage &s, unsigned slot, std::size_t payload,
                       CheckpointHeader &h) {
  std::uint8_t raw[kCheckpointHeaderBytes];
  if (!s.read(slot, 0, raw, sizeof raw))
    return false;
  h = {get32(raw), get32(raw + 4), get32(raw + 8), get32(raw + 12),
       get32(raw + 16)};
  if (h.magic != kCheckpointMagic || h.version != kCheckpointVersion ||
      h.payload != payload || h.sequence == 0)
    return false;
  std::uint32_t crc = crc32(raw, 16);
  std::uint8_t buf[64];
  for (std::size_t at = 0; at < payload; at += sizeof buf) {
    std::size_t n = payload - at < sizeof buf ? payload - at : sizeof buf;
    if (!s.read(slot, kCheckpointHeaderBytes + at, buf, n))
      return false;
    crc = crc32(buf, n, crc);
  }
  return crc == h.crc;
}

/// The slot holding the newest good checkpoint (-1 if none), its sequence.
inline int newest_slot(CheckpointStorage &s, std::size_t payload,
                       std::uint32_t &sequence) {
  int best = -1;
  sequence = 0;
  for (unsigned slot = 0; slot < 2; ++slot) {
    CheckpointHeader h;
    if (valid_slot(s, slot, payload, h) && h.sequence > sequence) {
      best = (int)slot;
      sequence = h.sequence;
    }
  }
  return best;
}
} // namespace detail

/// Bytes each slot needs for this state.
inline std::size_t checkpoint_bytes(const StateBlock *blocks, std::size_t n) {
  return detail::kCheckpointHeaderBytes + detail::payload_bytes(blocks, n);
}

/// Saves the state into the slot not holding the newest good checkpoint.
/// Returns false on an I/O error (the previous checkpoint stays loadable).
inline bool save_checkpoint(CheckpointStorage &s, const StateBlock *blocks,
                            std::size_t n) {
  std::size_t payload = detail::payload_bytes(blocks, n);
  std::uint32_t sequence;
  int newest = detail::newest_slot(s, payload, sequence);
  unsigned slot = newest == 0 ? 1u : 0u;
  std::uint8_t raw[detail::kCheckpointHeaderBytes];
  detail::header_fields(raw, sequence + 1, (std::uint32_t)payload);
  std::uint32_t crc = crc32(raw, 16);
  std::size_t at = detail::kCheckpointHeaderBytes;
  for (std::size_t i = 0; i < n; ++i) {
    if (!s.write(slot, at, blocks[i].data, blocks[i].bytes))
      return false;
    crc = crc32(blocks[i].data, blocks[i].bytes, crc);
    at += blocks[i].bytes;
  }
  // The header last: until it is complete the slot fails its check.
  detail::put32(raw + 16, crc);
  return s.write(slot, 0, raw, sizeof raw);
}

/// Loads the newest good checkpoint into the state. Returns its sequence
/// number (1 for the first save), or 0 if neither slot holds a good one
/// (the state is then untouched) or a read fails half-way (then the state
/// is partly loaded: call the model's init()).
inline std::uint32_t load_checkpoint(CheckpointStorage &s,
                                     const StateBlock *blocks, std::size_t n) {
  std::size_t payload = detail::payload_bytes(blocks, n);
  std::uint32_t sequence;
  int slot = detail::newest_slot(s, payload, sequence);
  if (slot < 0)
    return 0;
  std::size_t at = detail::kCheckpointHeaderBytes;
  for (std::size_t i = 0; i < n; ++i) {
    if (!s.read((unsigned)slot, at, blocks[i].data, blocks[i].bytes))
      return 0;
    at += blocks[i].bytes;
  }
  return sequence;
}

} // namespace mcutrain

#endif // MCUTRAIN_CHECKPOINT_H
