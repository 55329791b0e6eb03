// lora-shared.test.ts — sharedLoraDowns (nn/lora.ts): q / k / v and gate / up take their LoRA down halves from one
// GEMM over the concatenated A's. Against the per-linear path: the same forward bits, gradients equal in float64
// (reference backend) and within float rounding on the default backend in f32 and bf16 compute, fewer GEMMs per
// layer, and adapters that draw dropout (their inputs differ per linear) left unshared, bitwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { LoraAdapter, setSharedLoraDowns, trainOnly } from '../../src/nn/lora.js';
import { backward, zeroGrad } from '../../src/autograd/backward.js';
import { tidy } from '../../src/tensor/scope.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { setMatmulPrecision, type Precision } from '../../src/ops/matmul.js';
import { backend } from '../../src/backend/index.js';
import { diff, idsT, inFloat64, Rng } from '../helpers.js';

const cfg: LlamaConfig = { ...presets.tiny, vocabSize: 37, hiddenSize: 48, intermediateSize: 80, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 32, attentionBias: true };
const ALL = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

interface Out { logits: Float64Array; grads: Float64Array[]; gemms: number }

/** one step's logits, adapter gradients and GEMM count, with sharing on or off; two adapters, the second on q / up only */
function step(shared: boolean, dropout = 0, precision: Precision = 'f32'): Out {
  const model = new LlamaForCausalLM(cfg, 3);
  const a1 = new LoraAdapter('one', { r: 4, loraAlpha: 8, loraDropout: dropout, targetModules: ALL, useRslora: false }, 1).attach(model.namedLinears(), 2);
  const a2 = new LoraAdapter('two', { r: 3, loraAlpha: 6, loraDropout: dropout, targetModules: ['q_proj', 'k_proj', 'up_proj'], useRslora: false }, 4).attach(model.namedLinears(), 5);
  const params = trainOnly(a1, model.parameters());
  a2.setTrainable(true);
  a2.training = true; // dropout on (when p > 0) for both
  params.push(...a2.parameters());
  const rng = new Rng(8);
  for (const p of params) if (p.name?.endsWith('lora_B')) { const d = p.data as Float32Array; for (let i = 0; i < d.length; i++) d[i] = rng.normal() * 0.1; }
  const r = new Rng(6), ids = idsT(r, [2, 9], cfg.vocabSize), targets = idsT(r, [2, 9], cfg.vocabSize);
  const be = backend(), orig = be.gemm;
  let gemms = 0;
  be.gemm = ((...a: Parameters<typeof orig>) => { gemms++; return orig.apply(be, a); }) as typeof orig;
  const prevShare = setSharedLoraDowns(shared), prevPrec = setMatmulPrecision(precision);
  try {
    zeroGrad(params);
    const logits = tidy(() => {
      const out = model.forward({ ids });
      backward(crossEntropy(out, targets));
      return Float64Array.from(out.data as Float32Array);
    });
    return { logits, grads: params.map((p) => Float64Array.from(p.grad!.data as Float32Array)), gemms };
  } finally {
    be.gemm = orig;
    setSharedLoraDowns(prevShare);
    setMatmulPrecision(prevPrec);
  }
}

function worst(a: Out, b: Out): number {
  return Math.max(...a.grads.map((g, i) => diff(g, b.grads[i]!, 1e-2).maxRel));
}

test('shared LoRA downs: float64 reference gives the per-linear gradients (the composition is the same math)', () => {
  const [on, off] = inFloat64(() => [step(true), step(false)]);
  assert.ok(diff(on!.logits, off!.logits).maxRel < 1e-12);
  assert.ok(worst(on!, off!) < 1e-10, `max relative gradient difference ${worst(on!, off!)}`);
  assert.ok(on!.grads.every((g) => g.some((x) => x !== 0)), 'every adapter tensor has a gradient');
});

test('shared LoRA downs: default backend, f32 and bf16 compute: forward bitwise, gradients within rounding, 12 fewer GEMMs per layer', () => {
  for (const p of ['f32', 'bf16'] as const) {
    const on = step(true, 0, p), off = step(false, 0, p);
    assert.deepEqual(on.logits, off.logits, `${p}: logits bitwise (each column is the same dot product)`);
    // x's gradient sums the branches in one GEMM instead of adds: f32 rounding, carried through the layers below
    const w = worst(on, off);
    if (process.env.ZJ_TEST_VERBOSE) console.log(`${p}: max relative gradient difference ${w}`);
    assert.ok(w < (p === 'f32' ? 1e-4 : 1e-2), `${p}: max relative gradient difference ${w}`);
    // per layer 4 down GEMMs fewer (adapter one: q/k/v 3 → 1, gate/up 2 → 1; adapter two: q/k 2 → 1), and as many
    // for dA and for dX in backward, except that layer 0's attention input (frozen embedding, norm) takes no dX
    assert.equal(off.gemms - on.gemms, 12 * cfg.numLayers - 3, `${p}: GEMMs ${off.gemms} unshared vs ${on.gemms} shared`);
  }
});

test('shared LoRA downs: adapters drawing dropout keep per-linear downs (own masks), bitwise the unshared path', () => {
  const on = step(true, 0.25), off = step(false, 0.25);
  assert.equal(on.gemms, off.gemms, 'nothing shared');
  assert.deepEqual(on.logits, off.logits);
  on.grads.forEach((g, i) => assert.deepEqual(g, off.grads[i], `gradient ${i}`));
});
