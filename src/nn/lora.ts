// lora.ts — LoRA (Hu et al. 2021) the way PEFT stores it: LoraLinear is a Linear that any number of adapters
// can attach to (y = x Wᵀ + b + Σ_enabled scale · dropout(x) Aᵀ Bᵀ, scale = lora_alpha / r, or / √r with
// rsLoRA); LoraAdapter holds one adapter's A (r, in) and B (out, r) per targeted module, its switch and its
// PEFT config. Adapter tensors are not registered in the host module, so the base's parameter list and
// checkpoints stay the base's. sharedLoraDowns gives linears that read one x (q / k / v, gate / up) their down
// halves from one GEMM over the concatenated A's, recorded as concat → matmul → slice so every A stays its own
// PEFT-named parameter. File I/O (adapter_model.safetensors, adapter_config.json) is in model/lora-io.ts.
import { Tensor } from '../tensor/tensor.js';
import { add, addLoraUp, concat, matmul, mul, recordAdd, recordLoraUp, slice } from '../ops/index.js';
import { recordMatmul } from '../ops/matmul.js';
import { isRecomputing, keptAcrossRecompute } from '../autograd/checkpoint.js';
import { parameter, zeros } from '../ops/creation.js';
import { dequantize, toWeightFormat } from '../ops/quant.js';
import { isGradEnabled, noGrad } from '../autograd/grad-mode.js';
import { Rng } from '../util/rng.js';
import { Linear } from './layers.js';

export interface LoraConfig {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  /** module-name suffixes (PEFT's list form), or one regex matched against the full name (PEFT's string form) */
  targetModules: string[] | string;
  useRslora: boolean;
}

export interface LoraSlot {
  adapter: LoraAdapter;
  /** (r, in) */
  A: Tensor;
  /** (out, r) */
  B: Tensor;
}

export class LoraLinear extends Linear {
  /** attached adapters in the order they were attached */
  readonly lora: LoraSlot[] = [];

  /**
   * y = x Wᵀ (+ b) + Σ_enabled scale · dropout(x) Aᵀ Bᵀ. Each up half is one GEMM written into the buffer of the sum so
   * far (made here, read by nothing else: addLoraUp's inPlace). Inside a checkpointed segment that keeps values, every
   * down half x Aᵀ (rows × r, tiny) is kept, and with keepInCheckpoint the whole sum too, so the recomputation only
   * records their nodes again (dropout still runs: its mask is drawn again from the replayed generator and dA reads
   * it). With unreadInRecompute the recomputation records the sum on a placeholder instead of computing it.
   */
  override forward(x: Tensor, shared: SharedDowns | null = null): Tensor {
    const active = this.lora.filter((s) => s.adapter.enabled);
    if (!active.length) return super.forward(x);
    const downs = active.map((s) => shared?.get(s) ?? keptDown(s.adapter.dropout(x), s.A)); // (..., r) each
    if (this.keepInCheckpoint) {
      const k = keptAcrossRecompute(() => this.branchSum(x, active, downs, null));
      return k.replayed ? this.branchSum(x, active, downs, k.value) : k.value;
    }
    if (this.unreadInRecompute && isRecomputing())
      return this.branchSum(x, active, downs, Tensor.empty([...x.shape.slice(0, -1), this.outFeatures], 'f32', true));
    return this.branchSum(x, active, downs, null);
  }

  // x Wᵀ (+ b) + Σ scale · down Bᵀ (..., out): computed (value null), or only recorded with `value` as the result and
  // views of it standing in for the partial sums (no vjp on the way reads them)
  private branchSum(x: Tensor, active: LoraSlot[], downs: Tensor[], value: Tensor | null): Tensor {
    const stand = () => Tensor.viewOf(value!, value!.shape);
    let y = value ? recordMatmul(x, this.weight, stand(), { transB: true }) : matmul(x, this.weight, { transB: true });
    if (this.bias) y = value ? recordAdd(y, this.bias, stand()) : add(y, this.bias);
    const last = active.length - 1;
    active.forEach((s, i) => {
      y = value ? recordLoraUp(y, downs[i]!, s.B, s.adapter.scale, i === last ? value : stand())
        : addLoraUp(y, downs[i]!, s.B, s.adapter.scale, { inPlace: true });
    });
    return y; // (..., out)
  }

  /**
   * W += scale · B A for one attached adapter, which is then detached. A frozen low-precision base (bf16, q8_0,
   * q4_0) is dequantized, merged in f32 and stored as bf16: requantizing would round the merged weight a second
   * time (exports merge into the original weights instead: they reload the base from its files in f32).
   */
  merge(adapter: LoraAdapter): void {
    const i = this.lora.findIndex((s) => s.adapter === adapter);
    if (i < 0) throw new Error(`[lora] adapter '${adapter.name}' is not attached here`);
    const s = this.lora[i]!;
    noGrad(() => {
      const delta = matmul(s.B, s.A); // (out, in)
      const low = this.weight.dtype !== 'f32';
      const wt = low ? dequantize(this.weight) : this.weight;
      const w = wt.f32('lora merge'), d = delta.f32();
      for (let j = 0; j < w.length; j++) w[j] = w[j]! + adapter.scale * d[j]!;
      delta.dispose();
      if (low) {
        const merged = toWeightFormat(wt, 'bf16').keep();
        merged.name = this.weight.name;
        merged.requiresGrad = false;
        wt.dispose();
        this.replaceParameter('weight', merged);
      }
    });
    this.lora.splice(i, 1);
  }
}

/** x Aᵀ (..., r), kept across a checkpoint's recomputation when it keeps (recorded again on the kept value). */
function keptDown(xin: Tensor, A: Tensor): Tensor {
  const k = keptAcrossRecompute(() => matmul(xin, A, { transB: true }));
  return k.replayed ? recordMatmul(xin, A, k.value, { transB: true }) : k.value;
}

/** LoRA down halves computed once for several linears reading the same input: slot → x Aᵀ (..., r). */
export type SharedDowns = Map<LoraSlot, Tensor>;

// Off by default: sharing changes how x's gradient is rounded (not its math), and test/train/rl.test.ts's 240-update
// PPO run, whose sampled trajectory any rounding change sends elsewhere, then lands outside its KL / reward bounds
// (it does so under ZJ_ISA=avx2 / scalar as well); docs/log.md (2026-12-02, LoRA SFT step) has the figures.
let shareDowns = false;

/** Switch sharedLoraDowns on or off (tests compare the two; bench train --share-lora-downs); returns the previous setting. */
export function setSharedLoraDowns(on: boolean): boolean {
  const prev = shareDowns;
  shareDowns = on;
  return prev;
}

/**
 * The down halves of every enabled adapter attached to two or more of `linears`, which must all read the same x
 * (q / k / v; gate / up): one GEMM x [A_1; A_2; …]ᵀ (..., Σr) per adapter instead of one per linear, then a slice per
 * linear. The parameters stay separate tensors (names, I/O, merge and optimiser groups untouched): their concat is
 * recorded, so its vjp hands each A its rows of the one dA GEMM, and dX of all the down halves is one GEMM too.
 * Adapters drawing dropout are left out (each linear draws its own mask, so their inputs differ). Values equal the
 * per-linear GEMMs' (the same dot products); x's gradient sums the branches in one GEMM instead of separate adds, so it
 * differs from the unshared path's by float rounding only (test/model/lora-shared.test.ts bounds it).
 */
export function sharedLoraDowns(linears: LoraLinear[], x: Tensor): SharedDowns | null {
  if (!shareDowns) return null; // off (the default, see above): every linear computes its own down halves
  let out: SharedDowns | null = null;
  for (const adapter of new Set(linears.flatMap((l) => l.lora.map((s) => s.adapter)))) {
    if (!adapter.enabled || adapter.drawsDropout()) continue;
    const slots = linears.map((l) => l.lora.find((s) => s.adapter === adapter)).filter((s): s is LoraSlot => !!s);
    if (slots.length < 2) continue;
    const cat = keptDown(x, concat(slots.map((s) => s.A), 0)); // (..., Σr)
    let off = 0;
    out ??= new Map();
    for (const s of slots) {
      const r = s.A.shape[0]!;
      out.set(s, slice(cat, -1, off, off + r)); // (..., r)
      off += r;
    }
  }
  return out;
}

/** Does a module name (model.layers.0.self_attn.q_proj) match PEFT target_modules? */
export function matchesTarget(name: string, target: string[] | string): boolean {
  if (typeof target === 'string') return new RegExp(`^(?:${target})$`).test(name);
  return target.some((t) => name === t || name.endsWith('.' + t));
}

export class LoraAdapter {
  enabled = true;
  /** dropout is applied only while training */
  training = false;
  readonly scale: number;
  /** PEFT module name (model.layers.0.self_attn.q_proj) → slot */
  readonly modules = new Map<string, LoraSlot>();
  private readonly hosts = new Map<string, LoraLinear>();
  /** dropout's generator: activation checkpointing saves and replays its state around a recomputed layer */
  readonly dropRng: Rng;

  constructor(readonly name: string, readonly config: LoraConfig, seed = 0) {
    const { r, loraAlpha, loraDropout } = config;
    if (!Number.isInteger(r) || r <= 0) throw new Error(`[lora] ${name}: r must be a positive integer, got ${r}`);
    if (!(loraAlpha > 0)) throw new Error(`[lora] ${name}: lora_alpha must be positive, got ${loraAlpha}`);
    if (!(loraDropout >= 0 && loraDropout < 1)) throw new Error(`[lora] ${name}: lora_dropout must be in [0, 1), got ${loraDropout}`);
    this.scale = config.useRslora ? loraAlpha / Math.sqrt(r) : loraAlpha / r;
    this.dropRng = new Rng(seed ^ 0x5eed);
  }

  /**
   * Attach to every matching linear of `linears` (name → module). A is initialised as PEFT does
   * (Kaiming-uniform, bound 1/√in) and B as zeros, so a fresh adapter leaves the model unchanged.
   */
  attach(linears: [string, LoraLinear][], seed = 0): this {
    const rng = new Rng(seed);
    const hits = linears.filter(([n]) => matchesTarget(n, this.config.targetModules));
    if (hits.length === 0)
      throw new Error(`[lora] ${this.name}: target_modules ${JSON.stringify(this.config.targetModules)} match no module`);
    for (const [n, lin] of hits) {
      if (lin.lora.some((s) => s.adapter === this)) continue;
      const r = this.config.r, fin = lin.inFeatures, fout = lin.outFeatures;
      const A = Tensor.empty([r, fin], 'f32');
      const bound = 1 / Math.sqrt(fin);
      const a = A.f32();
      for (let i = 0; i < a.length; i++) a[i] = (2 * rng.next() - 1) * bound;
      const slot: LoraSlot = { adapter: this, A: parameter(A, `${n}.lora_A`), B: parameter(zeros([fout, r]), `${n}.lora_B`) };
      lin.lora.push(slot);
      this.modules.set(n, slot);
      this.hosts.set(n, lin);
    }
    return this;
  }

  /** The trainable tensors (A and B of every module), PEFT-named without the base_model.model prefix. */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, s] of this.modules) out.push([`${n}.lora_A.weight`, s.A], [`${n}.lora_B.weight`, s.B]);
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Whether this adapter's tensors receive gradients. */
  setTrainable(on: boolean): void {
    for (const t of this.parameters()) t.requiresGrad = on;
  }

  /** Fold into the base weights and detach (the adapter is then empty). */
  merge(): void {
    for (const lin of this.hosts.values()) lin.merge(this);
    this.hosts.clear();
    this.modules.clear();
  }

  /** Detach without merging. */
  detach(): void {
    for (const lin of this.hosts.values()) {
      const i = lin.lora.findIndex((s) => s.adapter === this);
      if (i >= 0) lin.lora.splice(i, 1);
    }
    this.hosts.clear();
    this.modules.clear();
  }

  /** Whether dropout() draws a mask now (training, p > 0, recording); otherwise it is the identity. */
  drawsDropout(): boolean {
    return this.training && this.config.loraDropout > 0 && isGradEnabled();
  }

  /** Inverted dropout on the adapter's input while training (identity otherwise). */
  dropout(x: Tensor): Tensor {
    const p = this.config.loraDropout;
    if (!this.drawsDropout()) return x;
    const m = Tensor.empty(x.shape, 'f32');
    const d = m.f32();
    const keep = 1 / (1 - p);
    for (let i = 0; i < d.length; i++) d[i] = this.dropRng.next() < p ? 0 : keep;
    return mul(x, m);
  }
}

/** Stop gradients to every base parameter (LoRA training trains only the adapter). */
export function freezeParameters(params: Tensor[]): void {
  for (const p of params) p.requiresGrad = false;
}

/** Every adapter attached to these linears (each once, in the order first met). */
export function attachedAdapters(linears: [string, LoraLinear][]): LoraAdapter[] {
  const seen = new Set<LoraAdapter>();
  for (const [, lin] of linears) for (const s of lin.lora) seen.add(s.adapter);
  return [...seen];
}

/**
 * Run fn with exactly `active` enabled among the adapters attached to `host` (every other attached adapter off),
 * then put every switch back as it was, also when fn throws. One base model can so play several roles (RL policy,
 * frozen reference, reward model) without a forgotten adapter leaking into a role: the set is complete by
 * construction. fn must be synchronous (a promise would run after the switches were restored): one is refused.
 */
export function withActiveAdapters<R>(host: { namedLinears(): [string, LoraLinear][] }, active: Iterable<LoraAdapter>, fn: () => R): R {
  const all = attachedAdapters(host.namedLinears());
  const on = new Set(active);
  for (const a of on) if (!all.includes(a)) throw new Error(`[lora] withActiveAdapters: adapter '${a.name}' is not attached to this model`);
  const prev = all.map((a) => a.enabled);
  all.forEach((a) => (a.enabled = on.has(a)));
  let out: R;
  try {
    out = fn();
  } finally {
    all.forEach((a, i) => (a.enabled = prev[i]!));
  }
  if (out !== null && typeof out === 'object' && typeof (out as { then?: unknown }).then === 'function')
    throw new Error('[lora] withActiveAdapters: fn returned a promise; the adapters were switched back before it ran');
  return out;
}

/** Run fn with these adapters switched off (e.g. the frozen SFT reference = the PPO adapter off), then restore. */
export function withAdaptersOff<R>(adapters: LoraAdapter[], fn: () => R): R {
  const prev = adapters.map((a) => a.enabled);
  for (const a of adapters) a.enabled = false;
  try {
    return fn();
  } finally {
    adapters.forEach((a, i) => (a.enabled = prev[i]!));
  }
}

/**
 * Make `adapter` the only thing that trains: every base parameter and every other adapter frozen, this one
 * trainable, enabled and in training mode (dropout on). Returns its parameters for the optimiser.
 */
export function trainOnly(adapter: LoraAdapter, baseParams: Tensor[], others: LoraAdapter[] = []): Tensor[] {
  freezeParameters(baseParams);
  for (const o of others) if (o !== adapter) { o.setTrainable(false); o.training = false; }
  adapter.setTrainable(true);
  adapter.enabled = true;
  adapter.training = true;
  return adapter.parameters();
}
