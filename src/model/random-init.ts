// random-init.ts — a randomly initialised checkpoint of a real family's shape, streamed to safetensors shards
// tensor by tensor and chunk by chunk (a 7B bf16 model never sits in memory). Init scales are those of our
// LlamaForCausalLM (normal std 0.02, residual projections 0.02/√(2L), norms 1, biases 0); the draws come from
// a counter-based generator (the fillNormal kernel), so every value depends only on (seed, tensor name, index),
// never on chunking or threads.
// Config parsing, tokenizer files and the CLI live elsewhere (config.ts, cli/model.ts).
import { join } from 'node:path';
import { readdirSync, rmSync } from 'node:fs';
import type { LlamaConfig } from './llama.js';
import { headDimOf } from './llama.js';
import { atomicWrite, atomicWriteJson } from './atomic.js';
import { backend } from '../backend/index.js';
import { mix32 } from '../backend/reference/random.js';

export type InitRule = { kind: 'normal'; std: number } | { kind: 'ones' } | { kind: 'zeros' };
export interface TensorSpec { name: string; shape: number[]; init: InitRule }

/** Every parameter of LlamaForCausalLM(cfg), in module order, with its HF name, shape and init rule. */
export function tensorSpecs(c: LlamaConfig): TensorSpec[] {
  const C = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize, D = headDimOf(c);
  const H = c.numHeads, Hkv = c.numKvHeads, std = 0.02, resid = 0.02 / Math.sqrt(2 * c.numLayers);
  const normal = (s: number): InitRule => ({ kind: 'normal', std: s });
  const out: TensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [V, C], init: normal(std) }];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    out.push({ name: p + 'input_layernorm.weight', shape: [C], init: { kind: 'ones' } });
    for (const [n, rows] of [['q_proj', H * D], ['k_proj', Hkv * D], ['v_proj', Hkv * D]] as const) {
      out.push({ name: `${p}self_attn.${n}.weight`, shape: [rows, C], init: normal(std) });
      if (c.attentionBias) out.push({ name: `${p}self_attn.${n}.bias`, shape: [rows], init: { kind: 'zeros' } });
    }
    out.push({ name: p + 'self_attn.o_proj.weight', shape: [C, H * D], init: normal(resid) });
    if (c.qkNorm) {
      out.push({ name: p + 'self_attn.q_norm.weight', shape: [D], init: { kind: 'ones' } });
      out.push({ name: p + 'self_attn.k_norm.weight', shape: [D], init: { kind: 'ones' } });
    }
    out.push({ name: p + 'post_attention_layernorm.weight', shape: [C], init: { kind: 'ones' } });
    out.push({ name: p + 'mlp.gate_proj.weight', shape: [F, C], init: normal(std) });
    out.push({ name: p + 'mlp.up_proj.weight', shape: [F, C], init: normal(std) });
    out.push({ name: p + 'mlp.down_proj.weight', shape: [C, F], init: normal(resid) });
  }
  out.push({ name: 'model.norm.weight', shape: [C], init: { kind: 'ones' } });
  if (!c.tieWordEmbeddings) out.push({ name: 'lm_head.weight', shape: [V, C], init: normal(std) });
  return out;
}

/** A 32-bit stream key from the seed and the tensor's name (FNV-1a of the name, mixed with the seed). */
export function streamKey(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return mix32((h ^ mix32((seed >>> 0) ^ 0x9e3779b9)) >>> 0);
}

/** out[j] = normal(0, std) value number start + j of stream `key`, on the active backend (parallel natively). */
export function fillNormal(out: Float32Array, key: number, start: number, std: number): void {
  backend().fillNormal(out, key, start, std);
}

export type InitDtype = 'BF16' | 'F32';
const CHUNK = 1 << 20; // values generated per step: bounds memory to a few MiB whatever the tensor size

function* tensorBytes(spec: TensorSpec, key: number, dtype: InitDtype): Generator<Uint8Array> {
  const n = spec.shape.reduce((p, d) => p * d, 1);
  const buf = new Float32Array(Math.min(n, CHUNK));
  const half = new Uint16Array(buf.length);
  for (let off = 0; off < n; off += CHUNK) {
    const m = Math.min(CHUNK, n - off);
    const view = buf.subarray(0, m);
    if (spec.init.kind === 'normal') fillNormal(view, key, off, spec.init.std);
    else view.fill(spec.init.kind === 'ones' ? 1 : 0);
    if (dtype === 'F32') { yield new Uint8Array(buf.buffer, 0, m * 4).slice(); continue; }
    backend().castF32ToBf16(view, half.subarray(0, m)); // round to nearest even
    yield new Uint8Array(half.buffer, 0, m * 2).slice();
  }
}

/** Tensors split into shards in module order, a new shard once the next tensor would pass maxShardBytes. */
export function planShards(specs: TensorSpec[], bytesPerValue: number, maxShardBytes: number): { shards: TensorSpec[][]; bytes: number } {
  const shards: TensorSpec[][] = [[]];
  let size = 0, bytes = 0;
  for (const s of specs) {
    const b = s.shape.reduce((p, d) => p * d, 1) * bytesPerValue;
    if (size > 0 && size + b > maxShardBytes) { shards.push([]); size = 0; }
    shards[shards.length - 1]!.push(s);
    size += b;
    bytes += b;
  }
  return { shards, bytes };
}

export interface InitProgress { tensor: string; bytesDone: number; bytesTotal: number }

/**
 * Write model.safetensors, or model-0000i-of-0000n.safetensors + model.safetensors.index.json when the model
 * exceeds maxShardBytes (shards in module order, as HF's save_pretrained splits them). Returns the files.
 */
export function writeRandomCheckpoint(dir: string, c: LlamaConfig, opts: {
  seed?: number; dtype?: InitDtype; maxShardBytes?: number; onProgress?: (p: InitProgress) => void;
} = {}): { files: string[]; bytes: number; parameters: number } {
  const dtype = opts.dtype ?? 'BF16', seed = opts.seed ?? 0;
  const esize = dtype === 'BF16' ? 2 : 4;
  const specs = tensorSpecs(c);
  const count = (s: TensorSpec) => s.shape.reduce((p, d) => p * d, 1);
  const { shards, bytes: total } = planShards(specs, esize, opts.maxShardBytes ?? 4 * 1024 ** 3);
  const n = shards.length, pad = (i: number) => String(i).padStart(5, '0');
  const names = n === 1 ? ['model.safetensors'] : shards.map((_, i) => `model-${pad(i + 1)}-of-${pad(n)}.safetensors`);
  let done = 0;
  shards.forEach((list, si) => {
    const sorted = [...list].sort((a, b) => (a.name < b.name ? -1 : 1));
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let off = 0;
    for (const s of sorted) {
      const b = count(s) * esize;
      header[s.name] = { dtype, shape: s.shape, data_offsets: [off, off + b] };
      off += b;
    }
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // data starts 8-byte aligned
    const hdr = Buffer.from(json, 'utf8'), len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(hdr.byteLength));
    function* chunks(): Generator<Uint8Array> {
      yield len;
      yield hdr;
      for (const s of sorted) {
        for (const part of tensorBytes(s, streamKey(seed, s.name), dtype)) {
          yield part;
          done += part.byteLength;
          opts.onProgress?.({ tensor: s.name, bytesDone: done, bytesTotal: total });
        }
      }
    }
    atomicWrite(join(dir, names[si]!), chunks());
  });
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (n > 1) {
    const weightMap: Record<string, string> = {};
    shards.forEach((list, i) => { for (const s of list) weightMap[s.name] = names[i]!; });
    atomicWriteJson(indexPath, { metadata: { total_size: total }, weight_map: weightMap });
  } else {
    rmSync(indexPath, { force: true });
  }
  // shards of an earlier, differently split write would shadow nothing but confuse readers: remove them
  for (const f of readdirSync(dir)) if (/^model-\d{5}-of-\d{5}\.safetensors$/.test(f) && !names.includes(f)) rmSync(join(dir, f), { force: true });
  if (n > 1) rmSync(join(dir, 'model.safetensors'), { force: true });
  return { files: names, bytes: total, parameters: specs.reduce((p, s) => p + count(s), 0) };
}
