// Resizing after an extension when the model has spare rows past its tokenizer (as Qwen2.5 does): new tokens take
// the spare rows first, in place (same model, same tensors), spare rows no token takes are left as they were, rows
// past the spare ones are grown; sources must be old tokens, not spare rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaForCausalLM, presets } from '../../src/model/llama.js';
import { resizeVocabulary } from '../../src/model/resize.js';

const cfg = { ...presets.tiny, vocabSize: 40, hiddenSize: 8, intermediateSize: 16, numLayers: 1, numHeads: 2, numKvHeads: 2 };
const rowsOf = (m: LlamaForCausalLM, name: string) => new Map(m.namedParameters()).get(name)!.f32().slice();

test('new tokens fill the spare rows in place; the rest of the spare rows are untouched', () => {
  const m = new LlamaForCausalLM(cfg, 3); // 40 rows, the tokenizer had 30 ids
  const before = rowsOf(m, 'model.embed_tokens.weight'), C = cfg.hiddenSize;
  const head0 = rowsOf(m, 'lm_head.weight');
  const r = resizeVocabulary(m, 40, new Map([[30, [1, 2]], [31, []]]), 30);
  assert.equal(r, m, 'no growth: the same model');
  for (const name of ['model.embed_tokens.weight', 'lm_head.weight']) {
    const old = name === 'lm_head.weight' ? head0 : before, now = rowsOf(r, name);
    assert.deepEqual(now.subarray(0, 30 * C), old.subarray(0, 30 * C), `${name}: old rows kept`);
    for (let c = 0; c < C; c++) {
      assert.ok(Math.abs(now[30 * C + c]! - (old[1 * C + c]! + old[2 * C + c]!) / 2) < 1e-7);
      let mean = 0;
      for (let v = 0; v < 30; v++) mean += old[v * C + c]! / 30; // the old tokens' mean, not the spare rows'
      assert.ok(Math.abs(now[31 * C + c]! - mean) < 1e-6);
    }
    assert.deepEqual(now.subarray(32 * C), old.subarray(32 * C), `${name}: spare rows 32… as they were`);
  }
});

test('past the spare rows the matrices grow; spare rows cannot be sources', () => {
  const m = new LlamaForCausalLM(cfg, 3);
  const old = rowsOf(m, 'model.embed_tokens.weight'), C = cfg.hiddenSize;
  const r = resizeVocabulary(m, 42, new Map([[41, [5]], [35, [6]]]), 30);
  assert.notEqual(r, m);
  assert.equal(r.config.vocabSize, 42);
  const now = rowsOf(r, 'model.embed_tokens.weight');
  assert.deepEqual(now.subarray(41 * C), old.subarray(5 * C, 6 * C));
  assert.deepEqual(now.subarray(35 * C, 36 * C), old.subarray(6 * C, 7 * C));
  assert.deepEqual(now.subarray(36 * C, 40 * C), old.subarray(36 * C, 40 * C), 'untaken spare rows copied as they were');
  assert.throws(() => resizeVocabulary(m, 40, new Map([[31, [33]]]), 30), /new token 31: source id 33 is not an old id/);
  assert.throws(() => resizeVocabulary(m, 40, new Map([[29, [1]]]), 30), /new token id 29 is outside \[30, 40\)/);
  assert.throws(() => resizeVocabulary(m, 40, new Map(), 41), /old tokenizer's size \(41\) must be an integer in \[1, 40\]/);
});
