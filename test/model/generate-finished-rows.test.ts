// generate-finished-rows.test.ts — rows that finish (EOS, length) leave the batch: later decode steps run only the
// rows still going, and each row's tokens and log-probs are those it gets decoded alone (greedy, f32 weights).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { generate } from '../../src/model/generate.js';

const cfg: LlamaConfig = { ...presets.tiny, vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 64 };

test('finished rows leave the batch; every row keeps its batch-1 greedy tokens and log-probs', () => {
  const m = new LlamaForCausalLM(cfg, 11);
  const prompts = [[3, 4, 5], [9, 1, 2, 8, 7], [30, 31], [12, 13, 14, 15]];
  const maxNewTokens = 12;
  // an EOS that ends some rows early: the second token row 0 produces on its own
  const alone0 = generate(m, [prompts[0]!], { maxNewTokens });
  const eos = alone0.ids[0]![1]!;
  const opts = { maxNewTokens, eosTokenIds: [eos] };

  const rowsPerStep: number[] = [];
  const hidden = m.hidden.bind(m);
  m.hidden = (input) => { rowsPerStep.push(input.ids.shape[0]!); return hidden(input); };
  const batch = generate(m, prompts, opts);
  m.hidden = hidden;

  const early = batch.finishReasons.filter((r) => r === 'eos').length;
  assert.ok(early >= 1, 'the EOS chosen ends at least row 0 early');
  assert.ok(batch.finishReasons.includes('length'), 'and some row runs to the length limit');
  // prefill (4 rows), then one forward per step with as many rows as were still running after the previous step
  const steps = Math.max(...batch.ids.map((ids) => ids.length)) - 1;
  const expected = [prompts.length];
  for (let s = 1; s <= steps; s++) expected.push(batch.ids.filter((ids) => ids.length > s).length);
  assert.deepEqual(rowsPerStep, expected);
  assert.ok(rowsPerStep.at(-1)! < prompts.length, 'later steps run fewer rows than the batch');

  prompts.forEach((p, b) => {
    const one = generate(m, [p], opts);
    assert.deepEqual(batch.ids[b], one.ids[0], `row ${b} tokens`);
    assert.equal(batch.finishReasons[b], one.finishReasons[0]);
    batch.logProbs[b]!.forEach((lp, i) => assert.ok(Math.abs(lp - one.logProbs[0]![i]!) < 1e-4, `row ${b} token ${i}: ${lp} vs ${one.logProbs[0]![i]}`));
  });
});
