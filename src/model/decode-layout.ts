// decode-layout.ts — a model loaded for inference gets its q8_0 / q4_0 matrices in the panel layout of the native
// AVX-512 VNNI decode kernel (dtype q8_0x16 / q4_0x16, src/tensor/dtype.ts), where this machine's kernels read it.
// The kernel serves every decode batch size and prefills from that layout without regrouping the weight rows in
// registers on each call (native/src/avx512/quant_panel_avx512.cc): the bytes are the same in number, only their
// order changes, in place, so this costs no memory. Models that train stay in the row layout: the GEMM's packers
// read the panel layout through a scalar gather, slower than the row layout's vector dequantization.
import type { LlamaForCausalLM } from './llama.js';
import { Tensor } from '../tensor/tensor.js';
import { PANEL_ROWS, isPanelLayout, isQuantized, panelFormatOf, type QuantDType } from '../tensor/dtype.js';
import { backend } from '../backend/index.js';

/**
 * t rearranged in place into the panel layout, as the tensor that now owns its bytes (t is left disposed), when the
 * backend reads that layout with its own kernel and t has whole panels; else null (t untouched).
 */
export function toPanelLayout(t: Tensor): Tensor | null {
  if (!isQuantized(t.dtype) || isPanelLayout(t.dtype) || t.rank !== 2 || t.shape[0]! % PANEL_ROWS) return null;
  const fmt: QuantDType = t.dtype, kern = backend();
  if (!kern.quantPanelsSupported(fmt)) return null;
  const [N, K] = t.shape as [number, number];
  const bytes = t.data as Uint8Array;
  kern.quantToPanels(bytes, fmt, N, K, bytes);
  return Tensor.adoptAs(t, panelFormatOf(fmt));
}

/**
 * Every quantized projection, LM head and embedding table of `model` in the panel layout, in place. Returns how many
 * matrices moved; 0 where the backend lacks the kernel (the reference, AVX2, no VNNI, ZJ_QUANT_INTERLEAVE=0 or
 * ZJ_QUANT_PANEL=0).
 */
export function toDecodeLayout(model: LlamaForCausalLM): number {
  let moved = 0;
  const swap = (old: Tensor, put: (t: Tensor) => void): void => {
    const p = toPanelLayout(old);
    if (!p) return;
    put(p);
    moved++;
  };
  for (const [, lin] of model.namedLinears()) swap(lin.weight, (p) => lin.replaceParameter('weight', p));
  const emb = model.model.embedTokens;
  swap(emb.weight, (p) => emb.replaceParameter('weight', p));
  return moved;
}
