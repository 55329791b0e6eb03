// Vocabulary resize after a tokenizer extension: old rows untouched (old-token logits identical), new rows the
// mean of the rows of the tokens each replaces, refused inputs named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { LlamaForCausalLM, presets } from '../../src/model/llama.js';
import { resizeVocabulary } from '../../src/model/resize.js';
import { Rng, idsT } from '../helpers.js';
import { dequantize, toWeightFormat } from '../../src/ops/quant.js';

const cfg = { ...presets.tiny, vocabSize: 50, hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2, numKvHeads: 2 };

test('resize keeps every old row and initialises new rows from their source tokens', () => {
  const m = new LlamaForCausalLM(cfg, 4);
  const r = resizeVocabulary(m, 53, new Map([[50, [3, 7]], [51, [9]]])); // 52 has no source: mean of all rows
  const C = cfg.hiddenSize;
  for (const name of ['model.embed_tokens.weight', 'lm_head.weight']) {
    const a = new Map(m.namedParameters()).get(name)!.f32(), b = new Map(r.namedParameters()).get(name)!.f32();
    assert.equal(b.length, 53 * C);
    assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, 50 * C * 4)), `${name}: old rows unchanged`);
    for (let c = 0; c < C; c++) {
      assert.ok(Math.abs(b[50 * C + c]! - (a[3 * C + c]! + a[7 * C + c]!) / 2) < 1e-7);
      assert.equal(b[51 * C + c], a[9 * C + c]);
      let mean = 0;
      for (let v = 0; v < 50; v++) mean += a[v * C + c]! / 50;
      assert.ok(Math.abs(b[52 * C + c]! - mean) < 1e-6);
    }
  }
  // the old vocabulary's logits are the same
  const ids = idsT(new Rng(1), [2, 6], 50);
  const la = noGrad(() => m.forward({ ids })).f32(), lb = noGrad(() => r.forward({ ids })).f32();
  for (let t = 0; t < 12; t++) for (let v = 0; v < 50; v++) assert.equal(lb[t * 53 + v], la[t * 50 + v]);
});

test('resize refuses a smaller vocabulary and sources outside the old ids', () => {
  const m = new LlamaForCausalLM(cfg, 4);
  assert.throws(() => resizeVocabulary(m, 40, new Map()), /\[resize\] the new vocabulary \(40\) must be an integer >= the old one \(50\)/);
  assert.throws(() => resizeVocabulary(m, 52, new Map([[51, [60]]])), /source id 60 is not an old id/);
  assert.throws(() => resizeVocabulary(m, 52, new Map([[55, [1]]])), /new token id 55 is outside \[50, 52\)/);
});

test('a grown copy shares the frozen low-precision base and keeps bf16 vocabulary matrices bf16', () => {
  const m = new LlamaForCausalLM({ ...cfg, hiddenSize: 32, intermediateSize: 64 }, 4);
  // hold every matrix bf16 (a frozen base as model.loraBaseWeights bf16 loads it), the up projection q8_0
  for (const [name, p] of m.namedParameters()) if (p.rank === 2) m.replaceParameter(name, toWeightFormat(p, /up_proj/.test(name) ? 'q8_0' : 'bf16').keep());
  const r = resizeVocabulary(m, 53, new Map([[50, [3, 7]]]));
  const before = new Map(m.namedParameters()), after = new Map(r.namedParameters());
  for (const [name, p] of after) {
    if (/embed_tokens|lm_head/.test(name)) {
      assert.equal(p.dtype, 'bf16', `${name} stays bf16`);
      const a = before.get(name)!.data as Uint16Array, b = p.data as Uint16Array;
      assert.deepEqual(b.subarray(0, a.length), a, `${name}: old rows' bits unchanged`);
      assert.equal(b.length, 53 * 32);
    } else assert.equal(p, before.get(name), `${name}: the same tensor, not a copy`);
  }
  m.replaceParameter('lm_head.weight', toWeightFormat(dequantize(before.get('lm_head.weight')!), 'q8_0'));
  assert.throws(() => resizeVocabulary(m, 53, new Map()), /\[resize\] 'lm_head\.weight' is held as q8_0: rows can only be added to f32 or bf16 matrices/);
});
