// batch-decode.test.ts — serving's batched decode loop: one row equals model/generate.ts's generate() token for token
// (greedy and seeded sampling with repetition penalty); rows batched with other prompts, options and budgets get the
// same tokens as alone; EOS, stop strings and cancellation end one row without touching the others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { generate } from '../../src/model/generate.js';
import { decodeBatch, type DecodeRow, type RowFinish } from '../../src/serve/batch-decode.js';

const cfg: LlamaConfig = { ...presets.tiny, vocabSize: 60, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 96 };
function model(): LlamaForCausalLM {
  const m = new LlamaForCausalLM(cfg, 11);
  // larger weights than the default init so that logits are far from uniform and sampling is informative
  for (const [n, p] of m.namedParameters()) if (!n.endsWith('norm.weight')) { const d = p.f32(); for (let i = 0; i < d.length; i++) d[i] = d[i]! * 12; }
  return m;
}
// one distinct character per id, so texts compare token for token
const decode = (ids: number[]) => ids.map((i) => String.fromCharCode(0x4e00 + i)).join('');

interface Out { ids: number[]; finish: RowFinish | null; text: string }
function row(r: Partial<DecodeRow> & { ids: number[] }, out: Out, cancelAfter = Infinity): DecodeRow {
  return {
    maxNewTokens: 12, eosTokenIds: [], stop: [], seed: 0, sampling: {}, ...r,
    cancelled: () => out.ids.length >= cancelAfter,
    onToken: (text) => { out.text = text; },
    onFinish: (finish, _n, text) => { out.finish = finish; out.text = text; },
  };
}
function run(m: LlamaForCausalLM, specs: (Partial<DecodeRow> & { ids: number[]; cancelAfter?: number })[]): Out[] {
  const outs: Out[] = specs.map(() => ({ ids: [], finish: null, text: '' }));
  const rows = specs.map((s, i) => {
    const r = row(s, outs[i]!, s.cancelAfter);
    const inner = r.onToken;
    r.onToken = (text, n) => { inner(text, n); outs[i]!.ids = [...text].map((ch) => ch.charCodeAt(0) - 0x4e00); };
    return r;
  });
  decodeBatch(m, rows, decode);
  return outs;
}

test('batch decode: a single row equals generate() (greedy and seeded sampling, repetition penalty)', () => {
  const m = model();
  const prompt = [3, 14, 15, 9, 26, 5];
  for (const sampling of [{}, { doSample: true, temperature: 0.9, topP: 0.9, topK: 20, repetitionPenalty: 1.2 }, { repetitionPenalty: 1.3 }]) {
    const g = generate(m, [prompt], { maxNewTokens: 20, seed: 5, decode, ...sampling });
    const [o] = run(m, [{ ids: prompt, maxNewTokens: 20, seed: 5, sampling }]);
    assert.equal(o!.text, g.text![0], JSON.stringify(sampling));
    assert.equal(o!.finish, 'length');
  }
});

test('batch decode: rows with different prompts, options, seeds and budgets get the tokens they get alone', () => {
  const m = model();
  const specs = [
    { ids: [1, 2, 3, 4, 5, 6, 7, 8, 9], maxNewTokens: 15, seed: 1, sampling: {} },
    { ids: [40, 41], maxNewTokens: 6, seed: 2, sampling: { doSample: true, temperature: 1.1, repetitionPenalty: 1.2 } },
    { ids: [7, 7, 7, 30], maxNewTokens: 20, seed: 3, sampling: { doSample: true, temperature: 0.7, topP: 0.8 } },
  ];
  const together = run(m, specs);
  specs.forEach((s, i) => {
    const [alone] = run(m, [s]);
    assert.equal(together[i]!.text, alone!.text, `row ${i}`);
    assert.equal(together[i]!.text.length, s.maxNewTokens);
    assert.equal(together[i]!.finish, 'length');
  });
});

test('batch decode: EOS, a stop string and cancellation end one row; the others run on unchanged', () => {
  const m = model();
  const base = { ids: [5, 9, 13, 2], maxNewTokens: 16, sampling: {} };
  const [ref] = run(m, [base]);
  const text = ref!.text;
  const eosId = text.charCodeAt(3) - 0x4e00; // the 4th greedy token becomes an EOS id
  const stop = text.slice(5, 7);
  const outs = run(m, [
    { ...base, eosTokenIds: [eosId] },
    { ...base, stop: [stop] },
    { ...base, cancelAfter: 2 },
    base,
  ]);
  assert.equal(outs[0]!.finish, 'eos');
  assert.equal(outs[0]!.text, text.slice(0, text.indexOf(String.fromCharCode(0x4e00 + eosId)) + 1));
  assert.equal(outs[1]!.finish, 'stop');
  assert.ok(outs[1]!.text.includes(stop) && outs[1]!.text.length <= 7);
  assert.equal(outs[2]!.finish, 'cancelled');
  assert.equal(outs[2]!.text.length, 2);
  assert.equal(outs[3]!.text, text);
  assert.equal(outs[3]!.finish, 'length');
});
