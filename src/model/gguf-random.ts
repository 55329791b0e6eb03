// gguf-random.ts — a randomly initialised model of a given shape streamed straight into one GGUF file: header,
// metadata and tensor infos first (every size follows from the shape and the ggml type), then each tensor's values
// generated a run of rows at a time (random-init.ts's counter-based draws: a value depends only on seed, tensor
// name and index), quantized or narrowed, and written. Peak memory is one run of rows, never the model, so a 7B
// shape fits on a small machine. The file is what gguf-export.ts would write for the same values (same keys, names,
// types and RoPE row order). Model directories and real checkpoints are other files' business.
import { headDimOf, type LlamaConfig } from './llama.js';
import { architectureOf, type Architecture } from './config.js';
import { byteLevelVocab, encodeGgml, ggufArch, ggufMetadata, ggufTensorName, ggufTensorType, type GgufOutType, type GgufVocab } from './gguf-export.js';
import { ggmlBytes, GgmlType, writeGgufStreamed, type GgufTensorStream } from './gguf.js';
import { ROPE_FREQS, ropeScalingToGguf } from './gguf-rope.js';
import { fillNormal, streamKey, tensorSpecs, type TensorSpec } from './random-init.js';

// values generated per step (4 MiB of f32): bounds memory whatever the tensor size
const CHUNK = 1 << 20;

export interface RandomGgufOptions {
  type: GgufOutType;
  /** seed of the draws (random-init.ts's streamKey(seed, HF name)) */
  seed?: number;
  /** default: Qwen2 when the config has q/k/v biases, else LLaMA */
  architecture?: Architecture;
  /** default: the 256-byte stand-in vocabulary padded to vocabSize */
  vocab?: GgufVocab;
  onProgress?: (p: { tensor: string; bytesDone: number; bytesTotal: number }) => void;
  /** values generated per step (default 2^20, rounded to whole rows); tests lower it to cross chunk edges */
  chunkValues?: number;
}

export interface RandomGgufInfo { tensors: number; bytes: number; parameters: number; architecture: string; fellBackToF16: string[] }

/**
 * Source row of output row r of a q/k projection in llama.cpp's "llama" order (gguf-export.ts permuteRope):
 * row h·D + 2i ← h·D + i, row h·D + 2i + 1 ← h·D + D/2 + i.
 */
function ropeSourceRow(r: number, D: number): number {
  const h = Math.floor(r / D), j = r % D;
  return h * D + (j % 2 ? D / 2 + (j >> 1) : j >> 1);
}

/** The f32 values of rows [r0, r0 + view.length / cols) of `spec`, into `view`. */
function fillRows(view: Float32Array, spec: TensorSpec, key: number, r0: number, cols: number, ropeHeadDim: number): void {
  const init = spec.init;
  if (init.kind !== 'normal') { view.fill(init.kind === 'ones' ? 1 : 0); return; }
  if (!ropeHeadDim) { fillNormal(view, key, r0 * cols, init.std); return; }
  for (let i = 0; i < view.length / cols; i++)
    fillNormal(view.subarray(i * cols, (i + 1) * cols), key, ropeSourceRow(r0 + i, ropeHeadDim) * cols, init.std);
}

/** Write a random model of shape `cfg` as GGUF at `opts.type`, one run of rows in memory at a time. */
export function writeRandomGguf(path: string, cfg: LlamaConfig, opts: RandomGgufOptions): RandomGgufInfo {
  const seed = opts.seed ?? 0;
  const architecture = opts.architecture ?? architectureOf(cfg);
  const arch = ggufArch(architecture);
  const kv = ggufMetadata(cfg, opts.vocab ?? byteLevelVocab(cfg.vocabSize), opts.type, architecture);
  const D = headDimOf(cfg);
  const specs = tensorSpecs(cfg);
  const fellBack: string[] = [];
  let total = 0, done = 0, parameters = 0;
  const planned = specs.map((spec) => {
    const gt = ggufTensorType(opts.type, spec.shape);
    if (gt.fellBack) fellBack.push(spec.name);
    const n = spec.shape.reduce((p, d) => p * d, 1);
    parameters += n;
    total += ggmlBytes(gt.type, n);
    return { spec, gt: gt.type, n };
  });
  const tensors: GgufTensorStream[] = planned.map(({ spec, gt, n }) => ({
    name: ggufTensorName(spec.name),
    dims: [...spec.shape].reverse(), // ggml: innermost first
    type: gt,
    chunks: function* (): Generator<Uint8Array> {
      const cols = spec.shape.length === 2 ? spec.shape[1]! : n;
      const rows = n / cols;
      // "llama" stores q/k rows interleaved per head; draw each output row from its source row
      const rope = arch === 'llama' && /\.self_attn\.[qk]_proj\.weight$/.test(spec.name) ? D : 0;
      const step = Math.max(1, Math.floor((opts.chunkValues ?? CHUNK) / cols)); // whole rows: quantized blocks never straddle a chunk
      const buf = new Float32Array(Math.min(rows, step) * cols);
      const key = streamKey(seed, spec.name);
      for (let r0 = 0; r0 < rows; r0 += step) {
        const view = buf.subarray(0, (Math.min(rows, r0 + step) - r0) * cols);
        fillRows(view, spec, key, r0, cols, rope);
        const bytes = encodeGgml(view, gt);
        done += bytes.byteLength;
        yield bytes;
        opts.onProgress?.({ tensor: spec.name, bytesDone: done, bytesTotal: total });
      }
    },
  }));
  // llama3 RoPE scaling: its per-dimension factors, as writeModelGguf writes them (gguf-rope.ts)
  const rope = ropeScalingToGguf(cfg, D, arch);
  if (rope.freqs) { const f = rope.freqs; tensors.unshift({ name: ROPE_FREQS, dims: [f.length], type: GgmlType.F32, chunks: () => [encodeGgml(f, GgmlType.F32)] }); }
  writeGgufStreamed(path, kv, tensors);
  return { tensors: tensors.length, bytes: total, parameters, architecture: arch, fellBackToF16: fellBack };
}
