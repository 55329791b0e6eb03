// panel-scales.ts — the panel-scale table of a quantized weight (Kernels.quantPanelScales) for the products whose
// matvec reads one: made at the weight's first such product and kept by the tensor (Tensor.derived) while it lives.
// The native AVX-512 panel kernel (native/src/avx512/quant_panel_avx512.cc: batched decoding, prefills up to 1,024
// rows) otherwise regroups each 16 rows' block scales on every call, the same shuffles for every token of every
// batch; the table costs one f16 per block (2/18 of a q4_0 weight's bytes, 2/34 of a q8_0 one's). The reference
// backend never asks for one.
import type { Tensor } from '../tensor/tensor.js';
import { isPanelLayout, panelScalesLength, type QuantDType } from '../tensor/dtype.js';
import { backend } from '../backend/index.js';

/** The table to hand matvec for `rows` rows of x against the 2-D quantized weight w, or null where it reads none. */
export function panelScalesFor(w: Tensor, rows: number): Uint16Array | null {
  const [N, K] = w.shape as [number, number];
  if (isPanelLayout(w.dtype)) return null;  // the panel layout carries its scales in place
  const fmt = w.dtype as QuantDType, kern = backend();
  if (!kern.matvecReadsPanelScales(rows, N, K, fmt)) return null;
  return w.derived('panelScales', (data) => {
    const table = new Uint16Array(panelScalesLength(N, K));
    kern.quantPanelScales(data as Uint8Array, fmt, N, K, table);
    return table;
  });
}
