// LoRA over a frozen bf16 / q8_0 / q4_0 base (frozenBase): gradients reach the adapters through the low-precision
// products exactly as through the dequantized f32 weights (native and reference), stay within a tolerance derived
// from the measured quantization error of the f32 base's gradients, pass float64 finite differences, and a merge of
// an adapter trained that way gives a plain HF directory; bench train's builder makes such a base layer by layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backward, zeroGrad } from '../../src/autograd/backward.js';
import { gradcheck } from '../../src/autograd/gradcheck.js';
import { isGradEnabled, noGrad } from '../../src/autograd/grad-mode.js';
import { tidy } from '../../src/tensor/scope.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { LlamaForCausalLM, presets } from '../../src/model/llama.js';
import { loadModelDir, saveModelDir } from '../../src/model/model-dir.js';
import { LoraAdapter, LoraLinear, trainOnly } from '../../src/nn/lora.js';
import { AdamW, defaultGroups } from '../../src/optim/adamw.js';
import { lmLoss, lmTrainStep } from '../../src/train/lm-step.js';
import { frozenBase, setLinearWeight } from '../../src/train/memory.js';
import { buildBaseModel } from '../../src/cli/bench-train-real.js';
import { lmHeadCrossEntropy } from '../../src/ops/lm-head.js';
import { dequantize, toWeightFormat } from '../../src/ops/quant.js';
import type { WeightFormat } from '../../src/tensor/dtype.js';
import { Rng, idsT, inFloat64, randT, referenceBackend, withBackend } from '../helpers.js';

const cfg = { ...presets.tiny, vocabSize: 64, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2 };
const TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const LOW: WeightFormat[] = ['bf16', 'q8_0', 'q4_0'];

function loraModel(tied = true) {
  const model = new LlamaForCausalLM({ ...cfg, tieWordEmbeddings: tied }, 7);
  const ad = new LoraAdapter('sft', { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: TARGETS, useRslora: false }, 1)
    .attach(model.namedLinears(), 3);
  const params = trainOnly(ad, model.parameters());
  // B ≠ 0 so that A's gradient is not zero
  for (const p of params) if (p.name?.endsWith('lora_B')) (p.data as Float32Array).forEach((_, i, d) => (d[i] = Math.cos(i) * 0.05));
  return { model, params, ad };
}

const r = new Rng(4);
const ids = idsT(r, [2, 10], 64), targets = idsT(r, [2, 10], 64);

function gradsOf(model: LlamaForCausalLM, params: Tensor[]): { loss: number; grads: Float32Array[] } {
  zeroGrad(params);
  const loss = tidy(() => { const l = lmLoss(model, { ids, targets }); const v = l.item(); backward(l); return v; });
  const grads = params.map((p) => Float32Array.from(p.grad!.data as Float32Array));
  zeroGrad(params);
  return { loss, grads };
}

/** ‖a − b‖ / ‖b‖ over all tensors together */
function relErr(a: Float32Array[], b: Float32Array[]): number {
  let num = 0, den = 0;
  a.forEach((x, i) => x.forEach((v, j) => { const w = b[i]![j]!; num += (v - w) ** 2; den += w * w; }));
  return Math.sqrt(num / den);
}

/** The base matrices' relative quantization error ‖W̃ − W‖_F / ‖W‖_F, the largest over matrices. */
function weightError(f32: LlamaForCausalLM, low: LlamaForCausalLM): number {
  const a = new Map(f32.namedParameters()), worst = [0];
  for (const [n, t] of low.namedParameters()) {
    if (t.rank !== 2) continue;
    const w = a.get(n)!.f32(), q = dequantize(t).f32();
    let num = 0, den = 0;
    for (let i = 0; i < w.length; i++) { num += (q[i]! - w[i]!) ** 2; den += w[i]! ** 2; }
    worst[0] = Math.max(worst[0]!, Math.sqrt(num / den));
  }
  return worst[0]!;
}

test('frozenBase: projections, an untied head and a frozen untied embedding take the format (a tied one bf16); a training embedding stays f32', () => {
  for (const fmt of LOW) {
    for (const tied of [true, false]) {
      const { model } = loraModel(tied);
      frozenBase(model, fmt);
      for (const [n, l] of model.namedLinears()) assert.ok(l.weight.dtype === fmt && !l.weight.requiresGrad, `${fmt} ${n}: ${l.weight.dtype}`);
      // a tied table is the head too: bf16 under the quantized formats (repacked per chunk of the chunked head)
      assert.equal(model.model.embedTokens.weight.dtype, tied ? 'bf16' : fmt);
      assert.equal(model.model.norm.weight.dtype, 'f32');
      assert.ok(model.namedParameters().every(([n]) => !n.includes('lora')), 'adapters stay outside the base');
    }
    const full = new LlamaForCausalLM(cfg, 7); // full fine-tuning: the embedding trains
    frozenBase(full, fmt);
    assert.equal(full.model.embedTokens.weight.dtype, 'f32');
    assert.ok(full.model.embedTokens.weight.requiresGrad);
  }
  // a matrix whose rows are not whole 32-blocks falls back to bf16 under a quantized format
  const odd = new LlamaForCausalLM({ ...cfg, intermediateSize: 48 }, 7);
  frozenBase(odd, 'q4_0');
  assert.equal(odd.model.layers.items[0]!.mlp.downProj.weight.dtype, 'bf16');
  assert.equal(odd.model.layers.items[0]!.mlp.upProj.weight.dtype, 'q4_0');
  assert.throws(() => frozenBase(odd, 'q5_k' as WeightFormat), /\[frozenBase\] unknown base format 'q5_k'/);
});

for (const be of ['native', 'reference'] as const) {
  test(`LoRA gradients through a bf16 / q8_0 / q4_0 base equal those through its dequantized f32 copy [${be}]`, () => {
    const run = () => {
      for (const fmt of LOW) {
        const q = loraModel(), d = loraModel();
        frozenBase(q.model, fmt);
        // d: the same model with every base matrix replaced by the dequantized values of q's (f32 products)
        const qp = new Map(q.model.namedParameters());
        noGrad(() => {
          for (const [n, l] of d.model.namedLinears()) setLinearWeight(l, dequantize(qp.get(`${n}.weight`)!));
          const e = dequantize(q.model.model.embedTokens.weight).keep();
          e.requiresGrad = false;
          d.model.model.embedTokens.replaceParameter('weight', e);
        });
        const got = gradsOf(q.model, q.params), want = gradsOf(d.model, d.params);
        assert.ok(Math.abs(got.loss - want.loss) <= 1e-5 * Math.abs(want.loss), `${fmt} loss ${got.loss} vs ${want.loss}`);
        // only f32 summation order differs; layer 0's adapters see their gradient through layer 1's dX = dY·W̃
        const e = relErr(got.grads, want.grads);
        assert.ok(e < 1e-4, `${fmt}: relative gradient difference ${e}`);
      }
    };
    if (be === 'native') run(); else withBackend(referenceBackend, run);
  });
}

test('LoRA on a bf16 / q8_0 / q4_0 base: adapter gradients match the f32 base within 4 × the weights\' relative quantization error', () => {
  // First order: a relative weight perturbation ε moves every product, and so every activation and gradient, by
  // about ε; the 2-layer model chains a handful of products, so the gradients' relative error is bounded by c · ε
  // with c = 4 (measured c here: 1.75–1.87). ε is measured, not assumed: 0.17 % (bf16), 0.57 % (q8_0), 9.2 % (q4_0).
  const f = loraModel(), ref = gradsOf(f.model, f.params);
  const errs: number[] = [];
  for (const fmt of LOW) {
    const b = loraModel();
    frozenBase(b.model, fmt);
    const eps = weightError(f.model, b.model);
    const got = gradsOf(b.model, b.params);
    const e = relErr(got.grads, ref.grads);
    assert.ok(eps > 0 && e > 0, `${fmt}: the base must really be rounded`);
    assert.ok(e <= 4 * eps, `${fmt}: gradient relative error ${e.toExponential(2)} > 4 × weight error ${eps.toExponential(2)}`);
    assert.ok(Math.abs(got.loss - ref.loss) <= 4 * eps * Math.abs(ref.loss), `${fmt}: loss ${got.loss} vs ${ref.loss}`);
    errs.push(e);
  }
  assert.ok(errs[0]! < errs[1]! && errs[1]! < errs[2]!, `errors should grow bf16 < q8_0 < q4_0: ${errs.map((e) => e.toExponential(2))}`);
});

test('gradcheck (float64, reference): LoRA linear over a q8_0 / q4_0 weight (x, A, B) and the chunked head over a quantized table', () => {
  inFloat64(() => {
    const rr = new Rng(9);
    for (const fmt of ['q8_0', 'q4_0'] as const) {
      const lin = new LoraLinear(32, 7, rr);
      const wq = toWeightFormat(randT(rr, [7, 32]), fmt), wd = dequantize(wq);
      setLinearWeight(lin, wq);
      const ad = new LoraAdapter('g', { r: 3, loraAlpha: 6, loraDropout: 0, targetModules: ['p'], useRslora: false }, 0).attach([['p', lin]], 1);
      const slot = ad.modules.get('p')!;
      randT(rr, slot.B.shape).data.forEach((v, i) => ((slot.B.data as Float32Array)[i] = v));
      // 17 rows, which keep the GEMM (x exact) while recording. The finite differences run unrecorded, where the
      // integer kernels would quantize x (piecewise constant in x): they read the dequantized base instead, the
      // values the recorded GEMM multiplies by.
      const x = randT(rr, [17, 32]);
      const res = gradcheck(([xi, A, B]) => {
        slot.A = A!; slot.B = B!;
        setLinearWeight(lin, isGradEnabled() ? wq : wd);
        return lin.forward(xi!);
      }, [x, slot.A, slot.B], 1e-5);
      assert.ok(res.maxRel < 1e-6, `${fmt} LoRA linear: max relative difference ${res.maxRel} at ${res.worst}`);
      const W = toWeightFormat(randT(rr, [11, 32]), fmt);
      const tg = new Tensor(Int32Array.from({ length: 5 }, (_, i) => (i * 7) % 11), [5]);
      const head = gradcheck(([h]) => lmHeadCrossEntropy(h!, W, tg, { chunkRows: 2 }), [randT(rr, [5, 32])], 1e-5);
      assert.ok(head.maxRel < 1e-6, `${fmt} head: max relative difference ${head.maxRel} at ${head.worst}`);
    }
  });
});

test('an adapter trained on a q4_0 base merges: in memory into bf16, and through the model directory into an HF directory', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'zj-qlora-'));
  try {
    const base = new LlamaForCausalLM(cfg, 7);
    saveModelDir(join(tmp, 'base'), base);
    // the user's path: load the f32 checkpoint straight into q4_0, train the adapter, save only what changed
    const md = loadModelDir(join(tmp, 'base'), { weights: 'q4_0', adapters: false });
    assert.equal(md.model.model.layers.items[0]!.selfAttn.qProj.weight.dtype, 'q4_0');
    const ad = new LoraAdapter('sft', { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: TARGETS, useRslora: false }, 1)
      .attach(md.model.namedLinears(), 3);
    const params = trainOnly(ad, md.model.parameters());
    frozenBase(md.model, 'q4_0'); // a no-op here (already q4_0), as a stage calls it
    const opt = new AdamW(defaultGroups(params, 0));
    const losses = [0, 1, 2, 3].map(() => lmTrainStep(md.model, opt, { ids, targets }, 1e-2, 0).loss);
    assert.ok(losses[3]! < losses[0]!, `loss should fall: ${losses}`);
    assert.ok(ad.modules.get('model.layers.0.self_attn.q_proj')!.B.f32().some((v) => v !== 0), 'B trained');
    saveModelDir(join(tmp, 'sft'), md.model, { adapters: [ad], baseFrom: join(tmp, 'base') });
    // export merge's path: the base reloaded in f32 from its files (the original weights, not the q4_0 rounding)
    const again = loadModelDir(join(tmp, 'sft'), { weights: 'f32' });
    const logitsWith = noGrad(() => again.model.forward({ ids }).f32().slice());
    for (const a of again.adapters) a.merge();
    saveModelDir(join(tmp, 'merged'), again.model);
    const merged = loadModelDir(join(tmp, 'merged'));
    assert.equal(merged.adapters.length, 0);
    const logitsMerged = noGrad(() => merged.model.forward({ ids }).f32());
    for (let i = 0; i < logitsMerged.length; i++) assert.ok(Math.abs(logitsMerged[i]! - logitsWith[i]!) < 1e-4, `logit ${i}`);
    // in memory, into the q4_0 base: dequantized, merged in f32, stored as bf16
    const lin = md.model.model.layers.items[0]!.selfAttn.qProj;
    const slot = ad.modules.get('model.layers.0.self_attn.q_proj')!;
    const want = noGrad(() => {
      const w = dequantize(lin.weight).f32().slice(), d = slot.B.f32(), a = slot.A.f32(), [o, rk] = slot.B.shape as [number, number];
      const k = slot.A.shape[1]!;
      for (let i = 0; i < o; i++) for (let j = 0; j < k; j++) {
        let s = 0;
        for (let t = 0; t < rk; t++) s += d[i * rk + t]! * a[t * k + j]!;
        w[i * k + j] = w[i * k + j]! + ad.scale * s;
      }
      return toWeightFormat(new Tensor(w, [o, k]), 'bf16');
    });
    ad.merge();
    assert.equal(lin.weight.dtype, 'bf16');
    const got = dequantize(lin.weight).f32(), wv = dequantize(want).f32();
    for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - wv[i]!) <= 2 ** -8 * Math.abs(wv[i]!), `merged[${i}] ${got[i]} vs ${wv[i]}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});


test('bench train\'s base builder: every layer in the base format, frozen, filled (q4_0, tied table bf16)', () => {
  const m = buildBaseModel({ ...cfg, numLayers: 3, tieWordEmbeddings: true }, 'q4_0');
  assert.equal(m.model.layers.items.length, 3);
  assert.equal(m.namedLinears().length, 21);
  for (const [n, l] of m.namedLinears()) {
    assert.equal(l.weight.dtype, 'q4_0', n);
    assert.ok(dequantize(l.weight).f32().some((v) => v !== 0), `${n} filled`);
  }
  assert.equal(m.model.embedTokens.weight.dtype, 'bf16');
  assert.ok(m.parameters().every((p) => !p.requiresGrad));
});
