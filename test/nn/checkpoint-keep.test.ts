// Checkpointing that keeps the projections q, k, v, o, gate, up (Linear.keepInCheckpoint, checkpoint(…, keep)), their
// LoRA sums and down halves (nn/lora.ts) and the attention output: gradients stay bitwise the plain path's (full
// fine-tuning, and LoRA with dropout, biases and two adapters at once), the recomputation runs no GEMM at all, and
// 'auto' keeps only while all layers' fit CHECKPOINT_KEEP_BYTES. The down projection's product, read by nothing in
// the backward, is never recomputed (Linear.unreadInRecompute), nor its LoRA sum.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward, zeroGrad } from '../../src/autograd/backward.js';
import { tidy } from '../../src/tensor/scope.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { LlamaForCausalLM, checkpointKeepsMlp, checkpointKeptPerRow, presets } from '../../src/model/llama.js';
import { fromHfConfig } from '../../src/model/config.js';
import { presetConfig } from '../../src/model/presets.js';
import { LoraAdapter, trainOnly } from '../../src/nn/lora.js';
import { backend } from '../../src/backend/index.js';
import { isRecomputing } from '../../src/autograd/checkpoint.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { Rng, idsT } from '../helpers.js';

const F = 48, C = 32, L = 3;
const cfg = { ...presets.tiny, vocabSize: 41, hiddenSize: C, intermediateSize: F, numLayers: L, numHeads: 4, numKvHeads: 2 };
const r = new Rng(3);
const ids = idsT(r, [2, 9], 41), targets = idsT(r, [2, 9], 41);

/** gradients of two accumulated steps, and how many gate / up forward GEMMs (x Wᵀ, rows × F × C) ran inside backward */
function run(model: LlamaForCausalLM, params: Tensor[], ck: boolean, keep: 'mlp' | 'none'): { grads: Float32Array[]; recomputed: number; downRecomputed: number; attnRecomputed: number; gemmsInRecompute: number; addsInRecompute: number } {
  model.gradientCheckpointing = ck;
  model.checkpointKeep = keep;
  zeroGrad(params);
  const be = backend(), orig = be.gemm, origAttn = be.attentionForward, origBinary = be.binary;
  let inBackward = false, recomputed = 0, downRecomputed = 0, attnRecomputed = 0, gemmsInRecompute = 0, addsInRecompute = 0;
  be.binary = ((...a: Parameters<typeof origBinary>) => {
    if (isRecomputing() && a[0] === 0) addsInRecompute++;
    return origBinary.apply(be, a);
  }) as typeof origBinary;
  be.attentionForward = ((...a: Parameters<typeof origAttn>) => {
    if (inBackward) attnRecomputed++;
    return origAttn.apply(be, a);
  }) as typeof origAttn;
  be.gemm = ((...a: Parameters<typeof orig>) => {
    if (isRecomputing()) gemmsInRecompute++;
    if (inBackward && a[2] === F && a[3] === C && a[8] === true) recomputed++; // x Wᵀ into F (dX of down_proj is G·W)
    if (inBackward && a[2] === C && a[3] === F && a[8] === true) downRecomputed++; // down_proj's x Wᵀ (its dX is G·W, NN)
    return orig.apply(be, a);
  }) as typeof orig;
  try {
    for (let i = 0; i < 2; i++) tidy(() => {
      const loss = crossEntropy(model.forward({ ids }), targets);
      inBackward = true;
      backward(loss);
      inBackward = false;
    });
  } finally {
    be.gemm = orig;
    be.attentionForward = origAttn;
    be.binary = origBinary;
  }
  const grads = params.map((p) => Float32Array.from(p.grad!.data as Float32Array));
  zeroGrad(params);
  return { grads, recomputed, downRecomputed, attnRecomputed, gemmsInRecompute, addsInRecompute };
}

function assertBitwise(a: Float32Array[], b: Float32Array[], what: string): void {
  a.forEach((g, i) => { for (let j = 0; j < g.length; j++) if (!Object.is(g[j], b[i]![j])) assert.fail(`${what}: tensor ${i} [${j}] ${g[j]} vs ${b[i]![j]}`); });
}

test('checkpoint keeping gate / up: full fine-tuning gradients bitwise plain, two GEMMs per layer not recomputed', () => {
  const model = new LlamaForCausalLM(cfg, 5);
  const params = model.parameters();
  const plain = run(model, params, false, 'none');
  const none = run(model, params, true, 'none');
  const mlp = run(model, params, true, 'mlp');
  assertBitwise(none.grads, plain.grads, 'recompute all');
  assertBitwise(mlp.grads, plain.grads, 'keep mlp');
  assert.equal(plain.recomputed, 0);
  assert.equal(none.recomputed, 2 * 2 * L, 'every layer recomputes gate and up, in each of the 2 steps');
  assert.equal(mlp.recomputed, 0, 'kept products are not recomputed');
  assert.equal(plain.downRecomputed, 0);
  assert.equal(none.downRecomputed, 0, "down_proj's product (read by nothing in backward) is recorded, not recomputed");
  assert.equal(mlp.downRecomputed, 0);
  assert.equal(none.attnRecomputed, 2 * L, 'without keeping, every layer recomputes its attention');
  assert.equal(mlp.attnRecomputed, 0, 'kept attention outputs are not recomputed');
  assert.ok(none.gemmsInRecompute > 0);
  assert.equal(mlp.gemmsInRecompute, 0, 'q, k, v, o, gate and up kept: the recomputation runs no GEMM');
  // of the two residual adds, only the one the post-attention norm reads is computed (the layer's output is recorded)
  assert.equal(none.addsInRecompute, 2 * L);
  assert.equal(mlp.addsInRecompute, 2 * L);
});

test('checkpoint keep: LoRA on every projection, q/k/v biases, dropout and two adapters at once: bitwise gradients, no GEMM recomputed', () => {
  const biased = { ...cfg, attentionBias: true };
  const make = () => {
    const model = new LlamaForCausalLM(biased, 7);
    const all = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
    const a1 = new LoraAdapter('one', { r: 4, loraAlpha: 8, loraDropout: 0.2, targetModules: all, useRslora: false }, 3).attach(model.namedLinears(), 4);
    const a2 = new LoraAdapter('two', { r: 2, loraAlpha: 3, loraDropout: 0, targetModules: ['q_proj', 'up_proj', 'down_proj'], useRslora: false }, 5).attach(model.namedLinears(), 6);
    const params = trainOnly(a1, model.parameters());
    a2.setTrainable(true);
    params.push(...a2.parameters());
    for (const p of params) if (p.name?.endsWith('lora_B')) (p.data as Float32Array).forEach((_, i, d) => (d[i] = Math.cos(i + p.size) * 0.05));
    return { model, params };
  };
  const a = make(), b = make(), c = make();
  const plain = run(a.model, a.params, false, 'none');
  const kept = run(b.model, b.params, true, 'mlp');
  const none = run(c.model, c.params, true, 'none');
  assertBitwise(kept.grads, plain.grads, 'LoRA everywhere, keep');
  assertBitwise(none.grads, plain.grads, 'LoRA everywhere, recompute all');
  assert.ok(plain.grads.every((g) => g.some((x) => x !== 0)), 'every adapter tensor receives a gradient');
  assert.equal(kept.gemmsInRecompute, 0, 'every projection and LoRA half kept or recorded: no GEMM in the recomputation');
  assert.equal(kept.addsInRecompute, 2 * L, 'q/k/v bias adds recorded on the kept sums; one residual add per layer computed');
  assert.ok(none.gemmsInRecompute > 0);
});

test('checkpoint keeping gate / up: LoRA with dropout on the kept projections, bitwise gradients', () => {
  const make = () => {
    const model = new LlamaForCausalLM(cfg, 6);
    const ad = new LoraAdapter('sft', { r: 4, loraAlpha: 8, loraDropout: 0.3, targetModules: ['q_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: false }, 9)
      .attach(model.namedLinears(), 2);
    const params = trainOnly(ad, model.parameters());
    for (const p of params) if (p.name?.endsWith('lora_B')) (p.data as Float32Array).forEach((_, i, d) => (d[i] = Math.sin(i) * 0.05));
    return { model, params };
  };
  const a = make(), b = make();
  const plain = run(a.model, a.params, false, 'none');
  const kept = run(b.model, b.params, true, 'mlp');
  assertBitwise(kept.grads, plain.grads, 'LoRA keep mlp');
  assert.ok(plain.grads.some((g) => g.some((x) => x !== 0)));
  assert.equal(kept.recomputed, 0);
  assert.equal(kept.attnRecomputed, 0);
});

test("checkpointKeep 'auto': Qwen2.5-0.5B keeps at 512 tokens, not at 2,048; 'mlp' / 'none' force it", () => {
  const { config } = fromHfConfig(presetConfig('qwen2.5-0.5b'), 'preset');
  // (2 · 4864 + (14 + 2 · 2) · 64 + 896 + 14 · 65) f32 per row and layer = 12,686: 4 B · 512 · 12,686 · 24 = 595 MiB
  assert.equal(checkpointKeptPerRow(config), 12686);
  assert.equal(checkpointKeepsMlp(config, 512, 'auto'), true);
  assert.equal(checkpointKeepsMlp(config, 2048, 'auto'), false); // 2,378 MiB
  assert.equal(checkpointKeepsMlp(config, 2048, 'mlp'), true);
  assert.equal(checkpointKeepsMlp(config, 1, 'none'), false);
});
