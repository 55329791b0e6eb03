// weights.ts — which dtype each checkpoint tensor is held in (`--weights f32|bf16|q8_0|q4_0`, or 'auto' = the file's
// own precision), the in-place conversions that let a reader fill the destination storage without a second copy,
// and the probe that falls back (with a one-line warning) when the kernels lack a format. No file formats here:
// safetensors.ts and gguf-load.ts read bytes; this decides what they become.
import { Tensor } from '../tensor/tensor.js';
import { bytesOf, WEIGHT_FORMATS, type DType, type WeightFormat } from '../tensor/dtype.js';
import { embedding, matmul } from '../ops/index.js';
import { noGrad } from '../autograd/grad-mode.js';
import { f16BitsToF32, f32ToBf16Bits } from './half.js';
import { quantizeQ4_0, quantizeQ8_0 } from './gguf.js';

/** What a loader is asked for: one format for every weight matrix, or 'auto' (bf16 files stay bf16, f16 → bf16, f32 stays f32). */
export type WeightsOption = WeightFormat | 'auto';
export const WEIGHTS_OPTIONS: readonly WeightsOption[] = ['auto', ...WEIGHT_FORMATS];

export function parseWeightsOption(v: unknown, where: string): WeightsOption {
  if (typeof v === 'string' && (WEIGHTS_OPTIONS as readonly string[]).includes(v)) return v as WeightsOption;
  throw new Error(`[${where}] weights: expected one of ${WEIGHTS_OPTIONS.join(', ')}, got ${JSON.stringify(v)}`);
}

/** The precision a file stores a tensor in (safetensors and GGUF both map onto these). */
export type FileDType = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0';

/**
 * The dtype a tensor is held in. Norms, biases and other 1-D tensors stay f32 (tiny, and read by f32-only ops);
 * a matrix takes the requested format, where its rows fit whole blocks (K % 32) for a quantized one.
 */
export function targetDType(shape: readonly number[], file: FileDType, want: WeightsOption): DType {
  if (shape.length !== 2) return 'f32';
  const fmt: WeightFormat = want === 'auto' ? (file === 'f32' ? 'f32' : file === 'f16' ? 'bf16' : file) : want;
  if ((fmt === 'q8_0' || fmt === 'q4_0') && shape[1]! % 32) return 'bf16';
  return fmt;
}

/** Where a weight is read: the projections go through matmul (x Wᵀ), the embedding table through embedding(). */
export type WeightRole = 'matmul' | 'embedding' | 'tied';

const probed = new Map<string, string | null>();

/** Whether the kernels accept `dtype` in `role` (tried once on a 1×32 tensor); null = yes, else the error. */
export function kernelRefuses(dtype: DType, role: WeightRole): string | null {
  if (dtype === 'f32') return null;
  const key = `${dtype}:${role}`;
  if (probed.has(key)) return probed.get(key)!;
  let why: string | null = null;
  try {
    noGrad(() => {
      const w = quantizedOnes(dtype);
      const x = new Tensor(new Float32Array(32).fill(1), [1, 1, 32]);
      if (role !== 'embedding') matmul(x, w, { transB: true }).dispose();
      if (role !== 'matmul') embedding(w, new Tensor(new Int32Array([0]), [1, 1])).dispose();
    });
  } catch (e) {
    why = (e as Error).message;
  }
  probed.set(key, why);
  return why;
}

function quantizedOnes(dtype: DType): Tensor {
  const ones = new Float32Array(32).fill(1);
  if (dtype === 'bf16') return new Tensor(Uint16Array.from(ones, f32ToBf16Bits), [1, 32]);
  if (dtype === 'q8_0') return new Tensor(quantizeQ8_0(ones), [1, 32], 'q8_0');
  if (dtype === 'q4_0') return new Tensor(quantizeQ4_0(ones), [1, 32], 'q4_0');
  throw new Error(`[weights] no probe for ${dtype}`);
}

/** A fallback chain: quantized → bf16 → f32; a quantized file's blocks go straight to f32 (bf16 would round them). */
function fallbackOf(d: DType, file: FileDType): DType {
  if (file === 'q8_0' || file === 'q4_0') return 'f32';
  return d === 'q8_0' || d === 'q4_0' ? 'bf16' : 'f32';
}

/** Collects the one-line warnings of formats the kernels lack (one line per format and role, never silent). */
export class WeightPlan {
  readonly warnings: string[] = [];
  private warned = new Set<string>();
  constructor(readonly want: WeightsOption, private readonly warn: (line: string) => void = (l) => console.error(l),
    /** the kernel probe (tests substitute one that refuses a format) */
    private readonly refuses: (d: DType, role: WeightRole) => string | null = kernelRefuses) {}

  /** The dtype for one tensor, after the kernel probe. */
  dtypeFor(name: string, shape: readonly number[], file: FileDType, role: WeightRole): DType {
    let d = targetDType(shape, file, this.want);
    while (d !== 'f32') {
      const why = this.refuses(d, role);
      if (!why) break;
      const next = fallbackOf(d, file);
      const key = `${d}:${role}`;
      if (!this.warned.has(key)) {
        this.warned.add(key);
        const line = `[weights] ${d} ${role === 'matmul' ? 'matrices' : 'embedding tables'} are not supported by this build's kernels ` +
          `(${why.split('\n')[0]}); ${name} and others like it are held as ${next}`;
        this.warnings.push(line);
        this.warn(line);
      }
      d = next;
    }
    return d;
  }
}

/** The role of an HF-named LLaMA tensor. */
export function roleOf(name: string, tied: boolean): WeightRole {
  if (name === 'model.embed_tokens.weight') return tied ? 'tied' : 'embedding';
  return 'matmul';
}

// ---- in-place conversions: the reader fills the destination's bytes with the file's, then widens or narrows ----

/** f16 bits → bf16 bits in place (round to nearest even). */
export function f16ToBf16InPlace(h: Uint16Array): void {
  for (let i = 0; i < h.length; i++) h[i] = f32ToBf16Bits(f16BitsToF32(h[i]!));
}

/**
 * Widen 16-bit values stored in the upper half of `out`'s bytes to f32 over the whole buffer: element i is read
 * (from 16-bit slot n + i) before slot 2i, 2i+1 is written, and those slots never lie above n + i.
 */
export function widenInPlace(out: Float32Array, kind: 'f16' | 'bf16'): void {
  const n = out.length;
  const h = new Uint16Array(out.buffer, out.byteOffset, 2 * n);
  const u = new Uint32Array(out.buffer, out.byteOffset, n);
  if (kind === 'bf16') for (let i = 0; i < n; i++) u[i] = h[n + i]! << 16;
  else for (let i = 0; i < n; i++) out[i] = f16BitsToF32(h[n + i]!);
}

/** The upper-half 16-bit view that widenInPlace reads (where a reader puts f16 / bf16 bytes). */
export function upperHalf16(out: Float32Array): Uint16Array {
  return new Uint16Array(out.buffer, out.byteOffset + 2 * out.length, out.length);
}

/** Bytes held per dtype over a set of tensors (what `zhongjing info` reports). */
export function bytesByDType(tensors: Iterable<Tensor>): Record<string, { tensors: number; bytes: number }> {
  const out: Record<string, { tensors: number; bytes: number }> = {};
  for (const t of tensors) {
    const e = (out[t.dtype] ??= { tensors: 0, bytes: 0 });
    e.tensors++;
    e.bytes += bytesOf(t.dtype, t.size);
  }
  return out;
}
