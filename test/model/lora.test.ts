// lora.test.ts — PEFT-compatible LoRA: a fresh adapter changes nothing, training moves only adapter tensors,
// save → load (PEFT names) is exact, merged == base + unmerged adapter, switching an adapter off gives the
// base's logits (several stacked, any one off), and the model directory stacks adapters from adapters.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { LoraAdapter, freezeParameters, trainOnly, withAdaptersOff } from '../../src/nn/lora.js';
import { loadAdapter, saveAdapter } from '../../src/model/lora-io.js';
import { loadModelDir, saveModelDir } from '../../src/model/model-dir.js';
import { SafetensorsFile } from '../../src/model/safetensors.js';
import { ValueHead } from '../../src/model/value-head.js';
import { AdamW, defaultGroups } from '../../src/optim/adamw.js';
import { accumulateGradients, applyUpdate } from '../../src/train/lm-step.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { tidy } from '../../src/tensor/scope.js';
import { backward } from '../../src/autograd/backward.js';
import { add, addLoraUp, matmul, scale, setMatmulPrecision, sum } from '../../src/ops/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { diff, idsT, Rng, tempDir } from '../helpers.js';

const cfg: LlamaConfig = { ...presets.tiny, vocabSize: 40, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 32 };
const tmp = () => tempDir('zj-lora-');
const ids = idsT(new Rng(9), [2, 7], cfg.vocabSize).keep();
const targets = idsT(new Rng(10), [2, 7], cfg.vocabSize).keep();
const logits = (m: LlamaForCausalLM): Float32Array => noGrad(() => tidy(() => m.forward({ ids }))).f32().slice();
const snapshot = (m: LlamaForCausalLM) => m.parameters().map((p) => p.f32().slice());

/** An adapter with nonzero A and B (a fresh one has B = 0 and is a no-op). */
function trainedAdapter(m: LlamaForCausalLM, name: string, targetModules: string[], seed: number): LoraAdapter {
  const a = new LoraAdapter(name, { r: 4, loraAlpha: 8, loraDropout: 0, targetModules, useRslora: false }).attach(m.namedLinears(), seed);
  const rng = new Rng(seed + 100);
  for (const [, s] of a.modules) { const b = s.B.f32(); for (let i = 0; i < b.length; i++) b[i] = rng.normal() * 0.2; }
  return a;
}

test('LoRA: a fresh adapter is a no-op; training updates only adapter tensors; dropout only while training', () => {
  const m = new LlamaForCausalLM(cfg, 1);
  const base = logits(m), before = snapshot(m);
  const a = new LoraAdapter('sft', { r: 4, loraAlpha: 16, loraDropout: 0.1, targetModules: ['q_proj', 'v_proj'], useRslora: false }).attach(m.namedLinears(), 2);
  assert.equal(a.modules.size, 2 * cfg.numLayers);
  assert.deepEqual(logits(m), base, 'B = 0 at init');
  freezeParameters(m.parameters());
  a.training = true;
  const opt = new AdamW(defaultGroups(a.parameters(), 0));
  const first = accumulateGradients(m, { ids, targets });
  for (const p of m.parameters()) assert.equal(p.grad, null, 'frozen base has no gradient');
  applyUpdate(opt, 1e-2, 1);
  let last = first;
  for (let s = 0; s < 5; s++) { last = accumulateGradients(m, { ids, targets }); applyUpdate(opt, 1e-2, 1); }
  assert.ok(last < first, `loss ${first} → ${last}`);
  snapshot(m).forEach((p, i) => assert.deepEqual(p, before[i]));
  a.training = false;
  assert.deepEqual(logits(m), logits(m), 'deterministic when not training');
  assert.notDeepEqual(logits(m), base);
});

test('LoRA: PEFT files round-trip exactly; merged == base + unmerged; off == base; stacked adapters switch independently', () => {
  const m = new LlamaForCausalLM(cfg, 1);
  const base = logits(m);
  const a1 = trainedAdapter(m, 'sft1', ['q_proj', 'k_proj', 'v_proj', 'o_proj'], 1);
  const a2 = trainedAdapter(m, 'sft2', ['gate_proj', 'up_proj', 'down_proj'], 2);
  const a3 = trainedAdapter(m, 'ppo', ['q_proj', 'v_proj'], 3);
  const all = logits(m);
  a3.enabled = false;
  const sft = logits(m);
  assert.notDeepEqual(sft, all);
  a1.enabled = false; a2.enabled = false;
  assert.deepEqual(logits(m), base, 'every adapter off gives the base exactly');
  a1.enabled = true; a2.enabled = true; a3.enabled = true;
  assert.deepEqual(logits(m), all);

  // PEFT files: names and config
  const dir = tmp();
  saveAdapter(dir, a3);
  const f = new SafetensorsFile(join(dir, 'adapter_model.safetensors'));
  assert.ok(f.entries.has('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'));
  assert.deepEqual(f.entry('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight').shape, [cfg.numKvHeads * 8, 4]);
  f.close();
  const ac = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
  assert.deepEqual([ac.peft_type, ac.r, ac.lora_alpha, ac.target_modules], ['LORA', 4, 8, ['q_proj', 'v_proj']]);
  const m2 = new LlamaForCausalLM(cfg, 1);
  const b3 = loadAdapter(dir, 'ppo', m2.namedLinears());
  b3.namedParameters().forEach(([n, t], i) => assert.deepEqual(t.f32(), a3.namedParameters()[i]![1].f32(), n));
  assert.equal(b3.parameters().some((p) => p.requiresGrad), false, 'loaded adapters start frozen');

  // merge all three into the base: same logits as unmerged, within f32 rounding
  for (const a of [a1, a2, a3]) a.merge();
  const merged = logits(m);
  const d = diff(merged, all);
  assert.ok(d.maxAbs < 1e-4, `merged vs unmerged: ${d.maxAbs}`);
});

test('LoRA: bad adapter_config.json fields are refused by name; a mismatched adapter file is refused', () => {
  const m = new LlamaForCausalLM(cfg, 1);
  const dir = tmp();
  saveAdapter(dir, trainedAdapter(m, 'x', ['q_proj'], 1));
  const good = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
  for (const [patch, re] of [[{ use_dora: true }, /use_dora/], [{ bias: 'all' }, /bias/], [{ r: 0 }, /: r: /],
    [{ target_modules: ['nope'] }, /match no module/], [{ peft_type: 'IA3' }, /peft_type/], [{ modules_to_save: ['lm_head'] }, /modules_to_save/]] as const) {
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...good, ...patch }));
    assert.throws(() => loadAdapter(dir, 'x', new LlamaForCausalLM(cfg, 1).namedLinears()), re);
  }
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...good, target_modules: ['q_proj', 'v_proj'] }));
  assert.throws(() => loadAdapter(dir, 'x', new LlamaForCausalLM(cfg, 1).namedLinears()), /missing base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight/);
});

test('model dir: adapters.json stacks adapters in order (enabled flags kept) and the value head is saved beside the model', () => {
  const m = new LlamaForCausalLM(cfg, 4);
  const a1 = trainedAdapter(m, 'sft', ['q_proj', 'up_proj'], 5);
  const a2 = trainedAdapter(m, 'ppo', ['v_proj'], 6);
  a2.enabled = false;
  const vh = new ValueHead(cfg.hiddenSize, 3);
  const dir = tmp();
  saveModelDir(dir, m, { adapters: [a1, a2], valueHead: vh });
  const want = logits(m);
  const values = noGrad(() => tidy(() => vh.forward(m.hidden({ ids })))).f32().slice();
  const md = loadModelDir(dir);
  assert.deepEqual(md.adapters.map((a) => [a.name, a.enabled]), [['sft', true], ['ppo', false]]);
  assert.deepEqual(logits(md.model), want);
  assert.ok(md.valueHead);
  const v2 = noGrad(() => tidy(() => md.valueHead!.forward(md.model.hidden({ ids })))).f32();
  assert.deepEqual(v2, values);
  assert.equal(v2.length, 2 * 7, 'one value per token');
  const baseOnly = loadModelDir(dir, { adapters: false });
  a1.enabled = false;
  assert.deepEqual(logits(baseOnly.model), logits(m));
});

test('value head: gradients reach the head and the backbone', () => {
  const m = new LlamaForCausalLM(cfg, 4);
  const vh = new ValueHead(cfg.hiddenSize, 1);
  tidy(() => {
    const v = vh.forward(m.hidden({ ids })); // (B, T)
    assert.deepEqual(v.shape, [2, 7]);
    backward(sum(v));
  });
  for (const p of [...vh.parameters(), m.model.layers.items[0]!.selfAttn.qProj.weight]) {
    assert.ok(p.grad && p.grad.f32().some((x) => x !== 0));
  }
});

test('LoRA: PPO on top of SFT — only the PPO adapter trains; the reference is the same weights with PPO switched off', () => {
  const m = new LlamaForCausalLM(cfg, 6);
  const sft = trainedAdapter(m, 'sft', ['q_proj', 'v_proj', 'up_proj'], 7);
  const sftLogits = logits(m);
  const ppo = new LoraAdapter('ppo', { r: 2, loraAlpha: 4, loraDropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false }).attach(m.namedLinears(), 8);
  const sftBefore = sft.parameters().map((p) => p.f32().slice());
  const opt = new AdamW(defaultGroups(trainOnly(ppo, m.parameters(), [sft]), 0));
  for (let s = 0; s < 3; s++) { accumulateGradients(m, { ids, targets }); applyUpdate(opt, 1e-2, 1); }
  ppo.training = false;
  sft.parameters().forEach((p, i) => assert.deepEqual(p.f32(), sftBefore[i]), 'SFT adapter unchanged');
  assert.notDeepEqual(logits(m), sftLogits, 'the policy moved');
  assert.deepEqual(withAdaptersOff([ppo], () => logits(m)), sftLogits, 'reference = PPO off, exactly');
  assert.equal(ppo.enabled, true, 'switch restored');
});

test('LoRA up half: addLoraUp, copied or in place, gives add(y, scale(down Bᵀ))\'s value and gradients bitwise (scale a power of two, f32 and bf16 compute)', () => {
  const r = new Rng(21);
  const rand = (shape: number[]) => {
    const t = Tensor.empty(shape, 'f32');
    for (let i = 0; i < t.size; i++) (t.data as Float32Array)[i] = r.next() * 2 - 1;
    t.requiresGrad = true;
    return t.keep();
  };
  for (const prec of ['f32', 'bf16'] as const) {
    const prev = setMatmulPrecision(prec);
    try {
      // 37 rows × 33 out × 16 rank: several GEMM tiles with ragged edges
      const y = rand([37, 33]), down = rand([37, 16]), B = rand([33, 16]), w = rand([37, 33]);
      const runOnce = (how: 'fused' | 'inPlace' | 'plain') => tidy(() => {
        for (const t of [y, down, B]) t.grad = null;
        // in place: onto a fresh y' = y · 1 (a product of y, so y's gradient still flows through it)
        const yIn = how === 'inPlace' ? scale(y, 1) : y;
        const before = Float32Array.from(yIn.data as Float32Array);
        const out = how === 'plain' ? add(y, scale(matmul(down, B, { transB: true }), 2))
          : addLoraUp(yIn, down, B, 2, { inPlace: how === 'inPlace' });
        if (how === 'inPlace') assert.equal(out.data, yIn.data, 'in place: the result is a view of y\'s buffer');
        else assert.deepEqual(Float32Array.from(yIn.data as Float32Array), before, 'y is left as it was');
        const value = Float32Array.from(out.data as Float32Array);
        backward(sum(matmul(out, w, { transA: true })));
        return [value, ...[y, down, B].map((t) => Float32Array.from(t.grad!.data as Float32Array))];
      });
      const plain = runOnce('plain');
      for (const how of ['fused', 'inPlace'] as const) {
        const fused = runOnce(how);
        fused.forEach((a, i) => { for (let j = 0; j < a.length; j++) if (!Object.is(a[j], plain[i]![j])) assert.fail(`${prec} ${how}: output ${i} [${j}] ${a[j]} vs ${plain[i]![j]}`); });
        assert.ok(fused[0]!.some((v) => v !== 0) && fused[3]!.some((v) => v !== 0), 'the check ran on non-zero values');
      }
    } finally {
      setMatmulPrecision(prev);
    }
  }
});
