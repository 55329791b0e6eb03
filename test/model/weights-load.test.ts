// weights-load.test.ts — loading in the checkpoint's own dtype: a bf16 file stays bf16 (bit for bit), f16 becomes
// bf16 (auto) or exact f32, --weights q8_0/q4_0 quantize per tensor (or fall back with a warning when the kernels
// lack the format), norms stay f32, the in-place widening is exact, sharded bf16 checkpoints load, placeholders
// never survive a load, a bf16 model saves back, and bad input (tokenizer larger than the embedding, a bad
// weights value, a misshapen replacement) is refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { loadModelDir, saveModelDir } from '../../src/model/model-dir.js';
import { fromBf16Array, fromF16Array, toBf16Array, toF16Array } from '../../src/model/half.js';
import { quantizeQ4_0, quantizeQ8_0 } from '../../src/model/gguf.js';
import { kernelRefuses, parseWeightsOption, WeightPlan, targetDType, upperHalf16, widenInPlace, bytesByDType } from '../../src/model/weights.js';
import { isPlaceholder } from '../../src/nn/layers.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { tidy } from '../../src/tensor/scope.js';
import { i32T, Rng, tempDir } from '../helpers.js';

const tmp = () => tempDir('zj-wload-');
const cfg: LlamaConfig = { ...presets.tiny, vocabSize: 96, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2 };

function logits(m: LlamaForCausalLM, ids: number[]): Float32Array {
  return noGrad(() => tidy(() => Float32Array.from(m.forward({ ids: i32T(ids, [1, ids.length]) }).f32())));
}

test('weights: in-place widening of bf16 / f16 bits in the upper half equals the plain conversion', () => {
  const rng = new Rng(1);
  const x = Float32Array.from({ length: 1001 }, () => rng.normal() * 100);
  for (const kind of ['bf16', 'f16'] as const) {
    const bits = kind === 'bf16' ? toBf16Array(x) : toF16Array(x);
    const out = new Float32Array(x.length);
    upperHalf16(out).set(bits);
    widenInPlace(out, kind);
    assert.deepEqual(out, kind === 'bf16' ? fromBf16Array(bits) : fromF16Array(bits), kind);
  }
  assert.equal(targetDType([64], 'bf16', 'q8_0'), 'f32', '1-D stays f32');
  assert.equal(targetDType([8, 48], 'f32', 'q4_0'), 'bf16', 'rows not whole blocks');
  assert.equal(targetDType([8, 64], 'f16', 'auto'), 'bf16');
  assert.equal(targetDType([8, 64], 'f32', 'auto'), 'f32');
  assert.throws(() => parseWeightsOption('int8', 'chat'), /\[chat\] weights: expected one of auto, f32, bf16, q8_0, q4_0, got "int8"/);
});

test('load: a bf16 checkpoint stays bf16 bit for bit (norms f32), logits match the f32 model with bf16-rounded weights', () => {
  const dir = tmp();
  const m = new LlamaForCausalLM(cfg, 3);
  saveModelDir(dir, m, { dtype: 'BF16' });
  const warnings: string[] = [];
  const md = loadModelDir(dir, { warn: (l) => warnings.push(l) });
  const orig = new Map(m.namedParameters());
  const embedOk = kernelRefuses('bf16', 'embedding') === null;
  for (const [n, p] of md.model.namedParameters()) {
    const o = orig.get(n)!.f32();
    assert.ok(!isPlaceholder(p), `${n} loaded`);
    if (p.rank === 1) { assert.equal(p.dtype, 'f32', `${n} stays f32`); assert.deepEqual(p.f32(), fromBf16Array(toBf16Array(o))); continue; }
    if (n === 'model.embed_tokens.weight' && !embedOk) {
      assert.equal(p.dtype, 'f32');
      assert.ok(warnings.some((w) => /bf16 embedding tables are not supported/.test(w)), 'the fallback is announced');
      continue;
    }
    assert.equal(p.dtype, 'bf16', n);
    assert.equal(p.requiresGrad, false, `${n}: a bf16 weight is frozen`);
    assert.deepEqual(p.data, toBf16Array(o), `${n}: the file's bits`);
  }
  if (embedOk) assert.deepEqual(warnings, []);
  // the same values in f32 give the same logits (bf16 operands are exact in f32)
  const ref = loadModelDir(dir, { weights: 'f32' });
  for (const [, p] of ref.model.namedParameters()) assert.equal(p.dtype, 'f32');
  const a = logits(md.model, [1, 5, 9, 33]), b = logits(ref.model, [1, 5, 9, 33]);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  assert.ok(worst < 1e-4, `bf16 vs f32 of the same values: ${worst}`);
  // a bf16 model saves back (bf16 bits written as they are) and reloads identically
  const dir2 = tmp();
  saveModelDir(dir2, md.model, { dtype: 'BF16' });
  const again = loadModelDir(dir2);
  for (const [n, p] of again.model.namedParameters()) assert.deepEqual(p.data, new Map(md.model.namedParameters()).get(n)!.data, n);
  const bytes = bytesByDType(md.model.parameters());
  assert.ok(bytes.bf16!.bytes > 0 && bytes.f32!.bytes > 0);
});

test('load: f16 checkpoint → bf16 under auto, exact f32 under weights f32; sharded bf16 loads', () => {
  const dir = tmp();
  const m = new LlamaForCausalLM(cfg, 4);
  saveModelDir(dir, m, { dtype: 'F16', maxShardBytes: 20_000 });
  const auto = loadModelDir(dir), f32 = loadModelDir(dir, { weights: 'f32' });
  const orig = new Map(m.namedParameters());
  const autoP = new Map(auto.model.namedParameters());
  for (const [n, p] of f32.model.namedParameters()) {
    const h = fromF16Array(toF16Array(orig.get(n)!.f32()));
    assert.deepEqual(p.f32(), h, `${n}: f16 widened exactly`);
    const a = autoP.get(n)!;
    if (a.dtype === 'bf16') assert.deepEqual(a.data, toBf16Array(h), `${n}: f16 rounded to bf16`);
  }
  assert.equal(autoP.get('model.layers.0.mlp.up_proj.weight')!.dtype, 'bf16');
  // the KV cache dtype asked at load reaches the caches decoding makes; f32 unless asked
  assert.equal(auto.model.newCache(1, 4).dtype, 'f32');
  const kv = loadModelDir(dir, { kvCache: 'bf16' });
  assert.equal(kv.model.newCache(2, 4).dtype, 'bf16');
  assert.ok(kv.model.newCache(2, 4).k[0] instanceof Uint16Array);
});

test('load: --weights q8_0 / q4_0 quantize each matrix at load (or fall back to bf16 with a one-line warning)', () => {
  const dir = tmp();
  const m = new LlamaForCausalLM(cfg, 5);
  saveModelDir(dir, m);
  const orig = new Map(m.namedParameters());
  for (const fmt of ['q8_0', 'q4_0'] as const) {
    const warnings: string[] = [];
    const md = loadModelDir(dir, { weights: fmt, warn: (l) => warnings.push(l) });
    const matmulOk = kernelRefuses(fmt, 'matmul') === null;
    const w = md.model.namedParameters().find(([n]) => n === 'model.layers.1.self_attn.o_proj.weight')![1];
    const o = orig.get('model.layers.1.self_attn.o_proj.weight')!.f32();
    if (matmulOk) {
      assert.equal(w.dtype, fmt);
      assert.deepEqual(w.data, fmt === 'q8_0' ? quantizeQ8_0(o) : quantizeQ4_0(o));
    } else {
      assert.equal(w.dtype, 'bf16');
      assert.equal(warnings.filter((l) => l.includes(`${fmt} matrices are not supported`)).length, 1, `one warning line: ${warnings}`);
    }
    for (const [n, p] of md.model.namedParameters()) if (p.rank === 1) assert.equal(p.dtype, 'f32', n);
    const out = logits(md.model, [3, 1, 4, 1, 5]);
    assert.ok(out.every(Number.isFinite));
  }
});

test('load: refuses a tokenizer with more ids than embedding rows (both sizes named); replaceParameter checks shapes', () => {
  const dir = tmp();
  saveModelDir(dir, new LlamaForCausalLM(cfg, 1));
  const vocab: Record<string, number> = {};
  for (let i = 0; i < 90; i++) vocab[`t${i}`] = i;
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab, merges: [] }, added_tokens: [{ id: 120, content: '<x>' }] }));
  assert.throws(() => loadModelDir(dir), /tokenizer\.json uses 121 ids but the embedding has 96 rows/);
  // fewer tokenizer ids than rows (real Qwen checkpoints pad the embedding) is fine
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab, merges: [] }, added_tokens: [] }));
  assert.equal(loadModelDir(dir).model.config.vocabSize, 96);
  const m = new LlamaForCausalLM(cfg, 1);
  assert.throws(() => m.replaceParameter('model.norm.weight', new Tensor(new Float32Array(3), [3])), /new tensor \[3\] differs from the registered \[64\]/);
  assert.throws(() => m.replaceParameter('model.nope.weight', new Tensor(new Float32Array(3), [3])), /no submodule 'nope'/);
  const t = new Tensor(new Float32Array(64).fill(2), [64]);
  m.replaceParameter('model.norm.weight', t);
  assert.equal(m.model.norm.weight, t, 'the module field follows the slot');
});

test('weights: a format the kernels refuse falls back (quantized → bf16 → f32; a quantized file → f32) with one warning line per format and role', () => {
  const lines: string[] = [];
  const refuses = (d: string, role: string) => (d === 'q4_0' || (d === 'bf16' && role === 'embedding') ? `[test] no ${d} ${role}` : null);
  const plan = new WeightPlan('q4_0', (l) => lines.push(l), refuses);
  assert.equal(plan.dtypeFor('a.weight', [8, 64], 'f32', 'matmul'), 'bf16');
  assert.equal(plan.dtypeFor('b.weight', [8, 64], 'f32', 'matmul'), 'bf16');
  assert.equal(plan.dtypeFor('model.embed_tokens.weight', [8, 64], 'f32', 'embedding'), 'f32');
  assert.equal(plan.dtypeFor('n.weight', [64], 'f32', 'matmul'), 'f32');
  assert.deepEqual(lines, [
    '[weights] q4_0 matrices are not supported by this build\'s kernels ([test] no q4_0 matmul); a.weight and others like it are held as bf16',
    '[weights] q4_0 embedding tables are not supported by this build\'s kernels ([test] no q4_0 embedding); model.embed_tokens.weight and others like it are held as bf16',
    '[weights] bf16 embedding tables are not supported by this build\'s kernels ([test] no bf16 embedding); model.embed_tokens.weight and others like it are held as f32',
  ]);
  const auto = new WeightPlan('auto', () => {}, refuses);
  assert.equal(auto.dtypeFor('c.weight', [8, 64], 'q4_0', 'matmul'), 'f32', 'dequantized exactly, not rounded to bf16');
  assert.equal(auto.dtypeFor('d.weight', [8, 64], 'q8_0', 'matmul'), 'q8_0');
});
