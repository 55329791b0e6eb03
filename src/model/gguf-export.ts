// gguf-export.ts — a LLaMA / Qwen2 / Qwen3 model directory → one GGUF file llama.cpp and ollama load: enabled LoRA
// adapters merged first, HF tensor names mapped to llama.cpp's (token_embd, blk.N.attn_q, attn_q_norm, …), metadata
// under the llama.cpp architecture ("llama", "qwen2", "qwen3"), and the byte-level BPE vocabulary (tokens, token types,
// merges, tokenizer.ggml.pre) from tokenizer.json — or a plain 256-byte vocabulary when the directory has none.
// SentencePiece-style BPE files (LLaMA-1/2, Ziya: ▁ metaspace, <0xNN> byte fallback) become llama.cpp's "llama"
// tokenizer with scores = -(merge rank), so its highest-score-first merging follows the BPE merge order.
// RoPE: HF rotates halves (rotate_half); llama.cpp's "llama" architecture rotates adjacent pairs, so q/k rows
// are permuted per head here (row 2i ← i, 2i+1 ← i + D/2) and the two compute the same thing. "qwen2" uses
// llama.cpp's NeoX (half) rotation: no permutation; so does "qwen3" (llama-model.cpp llama_model_rope_type). Non-BPE tokenizer models (WordPiece, Unigram) are refused.
// rope_scaling (linear, llama3 as a rope_freqs tensor, dynamic under our own keys) is written by gguf-rope.ts.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { headDimOf, type LlamaConfig, type LlamaForCausalLM } from './llama.js';
import { architectureOf, type Architecture } from './config.js';
import { loadModelDir } from './model-dir.js';
import {
  arr, bool, dequantizeQ4_0, dequantizeQ8_0, f32, GgmlType, GgufType, quantizeQ4_0, quantizeQ8_0, QK8_0, str, u32, writeGguf,
  type GgufTensorIn, type GgufValue,
} from './gguf.js';
import { fromBf16Array, toBf16Array, toF16Array } from './half.js';
import { ROPE_FREQS, ropeScalingToGguf } from './gguf-rope.js';
import type { Tensor } from '../tensor/tensor.js';
import { isPanelLayout } from '../tensor/dtype.js';
import { backend } from '../backend/index.js';
import { BYTE_TO_CHAR } from '../tokenizer/bytes.js';
import { GPT2_PATTERN, QWEN2_PATTERN } from '../tokenizer/pre-tokenize.js';
import { SP_COLLAPSE_PATTERN, SP_TRIM_PATTERN } from '../tokenizer/spm.js';

export type GgufOutType = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0';
export const GGUF_OUT_TYPES: readonly GgufOutType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'];

export enum TokenType { NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6 }

export interface GgufVocab {
  /** llama.cpp tokenizer model: byte-level BPE ("gpt2") or SentencePiece-style ("llama") */
  model: 'gpt2' | 'llama';
  tokens: string[];
  /** SentencePiece scores ("llama" only) */
  scores?: number[];
  /** "llama" only: a ▁ is prepended to the text (HF's Prepend normalizer / Metaspace prepend_scheme) */
  addSpacePrefix?: boolean;
  /** "llama" only: SentencePiece's remove_extra_whitespaces (our normalizer steps for it, tokenizer/spm.ts) */
  removeExtraWhitespaces?: boolean;
  unk?: number;
  types: TokenType[];
  /** "a b" pairs in rank order */
  merges: string[];
  /** llama.cpp pre-tokenizer type */
  pre: string;
  bos?: number;
  eos?: number;
  pad?: number;
  addBos: boolean;
  chatTemplate?: string;
}

/**
 * A vocabulary of the 256 bytes (GPT-2's byte-to-unicode alphabet, no merges) plus special tokens, padded to
 * vocabSize with unused tokens: the stand-in for a trained tokenizer.
 */
export function byteLevelVocab(vocabSize: number, specials: string[] = ['<|endoftext|>', '<|im_start|>', '<|im_end|>']): GgufVocab {
  const tokens = [...BYTE_TO_CHAR];
  const types: TokenType[] = tokens.map(() => TokenType.NORMAL);
  for (const s of specials) { tokens.push(s); types.push(TokenType.CONTROL); }
  if (tokens.length > vocabSize) throw new Error(`[gguf export] a byte-level vocabulary needs ${tokens.length} ids, the model has ${vocabSize}`);
  while (tokens.length < vocabSize) { types.push(TokenType.UNUSED); tokens.push(`[PAD${tokens.length}]`); }
  const v: GgufVocab = { model: 'gpt2', tokens, types, merges: [], pre: 'qwen2', addBos: false };
  if (specials.length) { v.eos = 256; v.pad = 256; }
  return v;
}

type Json = Record<string, unknown>;

/** llama.cpp's name for the pre-tokenizer of a tokenizer.json (only the splits it implements exactly). */
function preTokenizerType(pre: unknown, file: string): string {
  const fail = (why: string): never => { throw new Error(`[gguf export] ${file}: pre_tokenizer: ${why}`); };
  const p = pre as Json | null;
  if (!p || typeof p !== 'object') return fail('missing; llama.cpp needs a known byte-level pre-tokenizer');
  const list = p.type === 'Sequence' ? (p.pretokenizers as Json[]) : [p];
  const split = list.find((x) => x.type === 'Split');
  const bl = list.find((x) => x.type === 'ByteLevel');
  if (!bl) return fail('no ByteLevel step (only byte-level BPE exports to llama.cpp here)');
  if (split) {
    const re = (split.pattern as Json | undefined)?.Regex;
    if (re === QWEN2_PATTERN) return 'qwen2';
    if (re === GPT2_PATTERN) return 'gpt-2';
    return fail(`split regex ${JSON.stringify(re)} is not one llama.cpp knows (Qwen2's or GPT-2's)`);
  }
  if (bl.use_regex !== false) return 'gpt-2';
  return fail('ByteLevel without a regex split has no llama.cpp pre-tokenizer type');
}

const METASPACE = '\u2581';

/** Is this tokenizer.json SentencePiece-style (▁ for spaces, byte fallback) rather than byte-level? */
function isSentencePieceStyle(j: Json): boolean {
  const model = j.model as Json;
  if (model.byte_fallback === true) return true;
  const pre = j.pre_tokenizer as Json | null;
  return !!pre && pre.type === 'Metaspace';
}

/** Whether the text gets a leading ▁ (legacy Prepend normalizer, or Metaspace with prepend_scheme first/always). */
function prependsSpace(j: Json): boolean {
  const norm = j.normalizer as Json | null;
  const norms = norm ? (norm.type === 'Sequence' ? (norm.normalizers as Json[]) : [norm]) : [];
  if (norms.some((n) => n.type === 'Prepend' && n.prepend === METASPACE)) return true;
  const pre = j.pre_tokenizer as Json | null;
  const pres = pre ? (pre.type === 'Sequence' ? (pre.pretokenizers as Json[]) : [pre]) : [];
  return pres.some((p) => p.type === 'Metaspace' && (p.prepend_scheme ?? 'always') !== 'never' && p.add_prefix_space !== false);
}

/** Whether the normalizer holds our SentencePiece whitespace trimming (what gguf-tokenizer.ts builds for the key). */
function removesExtraWhitespaces(j: Json): boolean {
  const norm = j.normalizer as Json | null;
  const norms = norm ? (norm.type === 'Sequence' ? (norm.normalizers as Json[]) : [norm]) : [];
  const has = (re: string) => norms.some((n) => n.type === 'Replace' && (n.pattern as Json | undefined)?.Regex === re);
  return has(SP_TRIM_PATTERN) && has(SP_COLLAPSE_PATTERN);
}

/** The GGUF vocabulary of an HF tokenizer.json (+ tokenizer_config.json), for a model with vocabSize ids. */
export function vocabFromTokenizerJson(json: unknown, config: unknown, vocabSize: number, file = 'tokenizer.json'): GgufVocab {
  const j = json as Json;
  const model = j?.model as Json | undefined;
  if (!model || model.type !== 'BPE') throw new Error(`[gguf export] ${file}: model.type ${JSON.stringify(model?.type)} is not BPE`);
  if (isSentencePieceStyle(j)) return sentencePieceVocab(j, config, vocabSize, file);
  const tokens: (string | undefined)[] = new Array(vocabSize);
  const types: TokenType[] = new Array(vocabSize).fill(TokenType.UNUSED);
  for (const [t, id] of Object.entries(model.vocab as Record<string, number>)) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new Error(`[gguf export] ${file}: token ${JSON.stringify(t)} has id ${id} outside the model's ${vocabSize}`);
    tokens[id] = t;
    types[id] = TokenType.NORMAL;
  }
  for (const a of (j.added_tokens as Json[] | undefined) ?? []) {
    const id = a.id as number, content = a.content as string;
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new Error(`[gguf export] ${file}: added token ${JSON.stringify(content)} has id ${id} outside the model's ${vocabSize}`);
    tokens[id] = content;
    types[id] = a.special ? TokenType.CONTROL : TokenType.USER_DEFINED;
  }
  for (let i = 0; i < vocabSize; i++) if (tokens[i] === undefined) tokens[i] = `[PAD${i}]`;
  const merges = ((model.merges as (string | [string, string])[] | undefined) ?? []).map((m) => (Array.isArray(m) ? `${m[0]} ${m[1]}` : m));
  const v: GgufVocab = { model: 'gpt2', tokens: tokens as string[], types, merges, pre: preTokenizerType(j.pre_tokenizer, file), addBos: false };
  applyTokenizerConfig(v, config);
  return v;
}

function applyTokenizerConfig(v: GgufVocab, config: unknown): void {
  const c = (config ?? {}) as Json;
  const idOf = (k: string): number | undefined => {
    const s = c[k];
    const content = typeof s === 'string' ? s : (s as Json | null)?.content;
    if (typeof content !== 'string') return undefined;
    const i = v.tokens.indexOf(content);
    return i >= 0 ? i : undefined;
  };
  const bos = idOf('bos_token'), eos = idOf('eos_token'), pad = idOf('pad_token'), unk = idOf('unk_token');
  if (bos !== undefined) v.bos = bos;
  if (eos !== undefined) v.eos = eos;
  if (pad !== undefined) v.pad = pad;
  if (unk !== undefined) v.unk = unk;
  if (typeof c.add_bos_token === 'boolean') v.addBos = c.add_bos_token;
  if (typeof c.chat_template === 'string') v.chatTemplate = c.chat_template;
}

/**
 * A SentencePiece-style BPE file as llama.cpp's "llama" tokenizer: pieces as they are (with ▁), <0xNN> pieces typed
 * BYTE (its byte fallback), scores -(rank of the merge that makes the piece) so merges apply in BPE order.
 */
function sentencePieceVocab(j: Json, config: unknown, vocabSize: number, file: string): GgufVocab {
  const model = j.model as Json;
  const tokens: (string | undefined)[] = new Array(vocabSize);
  const types: TokenType[] = new Array(vocabSize).fill(TokenType.UNUSED);
  const scores: number[] = new Array(vocabSize).fill(0);
  for (const [t, id] of Object.entries(model.vocab as Record<string, number>)) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new Error(`[gguf export] ${file}: token ${JSON.stringify(t)} has id ${id} outside the model's ${vocabSize}`);
    tokens[id] = t;
    types[id] = /^<0x[0-9A-F]{2}>$/.test(t) ? TokenType.BYTE : t === model.unk_token ? TokenType.UNKNOWN : TokenType.NORMAL;
  }
  const merges = ((model.merges as (string | [string, string])[] | undefined) ?? []).map((m) => (Array.isArray(m) ? m : (m.split(' ') as [string, string])));
  const idOf = new Map(tokens.map((t, i) => [t, i]));
  merges.forEach(([a, b], rank) => {
    const id = idOf.get(a + b);
    if (id === undefined) throw new Error(`[gguf export] ${file}: merge ${rank} (${a} ${b}) makes a token not in the vocabulary`);
    if (scores[id] === 0) scores[id] = -(rank + 1); // the first merge that makes it
  });
  for (const a of (j.added_tokens as Json[] | undefined) ?? []) {
    const id = a.id as number;
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new Error(`[gguf export] ${file}: added token ${JSON.stringify(a.content)} has id ${id} outside the model's ${vocabSize}`);
    tokens[id] = a.content as string;
    types[id] = a.content === model.unk_token ? TokenType.UNKNOWN : a.special ? TokenType.CONTROL : TokenType.USER_DEFINED;
  }
  for (let i = 0; i < vocabSize; i++) if (tokens[i] === undefined) tokens[i] = `[PAD${i}]`;
  const v: GgufVocab = { model: 'llama', tokens: tokens as string[], types, scores, merges: [], pre: 'default', addBos: false, addSpacePrefix: prependsSpace(j) };
  if (removesExtraWhitespaces(j)) v.removeExtraWhitespaces = true;
  // BOS from the post-processor's template (LLaMA's "<s> $A"), overridden by tokenizer_config.json
  const post = j.post_processor as Json | null;
  const single = post?.type === 'TemplateProcessing' ? (post.single as Json[]) : [];
  const first = single[0]?.SpecialToken as Json | undefined;
  if (first && typeof first.id === 'string' && idOf.has(first.id)) { v.bos = idOf.get(first.id)!; v.addBos = true; }
  const unk = typeof model.unk_token === 'string' ? idOf.get(model.unk_token) : undefined;
  if (unk !== undefined) v.unk = unk;
  if (v.eos === undefined && idOf.has('</s>')) v.eos = idOf.get('</s>')!;
  applyTokenizerConfig(v, config);
  return v;
}

/** HF name → llama.cpp name, or null for a tensor llama.cpp does not take. */
export function ggufTensorName(hf: string): string {
  if (hf === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (hf === 'model.norm.weight') return 'output_norm.weight';
  if (hf === 'lm_head.weight') return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hf);
  const map: Record<string, string> = {
    'input_layernorm.weight': 'attn_norm.weight', 'post_attention_layernorm.weight': 'ffn_norm.weight',
    'self_attn.q_proj.weight': 'attn_q.weight', 'self_attn.k_proj.weight': 'attn_k.weight',
    'self_attn.v_proj.weight': 'attn_v.weight', 'self_attn.o_proj.weight': 'attn_output.weight',
    'self_attn.q_norm.weight': 'attn_q_norm.weight', 'self_attn.k_norm.weight': 'attn_k_norm.weight',
    'self_attn.q_proj.bias': 'attn_q.bias', 'self_attn.k_proj.bias': 'attn_k.bias', 'self_attn.v_proj.bias': 'attn_v.bias',
    'mlp.gate_proj.weight': 'ffn_gate.weight', 'mlp.up_proj.weight': 'ffn_up.weight', 'mlp.down_proj.weight': 'ffn_down.weight',
  };
  const rest = m ? map[m[2]!] : undefined;
  if (!m || !rest) throw new Error(`[gguf export] no llama.cpp name for tensor ${hf}`);
  return `blk.${m[1]}.${rest}`;
}

/**
 * Reorder the rows of a q/k projection (heads·D rows) or bias from rotate_half pairs (i, i + D/2) to adjacent
 * pairs (2i, 2i + 1), per head.
 */
export function permuteRope(w: Float32Array, heads: number, cols: number): Float32Array {
  const rows = w.length / cols, D = rows / heads, half = D / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) for (let i = 0; i < half; i++) {
    out.set(w.subarray((h * D + i) * cols, (h * D + i + 1) * cols), (h * D + 2 * i) * cols);
    out.set(w.subarray((h * D + half + i) * cols, (h * D + half + i + 1) * cols), (h * D + 2 * i + 1) * cols);
  }
  return out;
}

// general.architecture per HF architecture (gguf-py constants.py MODEL_ARCH_NAMES)
const GGUF_ARCH: Record<Architecture, 'llama' | 'qwen2' | 'qwen3'> = { LlamaForCausalLM: 'llama', Qwen2ForCausalLM: 'qwen2', Qwen3ForCausalLM: 'qwen3' };

// llama.cpp's llama_ftype (include/llama.h): ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q8_0 7, MOSTLY_BF16 32
const FILE_TYPE: Record<GgufOutType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7, bf16: 32 };

/** A parameter's values as f32 (bf16 widened, quantized dequantized), one tensor at a time. */
function valuesOf(t: Tensor): Float32Array {
  if (t.dtype === 'f32') return t.f32('gguf export');
  if (t.dtype === 'bf16') return fromBf16Array(t.data as Uint16Array);
  if (t.dtype === 'q8_0') return dequantizeQ8_0(t.data as Uint8Array, t.size);
  if (t.dtype === 'q4_0') return dequantizeQ4_0(t.data as Uint8Array, t.size);
  if (isPanelLayout(t.dtype)) {  // a model loaded for decoding (decode-layout.ts)
    const out = new Float32Array(t.size);
    backend().dequantizeRows(t.data as Uint8Array, t.dtype, t.shape[0]!, t.shape[1]!, out);
    return out;
  }
  throw new Error(`[gguf export] cannot export a ${t.dtype} tensor`);
}

export interface ExportInfo {
  tensors: number; bytes: number; architecture: string; fellBackToF16: string[];
  /** what llama.cpp will run differently from us (dynamic RoPE scaling beyond the trained length) */
  notes: string[];
}

/**
 * The GGUF key/values of a model of config `c` stored at `type` with vocabulary `vocab` (what llama.cpp reads for
 * the "llama" / "qwen2" / "qwen3" architectures); refuses what this writer cannot express.
 */
export function ggufMetadata(c: LlamaConfig, vocab: GgufVocab, type: GgufOutType, architecture: Architecture, name = 'zhongjing'): Map<string, GgufValue> {
  const arch = ggufArch(architecture);
  if (!!c.qkNorm !== (arch === 'qwen3')) throw new Error(`[gguf export] ${architecture}: q/k norms (qkNorm=${!!c.qkNorm}) are Qwen3's alone`);
  if (arch === 'qwen3' && c.attentionBias) throw new Error('[gguf export] Qwen3ForCausalLM with q/k/v biases: llama.cpp\'s qwen3 graph has none');
  if (vocab.tokens.length !== c.vocabSize)
    throw new Error(`[gguf export] the vocabulary has ${vocab.tokens.length} tokens, the model ${c.vocabSize}`);
  const D = headDimOf(c);
  const rope = ropeScalingToGguf(c, D, arch); // refuses what llama.cpp cannot carry, before anything is written
  const kv = new Map<string, GgufValue>();
  kv.set('general.architecture', str(arch));
  kv.set('general.name', str(name));
  kv.set('general.file_type', u32(FILE_TYPE[type]));
  if (type === 'q8_0' || type === 'q4_0') kv.set('general.quantization_version', u32(2));
  kv.set(`${arch}.context_length`, u32(c.maxPositions));
  kv.set(`${arch}.embedding_length`, u32(c.hiddenSize));
  kv.set(`${arch}.block_count`, u32(c.numLayers));
  kv.set(`${arch}.feed_forward_length`, u32(c.intermediateSize));
  kv.set(`${arch}.rope.dimension_count`, u32(D));
  // the head dim, as convert_hf_to_gguf.py writes it whenever config.json has head_dim (Qwen3's always does)
  if (arch === 'qwen3' || D * c.numHeads !== c.hiddenSize) {
    kv.set(`${arch}.attention.key_length`, u32(D));
    kv.set(`${arch}.attention.value_length`, u32(D));
  }
  kv.set(`${arch}.attention.head_count`, u32(c.numHeads));
  kv.set(`${arch}.attention.head_count_kv`, u32(c.numKvHeads));
  kv.set(`${arch}.attention.layer_norm_rms_epsilon`, f32(c.rmsNormEps));
  kv.set(`${arch}.rope.freq_base`, f32(c.ropeTheta));
  for (const [k, v] of rope.kv) kv.set(k, v);
  kv.set(`${arch}.vocab_size`, u32(c.vocabSize));
  kv.set('tokenizer.ggml.model', str(vocab.model));
  if (vocab.model === 'gpt2') kv.set('tokenizer.ggml.pre', str(vocab.pre));
  kv.set('tokenizer.ggml.tokens', arr(GgufType.STRING, vocab.tokens));
  if (vocab.scores) kv.set('tokenizer.ggml.scores', arr(GgufType.FLOAT32, vocab.scores));
  kv.set('tokenizer.ggml.token_type', arr(GgufType.INT32, vocab.types));
  if (vocab.model === 'gpt2') kv.set('tokenizer.ggml.merges', arr(GgufType.STRING, vocab.merges));
  if (vocab.unk !== undefined) kv.set('tokenizer.ggml.unknown_token_id', u32(vocab.unk));
  if (vocab.addSpacePrefix !== undefined) kv.set('tokenizer.ggml.add_space_prefix', bool(vocab.addSpacePrefix));
  if (vocab.removeExtraWhitespaces) kv.set('tokenizer.ggml.remove_extra_whitespaces', bool(true));
  const bos = vocab.bos ?? c.bosTokenId, eos = vocab.eos ?? c.eosTokenId;
  if (bos !== undefined) kv.set('tokenizer.ggml.bos_token_id', u32(bos));
  if (eos !== undefined) kv.set('tokenizer.ggml.eos_token_id', u32(eos));
  if (vocab.pad !== undefined) kv.set('tokenizer.ggml.padding_token_id', u32(vocab.pad));
  kv.set('tokenizer.ggml.add_bos_token', bool(vocab.addBos));
  if (vocab.chatTemplate) kv.set('tokenizer.chat_template', str(vocab.chatTemplate));
  return kv;
}

/** llama.cpp's architecture name for ours. */
export function ggufArch(architecture: Architecture): 'llama' | 'qwen2' | 'qwen3' {
  return GGUF_ARCH[architecture];
}

/**
 * The ggml type a tensor of row-major `shape` is stored as at `type`: 1-D tensors stay F32; Q8_0 / Q4_0 need rows
 * of whole 32-value blocks, else F16 (`fellBack` true: the caller reports it).
 */
export function ggufTensorType(type: GgufOutType, shape: readonly number[]): { type: GgmlType; fellBack: boolean } {
  const inner = shape[shape.length - 1]!;
  if (type === 'f32' || shape.length === 1) return { type: GgmlType.F32, fellBack: false };
  if (type === 'q8_0' || type === 'q4_0') {
    if (inner % QK8_0 === 0) return { type: type === 'q8_0' ? GgmlType.Q8_0 : GgmlType.Q4_0, fellBack: false };
    return { type: GgmlType.F16, fellBack: true }; // rows not a multiple of 32: ggml cannot block them
  }
  return { type: type === 'bf16' ? GgmlType.BF16 : GgmlType.F16, fellBack: false };
}

/** f32 values → the bytes of ggml type `gt` (one tensor, or a run of whole rows of one). */
export function encodeGgml(data: Float32Array, gt: GgmlType): Uint8Array {
  if (gt === GgmlType.F32) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  if (gt === GgmlType.Q8_0) return quantizeQ8_0(data);
  if (gt === GgmlType.Q4_0) return quantizeQ4_0(data);
  if (gt === GgmlType.BF16) return new Uint8Array(toBf16Array(data).buffer);
  return new Uint8Array(toF16Array(data).buffer);
}

/** Write the model (adapters must already be merged or absent) and vocabulary as GGUF. */
export function writeModelGguf(path: string, model: LlamaForCausalLM, vocab: GgufVocab,
  opts: { type?: GgufOutType; architecture?: Architecture; name?: string } = {}): ExportInfo {
  const type = opts.type ?? 'f32';
  const c = model.config;
  const architecture = opts.architecture ?? architectureOf(c);
  const arch = ggufArch(architecture);
  for (const [n, s] of model.namedLinears()) if (s.lora.length)
    throw new Error(`[gguf export] ${n} still has adapters attached: merge them first`);
  const kv = ggufMetadata(c, vocab, type, architecture, opts.name);
  const tensors: GgufTensorIn[] = [];
  const fellBack: string[] = [];
  let bytes = 0;
  const rope = ropeScalingToGguf(c, headDimOf(c), arch);
  if (rope.freqs) {
    // llama3 scaling: the per-dimension factors, F32 whatever the type (convert_hf_to_gguf writes it first)
    const raw = encodeGgml(rope.freqs, GgmlType.F32);
    tensors.push({ name: ROPE_FREQS, dims: [rope.freqs.length], type: GgmlType.F32, data: raw });
    bytes += raw.byteLength;
  }
  for (const [hf, t] of model.namedParameters()) {
    const name = ggufTensorName(hf);
    let data = valuesOf(t);
    const shape = t.shape;
    if (arch === 'llama') {
      // rows of q and k (and their biases, had LLaMA any) go from half-split to interleaved pairs
      const cols = shape.length === 2 ? shape[1]! : 1;
      if (/\.self_attn\.q_proj\./.test(hf)) data = permuteRope(data, c.numHeads, cols);
      else if (/\.self_attn\.k_proj\./.test(hf)) data = permuteRope(data, c.numKvHeads, cols);
    }
    const dims = [...shape].reverse(); // ggml: innermost first
    const gt = ggufTensorType(type, shape);
    if (gt.fellBack) fellBack.push(hf);
    const raw = encodeGgml(data, gt.type);
    tensors.push({ name, dims, type: gt.type, data: raw });
    bytes += raw.byteLength;
  }
  writeGguf(path, kv, tensors);
  return { tensors: tensors.length, bytes, architecture: arch, fellBackToF16: fellBack, notes: rope.notes };
}

/** The vocabulary of a model directory: its tokenizer.json, or the byte-level stand-in. */
export function vocabOfDir(dir: string, vocabSize: number): GgufVocab {
  const tj = join(dir, 'tokenizer.json');
  if (!existsSync(tj)) return byteLevelVocab(vocabSize);
  const tc = join(dir, 'tokenizer_config.json');
  return vocabFromTokenizerJson(JSON.parse(readFileSync(tj, 'utf8')), existsSync(tc) ? JSON.parse(readFileSync(tc, 'utf8')) : null, vocabSize, tj);
}

/** `zhongjing export gguf`: load DIR, merge its enabled adapters, write FILE. */
export function exportModelDirToGguf(dir: string, out: string, type: GgufOutType = 'f32'): ExportInfo & { merged: string[] } {
  const md = loadModelDir(dir, { weights: 'f32' }); // merging adapters writes into the base: f32
  const merged: string[] = [];
  for (const a of md.adapters) {
    if (a.enabled) { a.merge(); merged.push(a.name); } else a.detach();
  }
  const vocab = vocabOfDir(md.dir, md.model.config.vocabSize);
  if (vocab.eos === undefined && md.eosTokenIds.length) vocab.eos = md.eosTokenIds[0]!;
  return { ...writeModelGguf(out, md.model, vocab, { type, architecture: md.architecture }), merged };
}
