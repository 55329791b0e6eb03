// tiles.cc — LDTILECFG for the shapes in tiles.h, once per thread per switch.
#include "tiles.h"
#include <immintrin.h>
#include <cstdint>
#include <cstring>

namespace zj {
namespace {

// The palette-1 tile configuration, 64 bytes as LDTILECFG reads it.
struct alignas(64) TileConfig {
  uint8_t palette;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];  // bytes per row of each tile
  uint8_t rows[16];
  uint8_t reserved2[16];
};

thread_local int loaded = 0;

void set(TileConfig& c, int t, int rows, int colsb) {
  c.rows[t] = (uint8_t)rows;
  c.colsb[t] = (uint16_t)colsb;
}

}  // namespace

void amx_use(AmxShape shape) {
  if (loaded == shape) return;
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  switch (shape) {
    case AMX_BF16_GEMM:
      for (int t = 0; t < 8; t++) set(cfg, t, 16, 64);
      break;
  }
  // Not _tile_loadconfig: GCC 12 defines it as inline asm whose memory operand is only the first 8 bytes of the
  // configuration, so the stores of the tile shapes can be dropped as dead. Here the operand is the whole struct.
  __asm__ volatile("ldtilecfg %0" ::"m"(cfg));
  loaded = shape;
}

}  // namespace zj
