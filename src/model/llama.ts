// llama.ts — the LLaMA family decoder (Touvron et al. 2023; Qwen2 adds q/k/v biases, Qwen3 per-head q/k
// RMSNorms and a free head dim, Llama 3 scaled RoPE): pre-norm blocks of RMSNorm → GQA attention with RoPE →
// residual → RMSNorm → SwiGLU MLP → residual, then a final norm and the LM head. Parameter names follow HF's
// LlamaForCausalLM / Qwen3ForCausalLM so checkpoints map one-to-one.
//
// Every projection is a LoraLinear (a Linear that PEFT adapters can attach to); an optional KvCache turns
// forward() into prefill / incremental decode. Sampling lives in generate.ts, files in model-dir.ts.
//
// Dimension legend: B batch, T sequence (new tokens), S keys (cached + new), C hidden, V vocabulary, L layers,
// H query heads, Hkv key/value heads, D head dim (C / H unless the config sets it), F MLP hidden.
import { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import { add, attention, matmul, recordAdd, reshape, rope, swiglu } from '../ops/index.js';
import { Module, ModuleList } from '../nn/module.js';
import { Embedding, RMSNorm, withDeferredWeights } from '../nn/layers.js';
import { LoraLinear, sharedLoraDowns } from '../nn/lora.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import { checkpoint, isRecomputing } from '../autograd/checkpoint.js';
import { Rng } from '../util/rng.js';
import { KvCache, type KvCacheDType } from './kv-cache.js';
import { positionLimit, ropeDependsOnLength, ropeInvFreq, type RopeScaling } from './rope-scaling.js';

export { KvCache };
export type { RopeScaling };

export interface LlamaConfig {
  vocabSize: number;
  hiddenSize: number;        // C
  intermediateSize: number;  // F
  numLayers: number;         // L
  numHeads: number;          // H
  numKvHeads: number;        // Hkv
  ropeTheta: number;
  rmsNormEps: number;
  maxPositions: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projection biases (Qwen2) */
  attentionBias: boolean;
  /** D when it is not C / H (Qwen3: q_proj is (H·D, C), o_proj (C, H·D)) */
  headDim?: number;
  /** per-head RMSNorm of q and k over D before RoPE (Qwen3's q_norm / k_norm) */
  qkNorm?: boolean;
  /** scaled RoPE (llama3, linear, dynamic); absent or null = plain RoPE */
  ropeScaling?: RopeScaling | null;
  bosTokenId?: number;
  eosTokenId?: number;
}

export const presets: Record<'tiny' | 'anchor', LlamaConfig> = {
  // the demo model: trains in minutes on 2 cores
  tiny: {
    vocabSize: 2048, hiddenSize: 128, intermediateSize: 352, numLayers: 4, numHeads: 4, numKvHeads: 2,
    ropeTheta: 10000, rmsNormEps: 1e-5, maxPositions: 512, tieWordEmbeddings: false, attentionBias: false,
  },
  // the benchmark shape of ../shared/anchors/torch_train_step.py (16.8M parameters)
  anchor: {
    vocabSize: 8000, hiddenSize: 384, intermediateSize: 1024, numLayers: 6, numHeads: 6, numKvHeads: 6,
    ropeTheta: 10000, rmsNormEps: 1e-5, maxPositions: 256, tieWordEmbeddings: false, attentionBias: false,
  },
};

export interface ForwardInput {
  /** (B, T) token ids */
  ids: Tensor;
  /** (B·T) positions; defaults to 0..T-1 per row */
  positions?: Tensor;
  /** (B, T) 1 = real token, 0 = padding */
  keyMask?: Tensor | null;
  /** inference only: keys/values of earlier tokens; the new ones are appended (prefill, then decode) */
  cache?: KvCache | null;
}

/** D: the config's headDim, else C / H. */
export function headDimOf(c: LlamaConfig): number {
  return c.headDim ?? c.hiddenSize / c.numHeads;
}

class Attention extends Module {
  readonly qProj: LoraLinear;
  readonly kProj: LoraLinear;
  readonly vProj: LoraLinear;
  readonly oProj: LoraLinear;
  readonly qNorm: RMSNorm | null = null;
  readonly kNorm: RMSNorm | null = null;
  constructor(private readonly cfg: LlamaConfig, rng: Rng, private readonly layerIndex: number) {
    super();
    const C = cfg.hiddenSize, D = headDimOf(cfg), std = 0.02;
    const bias = cfg.attentionBias;
    this.qProj = this.add('q_proj', new LoraLinear(C, cfg.numHeads * D, rng, { bias, std }));
    this.kProj = this.add('k_proj', new LoraLinear(C, cfg.numKvHeads * D, rng, { bias, std }));
    this.vProj = this.add('v_proj', new LoraLinear(C, cfg.numKvHeads * D, rng, { bias, std }));
    // scaled init of the residual projections (GPT-2 style) keeps early activations bounded
    this.oProj = this.add('o_proj', new LoraLinear(cfg.numHeads * D, C, rng, { std: std / Math.sqrt(2 * cfg.numLayers) }));
    // kept across a checkpoint's recomputation when it keeps (with their LoRA branches: nn/lora.ts), like the MLP's
    // gate / up: (H + 2 Hkv) D + C values per row, and the recomputation then redoes no projection of this block
    for (const p of [this.qProj, this.kProj, this.vProj, this.oProj]) p.keepInCheckpoint = true;
    if (cfg.qkNorm) {
      this.qNorm = this.add('q_norm', new RMSNorm(D, cfg.rmsNormEps));
      this.kNorm = this.add('k_norm', new RMSNorm(D, cfg.rmsNormEps));
    }
  }

  forward(x: Tensor, positions: Tensor, keyMask: Tensor | null, cache: KvCache | null, invFreq: Float64Array | null): Tensor {
    const [B, T] = x.shape as [number, number, number];
    const { numHeads: H, numKvHeads: Hkv, ropeTheta } = this.cfg;
    const D = headDimOf(this.cfg);
    const downs = sharedLoraDowns([this.qProj, this.kProj, this.vProj], x);              // one LoRA-A GEMM for q, k, v
    let q = reshape(this.qProj.forward(x, downs), [B, T, H, D]);                          // (B, T, H, D)
    let k = reshape(this.kProj.forward(x, downs), [B, T, Hkv, D]);                        // (B, T, Hkv, D)
    if (this.qNorm && this.kNorm) { q = this.qNorm.forward(q); k = this.kNorm.forward(k); } // per head, over D
    q = rope(q, positions, ropeTheta, invFreq);                                           // (B, T, H, D)
    k = rope(k, positions, ropeTheta, invFreq);                                           // (B, T, Hkv, D)
    const v = reshape(this.vProj.forward(x, downs), [B, T, Hkv, D]);                             // (B, T, Hkv, D)
    const a = cache
      ? cache.attend(this.layerIndex, q, k, v)                                            // (B, T, H, D)
      : attention(q, k, v, { causal: true, keyMask });                                    // (B, T, H, D)
    return this.oProj.forward(reshape(a, [B, T, H * D]));                                 // (B, T, C)
  }
}

class Mlp extends Module {
  readonly gateProj: LoraLinear;
  readonly upProj: LoraLinear;
  readonly downProj: LoraLinear;
  constructor(cfg: LlamaConfig, rng: Rng) {
    super();
    const C = cfg.hiddenSize, F = cfg.intermediateSize;
    this.gateProj = this.add('gate_proj', new LoraLinear(C, F, rng));
    this.upProj = this.add('up_proj', new LoraLinear(C, F, rng));
    this.downProj = this.add('down_proj', new LoraLinear(F, C, rng, { std: 0.02 / Math.sqrt(2 * cfg.numLayers) }));
    // the two widest products (x Wᵀ to the intermediate size): kept across a checkpoint's recomputation when it keeps
    this.gateProj.keepInCheckpoint = this.upProj.keepInCheckpoint = true;
    // the layer's last product: its value leaves the layer through the residual add, which the backward never reads
    this.downProj.unreadInRecompute = true;
  }
  forward(x: Tensor): Tensor {
    const downs = sharedLoraDowns([this.gateProj, this.upProj], x); // one LoRA-A GEMM for gate and up
    return this.downProj.forward(swiglu(this.gateProj.forward(x, downs), this.upProj.forward(x, downs))); // (B, T, C)
  }
}

class DecoderLayer extends Module {
  readonly inputNorm: RMSNorm;
  readonly selfAttn: Attention;
  readonly postNorm: RMSNorm;
  readonly mlp: Mlp;
  constructor(cfg: LlamaConfig, rng: Rng, index: number) {
    super();
    this.inputNorm = this.add('input_layernorm', new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps));
    this.selfAttn = this.add('self_attn', new Attention(cfg, rng, index));
    this.postNorm = this.add('post_attention_layernorm', new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps));
    this.mlp = this.add('mlp', new Mlp(cfg, rng));
  }
  forward(x: Tensor, positions: Tensor, keyMask: Tensor | null, cache: KvCache | null, invFreq: Float64Array | null): Tensor {
    const h = add(x, this.selfAttn.forward(this.inputNorm.forward(x), positions, keyMask, cache, invFreq));
    const m = this.mlp.forward(this.postNorm.forward(h));
    // the layer's output: a checkpoint's recomputation needs its graph, never its value (the backward reads none)
    return isRecomputing() ? recordAdd(h, m, Tensor.empty(h.shape, 'f32')) : add(h, m); // (B, T, C)
  }
}

class LlamaModel extends Module {
  readonly embedTokens: Embedding;
  readonly layers: ModuleList<DecoderLayer>;
  readonly norm: RMSNorm;
  constructor(cfg: LlamaConfig, rng: Rng) {
    super();
    this.embedTokens = this.add('embed_tokens', new Embedding(cfg.vocabSize, cfg.hiddenSize, rng));
    this.layers = this.add('layers', new ModuleList(Array.from({ length: cfg.numLayers }, (_, i) => new DecoderLayer(cfg, rng, i))));
    this.norm = this.add('norm', new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps));
  }
}

export class LlamaForCausalLM extends Module {
  readonly model: LlamaModel;
  readonly lmHead: LoraLinear | null;
  /** RoPE frequencies when they do not depend on the sequence length (null: plain RoPE or dynamic) */
  private readonly staticInvFreq: Float64Array | null;
  /** recompute each decoder layer in backward instead of keeping its activations (autograd/checkpoint.ts) */
  gradientCheckpointing = false;
  /**
   * Under checkpointing, keep each layer's projections q, k, v, o, gate, up (with their LoRA sums and every LoRA down
   * half) and the attention output from the forward instead of recomputing them in backward ('auto': when all layers'
   * together fit CHECKPOINT_KEEP_BYTES; the recomputation then redoes only norms, RoPE, SwiGLU and residual adds, and
   * records the down projection's product without computing it). Gradients are bitwise the same.
   */
  checkpointKeep: 'auto' | 'mlp' | 'none' = 'auto';
  /** what decoding's KV caches hold keys and values as (newCache): f32, or bf16 for half their memory and reads */
  kvCacheDType: KvCacheDType = 'f32';

  private keepsMlpProducts(rows: number): boolean {
    return checkpointKeepsMlp(this.config, rows, this.checkpointKeep);
  }

  /**
   * `init: false` skips the random initialisation (weights start at zero); `init: 'deferred'` allocates no weights
   * at all (placeholders a loader replaces tensor by tensor: nn/layers.ts withDeferredWeights).
   */
  constructor(readonly config: LlamaConfig, seed = 0, opts: { init?: boolean | 'deferred' } = {}) {
    super();
    validateConfig(config);
    const rng = opts.init === false || opts.init === 'deferred' ? new ZeroRng(0) : new Rng(seed);
    const build = () => {
      const model = new LlamaModel(config, rng);
      const head = config.tieWordEmbeddings ? null : new LoraLinear(config.hiddenSize, config.vocabSize, rng);
      return { model, head };
    };
    const { model, head } = opts.init === 'deferred' ? withDeferredWeights(build) : build();
    this.model = this.add('model', model);
    this.lmHead = head ? this.add('lm_head', head) : null;
    this.staticInvFreq = ropeDependsOnLength(config) ? null : ropeInvFreq(config, headDimOf(config), config.maxPositions);
  }

  /** The RoPE inverse frequencies for a pass whose positions are `positions` (null: plain RoPE from theta). */
  private invFreqFor(positions: Tensor): Float64Array | null {
    if (!ropeDependsOnLength(this.config)) return this.staticInvFreq;
    // dynamic NTK: the base follows the longest position in this pass (HF's seq_len = max position + 1)
    let max = 0;
    for (const p of positions.i32('llama')) if (p > max) max = p;
    return ropeInvFreq(this.config, headDimOf(this.config), max + 1);
  }

  /** The final hidden states (B, T, C), before the LM head (value heads read these). */
  hidden(input: ForwardInput): Tensor {
    const ids = input.ids;
    if (ids.rank !== 2) throw new Error(`[llama] ids must be (B, T), got [${ids.shape.join(',')}]`);
    const [B, T] = ids.shape as [number, number];
    const cache = input.cache ?? null;
    const past = cache ? cache.length : 0;
    const limit = positionLimit(this.config);
    if (past + T > limit) throw new Error(`[llama] sequence of ${past + T} exceeds the position limit ${limit}`);
    if (cache) {
      if (isGradEnabled() && this.parameters().some((p) => p.requiresGrad))
        throw new Error('[llama] the KV cache is for inference: run under noGrad');
      cache.append(B, T, input.keyMask ?? null);
    }
    const positions = input.positions ?? defaultPositions(B, T, past);
    const invFreq = this.invFreqFor(positions);
    let x = this.model.embedTokens.forward(ids); // (B, T, C)
    const mask = input.keyMask ?? null;
    const ck = this.gradientCheckpointing && !cache && isGradEnabled();
    const rngs = ck ? [...new Set(this.namedLinears().flatMap(([, l]) => l.lora.map((s) => s.adapter.dropRng)))] : [];
    const keep = ck && this.keepsMlpProducts(B * T);
    // with nothing recorded (sampling, scoring, old / reference log-probs) a layer's intermediates die with it: an
    // enclosing tidy would otherwise hold every layer's q/k/v and MLP products at once (more than a bf16 base)
    const inference = !isGradEnabled();
    for (const layer of this.model.layers.items) {
      if (ck) x = checkpoint((h) => layer.forward(h, positions, mask, null, invFreq), x, rngs, keep);
      else if (inference) {
        const prev = x;
        x = tidy(() => layer.forward(prev, positions, mask, cache, invFreq));
        prev.dispose(); // the embedding's or the previous layer's output: made here, read by nothing else
      } else x = layer.forward(x, positions, mask, cache, invFreq);
    }
    if (cache) cache.commit(T);
    return this.model.norm.forward(x); // (B, T, C)
  }

  /** Every projection, with its HF module name (what PEFT target_modules match). */
  namedLinears(): [string, LoraLinear][] {
    const out: [string, LoraLinear][] = [];
    this.model.layers.items.forEach((l, i) => {
      const p = `model.layers.${i}`;
      const a = l.selfAttn, m = l.mlp;
      out.push([`${p}.self_attn.q_proj`, a.qProj], [`${p}.self_attn.k_proj`, a.kProj], [`${p}.self_attn.v_proj`, a.vProj],
        [`${p}.self_attn.o_proj`, a.oProj], [`${p}.mlp.gate_proj`, m.gateProj], [`${p}.mlp.up_proj`, m.upProj],
        [`${p}.mlp.down_proj`, m.downProj]);
    });
    if (this.lmHead) out.push(['lm_head', this.lmHead]);
    return out;
  }

  /** An empty cache for B rows of up to `capacity` tokens (prompt + new tokens). */
  newCache(B: number, capacity: number): KvCache {
    const c = this.config;
    return new KvCache(c.numLayers, B, Math.min(capacity, positionLimit(c)), c.numKvHeads, headDimOf(c),
      this.kvCacheDType);
  }

  /** Logits (B, T, V). */
  forward(input: ForwardInput): Tensor {
    return this.logits(this.hidden(input));
  }

  /** The LM head over hidden states (..., C) → (..., V). */
  logits(h: Tensor): Tensor {
    if (this.lmHead) return this.lmHead.forward(h);
    return matmul(h, this.model.embedTokens.weight, { transB: true }); // tied: logits = h Eᵀ
  }
}

/**
 * checkpointKeep 'auto' keeps the projections and attention outputs while all layers' together take at most this
 * (640 MiB: Qwen2.5-0.5B at 512 tokens keeps 595 MiB, against a step's ~2 GiB peak).
 */
export const CHECKPOINT_KEEP_BYTES = 640 * 2 ** 20;

/** f32 values a keeping checkpoint holds per row and layer (LoRA down halves, r per adapted projection, left out). */
export function checkpointKeptPerRow(c: LlamaConfig): number {
  const D = headDimOf(c);
  const projections = 2 * c.intermediateSize + (c.numHeads + 2 * c.numKvHeads) * D + c.hiddenSize; // gate, up, q, k, v, o
  return projections + c.numHeads * (D + 1); // + the attention output and its log-sum-exp (ops/attention.ts)
}

/** Whether a checkpointed forward of `rows` (B·T) rows keeps the projections and attention outputs (see checkpointKeep). */
export function checkpointKeepsMlp(c: LlamaConfig, rows: number, setting: 'auto' | 'mlp' | 'none'): boolean {
  if (setting !== 'auto') return setting === 'mlp';
  return 4 * rows * checkpointKeptPerRow(c) * c.numLayers <= CHECKPOINT_KEEP_BYTES;
}

/** Every draw is 0: the layers' initialisers then cost a fill instead of Box–Muller per weight. */
class ZeroRng extends Rng {
  override next(): number { return 0; }
  override normal(): number { return 0; }
}

/** Positions offset..offset+T-1 for every row (B·T). */
export function defaultPositions(B: number, T: number, offset = 0): Tensor {
  const p = Tensor.empty([B * T], 'i32');
  const d = p.data as Int32Array;
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) d[b * T + t] = offset + t;
  return p;
}

export function validateConfig(c: LlamaConfig): void {
  const bad = (field: string, why: string) => { throw new Error(`[llama config] ${field}: ${why}`); };
  for (const k of ['vocabSize', 'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'maxPositions'] as const)
    if (!Number.isInteger(c[k]) || c[k] <= 0) bad(k, `must be a positive integer, got ${c[k]}`);
  if (c.headDim !== undefined) {
    if (!Number.isInteger(c.headDim) || c.headDim <= 0) bad('headDim', `must be a positive integer, got ${c.headDim}`);
    if (c.headDim % 2) bad('headDim', `${c.headDim} must be even for RoPE`);
  } else {
    if (c.hiddenSize % c.numHeads) bad('hiddenSize', `${c.hiddenSize} is not divisible by numHeads ${c.numHeads}`);
    if ((c.hiddenSize / c.numHeads) % 2) bad('numHeads', 'head dim must be even for RoPE');
  }
  if (c.numHeads % c.numKvHeads) bad('numKvHeads', `${c.numKvHeads} does not divide numHeads ${c.numHeads}`);
  if (!(c.ropeTheta > 0)) bad('ropeTheta', 'must be positive');
  if (!(c.rmsNormEps > 0)) bad('rmsNormEps', 'must be positive');
  const s = c.ropeScaling;
  if (s) {
    if (!(s.factor >= 1)) bad('ropeScaling.factor', `must be at least 1, got ${s.factor}`);
    if (s.type === 'llama3') {
      if (!(s.highFreqFactor > s.lowFreqFactor) || !(s.lowFreqFactor > 0))
        bad('ropeScaling', `llama3 needs 0 < lowFreqFactor < highFreqFactor, got ${s.lowFreqFactor}, ${s.highFreqFactor}`);
      if (!Number.isInteger(s.originalMaxPositions) || s.originalMaxPositions <= 0)
        bad('ropeScaling.originalMaxPositions', `must be a positive integer, got ${s.originalMaxPositions}`);
    }
  }
}
