// gguf-load.ts — a llama.cpp GGUF file as a model (`--model file.gguf`): architectures "llama", "qwen2" and "qwen3" (the
// keys of llama.cpp's docs/gguf.md / gguf-py constants: {arch}.embedding_length, .block_count, .attention.head_count, …;
// qwen3 adds per-head attn_q_norm / attn_k_norm and an explicit head dim, {arch}.attention.key_length / value_length),
// tensors F32 / F16 / BF16 / Q8_0 / Q4_0 kept in their type where `weights` allows (F16 → bf16 or f32), read one by
// one with positioned reads. llama.cpp's HF converter interleaves the rows of q/k for "llama" (rotate_half → adjacent
// pairs; convert_hf_to_gguf.py LlamaModel.permute): we undo it by moving whole rows, which works on quantized bytes
// too. RoPE scaling: linear, llama3 (rope_freqs.weight) and our dynamic key are read (gguf-rope.ts); yarn and longrope
// are refused. The tokenizer comes back as a tokenizer.json object
// (gguf-tokenizer.ts). Anything else is refused by name.
import { closeSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { LlamaForCausalLM, type LlamaConfig } from './llama.js';
import type { Architecture } from './config.js';
import { dequantizeQ4_0, dequantizeQ8_0, GgmlType, quantizeQ4_0, quantizeQ8_0, readGgufHeader, readGgufTensor, type GgufFile, type GgufTensorInfo } from './gguf.js';
import { ROPE_FREQS, ropeScalingFromGguf } from './gguf-rope.js';
import { ggufTensorName } from './gguf-export.js';
import { checkNoPlaceholders, installWeight, type LoadOptions, type ModelDir } from './model-dir.js';
import { WeightPlan, roleOf, widenInPlace, upperHalf16, f16ToBf16InPlace, type FileDType } from './weights.js';
import { fromF16Array, toBf16Array, fromBf16Array } from './half.js';
import { Tensor } from '../tensor/tensor.js';
import type { DType } from '../tensor/dtype.js';
import { tokenizerJsonFromGguf } from './gguf-tokenizer.js';

const FILE_DTYPE: Partial<Record<number, FileDType>> = {
  [GgmlType.F32]: 'f32', [GgmlType.F16]: 'f16', [GgmlType.BF16]: 'bf16', [GgmlType.Q8_0]: 'q8_0', [GgmlType.Q4_0]: 'q4_0',
};
// names of the ggml types we refuse, for the error message (ggml.h enum ggml_type)
const GGML_NAMES: Record<number, string> = {
  3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K',
  16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS',
  24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M',
};
const ARCHS: Record<string, Architecture> = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' };

/** The shortest decimal that rounds to the same f32 (GGUF stores eps and rope base as f32: 1e-5 comes back as 1e-5). */
function shortestF32(v: number): number {
  for (let p = 1; p <= 9; p++) { const d = Number(v.toPrecision(p)); if (Math.fround(d) === v) return d; }
  return v;
}

/** The LlamaConfig a GGUF header describes (refuses what we do not implement, naming the key). */
export function configFromGguf(f: GgufFile): { config: LlamaConfig; architecture: Architecture; arch: string } {
  const bad = (key: string, why: string): never => { throw new Error(`[gguf load] ${f.path}: ${key}: ${why}`); };
  const arch = f.kv.get('general.architecture');
  if (typeof arch !== 'string') return bad('general.architecture', 'missing');
  const architecture = ARCHS[arch];
  if (!architecture) return bad('general.architecture', `${JSON.stringify(arch)} is not supported (supported: ${Object.keys(ARCHS).join(', ')})`);
  const num = (k: string, dflt?: number): number => {
    const v = f.kv.get(`${arch}.${k}`) ?? dflt;
    if (typeof v !== 'number' || !(v > 0)) return bad(`${arch}.${k}`, `expected a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  for (const k of [`${arch}.expert_count`, `${arch}.attention.sliding_window`])
    if (f.kv.get(k) !== undefined && f.kv.get(k) !== 0) bad(k, 'not supported');
  const hidden = num('embedding_length'), heads = num('attention.head_count');
  const emb = f.tensors.find((t) => t.name === 'token_embd.weight');
  if (!emb) return bad('token_embd.weight', 'the file has no token embedding tensor');
  // the head dim: {arch}.attention.key_length (llama.cpp's n_embd_head_k, default embedding_length / head_count);
  // Qwen3-0.6B has 128 with 1024 / 16 = 64. One dim serves q, k and v here, so value_length must agree.
  const keyLen = f.kv.get(`${arch}.attention.key_length`) ?? hidden / heads;
  if (typeof keyLen !== 'number' || !Number.isInteger(keyLen) || keyLen <= 0 || keyLen % 2)
    bad(`${arch}.attention.key_length`, `expected a positive even integer, got ${JSON.stringify(keyLen)}`);
  const valueLen = f.kv.get(`${arch}.attention.value_length`) ?? keyLen;
  if (valueLen !== keyLen) bad(`${arch}.attention.value_length`, `${JSON.stringify(valueLen)} differs from key_length ${keyLen} (one head dim for q, k and v is supported)`);
  const headDim = keyLen as number;
  const rope = f.kv.get(`${arch}.rope.dimension_count`);
  if (rope !== undefined && rope !== headDim) bad(`${arch}.rope.dimension_count`, `${rope} differs from the head dim ${headDim} (partial RoPE is not supported)`);
  const names = new Set(f.tensors.map((t) => t.name));
  // scaled RoPE (gguf-rope.ts): linear by key, llama3 as the rope_freqs tensor's factors, dynamic by our own key
  const theta = shortestF32(num('rope.freq_base', 10000)), ctxLen = num('context_length', 2048);
  const freqsInfo = f.tensors.find((t) => t.name === ROPE_FREQS);
  let freqs: Float32Array | null = null;
  if (freqsInfo) {
    if (freqsInfo.type !== GgmlType.F32 || freqsInfo.dims.length !== 1) bad(ROPE_FREQS, `expected a 1-D F32 tensor, got ggml type ${freqsInfo.type} dims [${freqsInfo.dims}]`);
    const raw = readGgufTensor(f, ROPE_FREQS);
    freqs = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  }
  const ropeScaling = ropeScalingFromGguf(f.kv, arch, freqs, headDim, theta, ctxLen, bad);
  const config: LlamaConfig = {
    vocabSize: emb.dims[1]!, hiddenSize: hidden, intermediateSize: num('feed_forward_length'), numLayers: num('block_count'),
    numHeads: heads, numKvHeads: num('attention.head_count_kv', heads), ropeTheta: theta,
    rmsNormEps: shortestF32(num('attention.layer_norm_rms_epsilon', 1e-5)), maxPositions: ctxLen,
    tieWordEmbeddings: !names.has('output.weight'), attentionBias: names.has('blk.0.attn_q.bias'),
  };
  if (ropeScaling) config.ropeScaling = ropeScaling;
  if (headDim * heads !== hidden) config.headDim = headDim;
  if (config.attentionBias && arch !== 'qwen2') bad('blk.0.attn_q.bias', `q/k/v biases are Qwen2's; a ${arch} file should not have them`);
  if (arch === 'qwen3') {
    // llama.cpp's qwen3 graph (src/models/qwen3.cpp) requires both norms: a file without them is not a Qwen3 model
    for (const t of ['blk.0.attn_q_norm.weight', 'blk.0.attn_k_norm.weight']) if (!names.has(t)) bad(t, 'missing; a qwen3 file has per-head q/k norms');
    config.qkNorm = true;
  }
  const bos = f.kv.get('tokenizer.ggml.bos_token_id'), eos = f.kv.get('tokenizer.ggml.eos_token_id');
  if (typeof bos === 'number') config.bosTokenId = bos;
  if (typeof eos === 'number') config.eosTokenId = eos;
  return { config, architecture, arch };
}

/** Inverse of gguf-export's permuteRope on whole rows of bytes: row h·D + i ← 2i, row h·D + D/2 + i ← 2i + 1. */
export function unpermuteRopeRows(bytes: Uint8Array, rows: number, heads: number): Uint8Array {
  const rb = bytes.byteLength / rows, D = rows / heads, half = D / 2;
  const out = new Uint8Array(bytes.byteLength);
  for (let h = 0; h < heads; h++) for (let i = 0; i < half; i++) {
    out.set(bytes.subarray((h * D + 2 * i) * rb, (h * D + 2 * i + 1) * rb), (h * D + i) * rb);
    out.set(bytes.subarray((h * D + 2 * i + 1) * rb, (h * D + 2 * i + 2) * rb), (h * D + half + i) * rb);
  }
  return out;
}

/** The tensor as `dtype`, its bytes read straight into the destination where the types allow. */
function readTensor(fd: number, f: GgufFile, t: GgufTensorInfo, shape: readonly number[], dtype: DType): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const at = f.dataStart + t.offset;
  const fill = (b: Uint8Array) => {
    let got = 0;
    while (got < b.byteLength) {
      const k = readSync(fd, b, got, b.byteLength - got, at + got);
      if (k === 0) throw new Error(`[gguf load] ${f.path}: file ends inside ${t.name} at offset ${at + got}`);
      got += k;
    }
  };
  const bytesOf = (a: Float32Array | Uint16Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const file = FILE_DTYPE[t.type]!;
  if (file === dtype) {
    // same type: one read into the tensor's own storage
    const a = dtype === 'f32' ? new Float32Array(n) : dtype === 'bf16' ? new Uint16Array(n) : new Uint8Array(t.byteLength);
    fill(bytesOf(a));
    return new Tensor(a, shape, dtype);
  }
  if (dtype === 'f32' && (file === 'f16' || file === 'bf16')) {
    const a = new Float32Array(n);
    fill(bytesOf(upperHalf16(a)));
    widenInPlace(a, file);
    return new Tensor(a, shape);
  }
  if (dtype === 'bf16' && file === 'f16') {
    const a = new Uint16Array(n);
    fill(bytesOf(a));
    f16ToBf16InPlace(a);
    return new Tensor(a, shape);
  }
  // a change of format (requantize, or dequantize a quantized file): through f32, one tensor at a time
  const raw = new Uint8Array(t.byteLength);
  fill(raw);
  const v = file === 'f32' ? new Float32Array(raw.buffer) : file === 'f16' ? fromF16Array(new Uint16Array(raw.buffer))
    : file === 'bf16' ? fromBf16Array(new Uint16Array(raw.buffer)) : file === 'q8_0' ? dequantizeQ8_0(raw, n) : dequantizeQ4_0(raw, n);
  if (dtype === 'f32') return new Tensor(v, shape);
  if (dtype === 'bf16') return new Tensor(toBf16Array(v), shape);
  if (dtype === 'q8_0') return new Tensor(quantizeQ8_0(v), shape, 'q8_0');
  return new Tensor(quantizeQ4_0(v), shape, 'q4_0');
}

/** Load a GGUF file as a ModelDir (dir = the file; tokenizer as a tokenizer.json object; no adapters). */
export function loadGguf(pathIn: string, opts: LoadOptions = {}): ModelDir {
  const path = resolve(pathIn);
  const f = readGgufHeader(path);
  const { config, architecture, arch } = configFromGguf(f);
  const tokenizer = tokenizerJsonFromGguf(f);
  const tokIds = tokenizer ? tokenizer.ids : 0;
  if (tokIds > config.vocabSize)
    throw new Error(`[gguf load] ${path}: tokenizer.ggml.tokens has ${tokIds} tokens but token_embd.weight has ${config.vocabSize} rows`);
  const byName = new Map(f.tensors.map((t) => [t.name, t]));
  const model = new LlamaForCausalLM(config, 0, { init: 'deferred' });
  model.kvCacheDType = opts.kvCache ?? 'f32';
  const plan = new WeightPlan(opts.weights ?? 'auto', opts.warn);
  const used = new Set<string>(f.tensors.some((t) => t.name === ROPE_FREQS) ? [ROPE_FREQS] : []); // read into the config
  const warn = opts.warn ?? ((l: string) => console.error(l));
  let requantWarned = false;
  const fd = openSync(path, 'r');
  try {
    for (const [hf, p] of model.namedParameters()) {
      const gname = ggufTensorName(hf);
      const t = byName.get(gname);
      if (!t) throw new Error(`[gguf load] ${path}: the file lacks tensor ${gname} (${hf})`);
      const file = FILE_DTYPE[t.type];
      if (!file) throw new Error(`[gguf load] ${path}: tensor ${gname} has ggml type ${GGML_NAMES[t.type] ?? GgmlType[t.type] ?? t.type} (${t.type}), which is not supported (F32, F16, BF16, Q8_0, Q4_0)`);
      const shape = [...t.dims].reverse();
      if (shape.join() !== p.shape.join()) throw new Error(`[gguf load] ${path}: tensor ${gname} has shape [${shape}], the header's config implies [${p.shape}]`);
      const want = plan.dtypeFor(hf, shape, file, roleOf(hf, config.tieWordEmbeddings));
      if ((file === 'q8_0' || file === 'q4_0') && (want === 'q8_0' || want === 'q4_0') && want !== file && !requantWarned) {
        requantWarned = true;
        warn(`[gguf load] ${path}: ${file} tensors requantized to ${want} (${gname} and others): the roundings compound; quantize from the original weights for the best ${want}`);
      }
      let w = readTensor(fd, f, t, shape, want);
      const q = /\.self_attn\.q_proj\./.test(hf), k = /\.self_attn\.k_proj\./.test(hf);
      if (arch === 'llama' && (q || k)) {
        const rows = shape[0]!;
        const bytes = new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength);
        const un = unpermuteRopeRows(bytes, rows, q ? config.numHeads : config.numKvHeads);
        const a = w.dtype === 'f32' ? new Float32Array(un.buffer) : w.dtype === 'bf16' ? new Uint16Array(un.buffer) : un;
        w = new Tensor(a, shape, w.dtype);
      }
      installWeight(model, hf, w);
      used.add(gname);
    }
    checkNoPlaceholders(model, 'gguf load');
  } finally {
    closeSync(fd);
  }
  // an extra tensor (a tied file's output.weight twin, another architecture's parts, …) means a model we would misrun
  const extra = f.tensors.filter((t) => !used.has(t.name)).map((t) => t.name);
  if (extra.length) throw new Error(`[gguf load] ${path}: tensors ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', …' : ''} are not part of a ${arch} model we can run`);
  const eos = config.eosTokenId;
  const pad = f.kv.get('tokenizer.ggml.padding_token_id');
  return {
    dir: path, model, architecture, eosTokenIds: eos !== undefined ? [eos] : [], padTokenId: typeof pad === 'number' ? pad : null,
    generation: eos !== undefined ? { eosTokenIds: [eos] } : {}, adapters: [], valueHead: null, tokenizerPath: null,
    // with a SentencePiece vocabulary's scores (spm), which load.ts's tokenizerOf hands to tokenizerOfGgufJson
    tokenizerJson: tokenizer,
    unused: { configKeys: [], tensors: [] },
  };
}
