// llama.ts — the LLaMA family decoder (Touvron et al. 2023; Qwen2 adds q/k/v biases): pre-norm blocks of
// RMSNorm → GQA attention with RoPE → residual → RMSNorm → SwiGLU MLP → residual, then a final norm and
// the LM head. Parameter names follow HF's LlamaForCausalLM so checkpoints map one-to-one.
//
// Every projection is a LoraLinear (a Linear that PEFT adapters can attach to); an optional KvCache turns
// forward() into prefill / incremental decode. Sampling lives in generate.ts, files in model-dir.ts.
//
// Dimension legend: B batch, T sequence (new tokens), S keys (cached + new), C hidden, V vocabulary, L layers,
// H query heads, Hkv key/value heads, D head dim (C / H), F MLP hidden.
import { Tensor } from '../tensor/tensor.js';
import { add, attention, matmul, reshape, rope, swiglu } from '../ops/index.js';
import { Module, ModuleList } from '../nn/module.js';
import { Embedding, RMSNorm } from '../nn/layers.js';
import { LoraLinear } from '../nn/lora.js';
import { isGradEnabled } from '../autograd/grad-mode.js';
import { checkpoint } from '../autograd/checkpoint.js';
import { Rng } from '../util/rng.js';
import { KvCache } from './kv-cache.js';

export { KvCache };

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

class Attention extends Module {
  readonly qProj: LoraLinear;
  readonly kProj: LoraLinear;
  readonly vProj: LoraLinear;
  readonly oProj: LoraLinear;
  constructor(private readonly cfg: LlamaConfig, rng: Rng, private readonly layerIndex: number) {
    super();
    const C = cfg.hiddenSize, D = C / cfg.numHeads, std = 0.02;
    const bias = cfg.attentionBias;
    this.qProj = this.add('q_proj', new LoraLinear(C, cfg.numHeads * D, rng, { bias, std }));
    this.kProj = this.add('k_proj', new LoraLinear(C, cfg.numKvHeads * D, rng, { bias, std }));
    this.vProj = this.add('v_proj', new LoraLinear(C, cfg.numKvHeads * D, rng, { bias, std }));
    // scaled init of the residual projections (GPT-2 style) keeps early activations bounded
    this.oProj = this.add('o_proj', new LoraLinear(cfg.numHeads * D, C, rng, { std: std / Math.sqrt(2 * cfg.numLayers) }));
  }

  forward(x: Tensor, positions: Tensor, keyMask: Tensor | null, cache: KvCache | null): Tensor {
    const [B, T] = x.shape as [number, number, number];
    const { numHeads: H, numKvHeads: Hkv, hiddenSize: C, ropeTheta } = this.cfg;
    const D = C / H;
    const q = rope(reshape(this.qProj.forward(x), [B, T, H, D]), positions, ropeTheta);   // (B, T, H, D)
    const k = rope(reshape(this.kProj.forward(x), [B, T, Hkv, D]), positions, ropeTheta); // (B, T, Hkv, D)
    const v = reshape(this.vProj.forward(x), [B, T, Hkv, D]);                             // (B, T, Hkv, D)
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
  }
  forward(x: Tensor): Tensor {
    return this.downProj.forward(swiglu(this.gateProj.forward(x), this.upProj.forward(x))); // (B, T, C)
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
  forward(x: Tensor, positions: Tensor, keyMask: Tensor | null, cache: KvCache | null): Tensor {
    const h = add(x, this.selfAttn.forward(this.inputNorm.forward(x), positions, keyMask, cache));
    return add(h, this.mlp.forward(this.postNorm.forward(h)));
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
  /** recompute each decoder layer in backward instead of keeping its activations (autograd/checkpoint.ts) */
  gradientCheckpointing = false;

  /** `init: false` skips the random initialisation (weights start at zero): for loading a checkpoint. */
  constructor(readonly config: LlamaConfig, seed = 0, opts: { init?: boolean } = {}) {
    super();
    validateConfig(config);
    const rng = opts.init === false ? new ZeroRng(0) : new Rng(seed);
    this.model = this.add('model', new LlamaModel(config, rng));
    this.lmHead = config.tieWordEmbeddings ? null : this.add('lm_head', new LoraLinear(config.hiddenSize, config.vocabSize, rng));
  }

  /** The final hidden states (B, T, C), before the LM head (value heads read these). */
  hidden(input: ForwardInput): Tensor {
    const ids = input.ids;
    if (ids.rank !== 2) throw new Error(`[llama] ids must be (B, T), got [${ids.shape.join(',')}]`);
    const [B, T] = ids.shape as [number, number];
    const cache = input.cache ?? null;
    const past = cache ? cache.length : 0;
    if (past + T > this.config.maxPositions)
      throw new Error(`[llama] sequence of ${past + T} exceeds maxPositions ${this.config.maxPositions}`);
    if (cache) {
      if (isGradEnabled() && this.parameters().some((p) => p.requiresGrad))
        throw new Error('[llama] the KV cache is for inference: run under noGrad');
      cache.append(B, T, input.keyMask ?? null);
    }
    const positions = input.positions ?? defaultPositions(B, T, past);
    let x = this.model.embedTokens.forward(ids); // (B, T, C)
    const mask = input.keyMask ?? null;
    const ck = this.gradientCheckpointing && !cache && isGradEnabled();
    const rngs = ck ? [...new Set(this.namedLinears().flatMap(([, l]) => l.lora.map((s) => s.adapter.dropRng)))] : [];
    for (const layer of this.model.layers.items)
      x = ck ? checkpoint((h) => layer.forward(h, positions, mask, null), x, rngs) : layer.forward(x, positions, mask, cache);
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
    return new KvCache(c.numLayers, B, Math.min(capacity, c.maxPositions), c.numKvHeads, c.hiddenSize / c.numHeads);
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
  if (c.hiddenSize % c.numHeads) bad('hiddenSize', `${c.hiddenSize} is not divisible by numHeads ${c.numHeads}`);
  if ((c.hiddenSize / c.numHeads) % 2) bad('numHeads', 'head dim must be even for RoPE');
  if (c.numHeads % c.numKvHeads) bad('numKvHeads', `${c.numKvHeads} does not divide numHeads ${c.numHeads}`);
  if (!(c.ropeTheta > 0)) bad('ropeTheta', 'must be positive');
  if (!(c.rmsNormEps > 0)) bad('rmsNormEps', 'must be positive');
}
