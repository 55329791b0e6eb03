// local-model.test.ts — the adapter over src/model + src/tokenizer on a tiny random model directory written here
// (a byte-level BPE trained on a few sentences of our own): greedy answers are deterministic, a continuation's
// log-likelihood equals the difference of the prefix sums of token log-probs, windows cover every token once, and
// perplexity / bits per char follow from them. Random weights: the numbers mean nothing medically.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlamaForCausalLM } from '../../src/model/llama.js';
import { saveModelDir } from '../../src/model/model-dir.js';
import { trainByteLevelBpe } from '../../src/tokenizer/train.js';
import { saveTokenizer } from '../../src/tokenizer/tokenizer-json.js';
import { loadLocalModel, promptIds, type LocalModel } from '../../src/eval/local-model.js';
import { perplexity } from '../../src/eval/perplexity.js';

let dir = '';
let lm: LocalModel;
const corpus = ['我头痛三天了，有点发烧。', '请问您咳嗽多久了？', '建议到医院呼吸科就诊。', '多喝水，注意休息。', '<human>:你好\n<bot>:您好'];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zj-eval-local-'));
  const tok = await trainByteLevelBpe(corpus, { vocabSize: 300, specialTokens: ['<s>', '</s>'], bosToken: '<s>', eosToken: '</s>', minFrequency: 1 });
  const model = new LlamaForCausalLM({
    vocabSize: tok.vocabSize, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 2, numKvHeads: 1,
    ropeTheta: 10000, rmsNormEps: 1e-5, maxPositions: 48, tieWordEmbeddings: false, attentionBias: false, bosTokenId: 0, eosTokenId: 1,
  }, 7);
  tok.config.addBosToken = true;
  saveModelDir(dir, model, { eosTokenIds: [1] });
  await saveTokenizer(tok, dir);
  lm = await loadLocalModel(dir, { template: 'ziya', maxNewTokens: 6, name: 'tiny' });
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('greedy answers through the chat template are deterministic strings', async () => {
  const msgs = [{ role: 'user' as const, text: '我头痛' }, { role: 'assistant' as const, text: '多久了？' }, { role: 'user' as const, text: '三天' }];
  const a1 = await lm.answerer.answer(msgs), a2 = await lm.answerer.answer(msgs);
  assert.equal(typeof a1, 'string');
  assert.equal(a1, a2);
  assert.equal(lm.answerer.name, 'tiny');
  // one left-padded batch of prompts of different lengths gives the same greedy answers
  const other = [{ role: 'user' as const, text: '请问您咳嗽多久了？建议到医院呼吸科就诊。' }];
  assert.deepEqual(await lm.answerer.answerBatch!([msgs, other]), [a1, await lm.answerer.answer(other)]);
});

test('answerAll (the pipeline\'s batched path) gives the answerer\'s greedy answers for any batch size; prompts carry BOS', async () => {
  const convs = [[{ role: 'user' as const, text: '我头痛三天了' }], [{ role: 'user' as const, text: '请问您咳嗽多久了？建议到医院呼吸科就诊。' }],
    [{ role: 'user' as const, text: '多喝水' }]];
  const one = await Promise.all(convs.map((c) => lm.answerer.answer(c)));
  assert.deepEqual(lm.answerAll(convs, { batchSize: 2 }), one);
  assert.deepEqual(lm.answerAll(convs), one);
  const ids = lm.promptIds(convs[0]!);
  assert.equal(ids[0], 0, 'BOS first: the tokenizer asks for it');
  assert.deepEqual(ids.slice(1), promptIds({ tok: lm.tokenizer, template: 'ziya' }, convs[0]!), 'the training-pair prompt is the same text without BOS');
  // per-call settings win over the load options: a longer budget gives a continuation of the greedy answer's tokens
  const longer = lm.answerAll([convs[0]!], { maxNewTokens: 12 })[0]!;
  assert.ok(longer.startsWith(one[0]!.slice(0, Math.max(0, one[0]!.length - 1))), `${longer} continues ${one[0]}`);
});

test('logLikelihood(prompt, c) = Σ log p(prompt + c) − Σ log p(prompt) when the tokens split cleanly', async () => {
  const prompt = '请问您咳嗽多久了？\n答案：', cont = 'B';
  const enc = (s: string) => lm.tokenizer.encode(s);
  assert.deepEqual(enc(prompt + cont).slice(0, enc(prompt).length), enc(prompt), 'test premise: a clean boundary');
  const sum = async (s: string) => (await lm.tokenLogProbs(s)).logProbs.reduce((a, b) => a + b, 0);
  const ll = await lm.logLikelihood(prompt, cont);
  assert.ok(ll < 0);
  assert.ok(Math.abs(ll - ((await sum(prompt + cont)) - (await sum(prompt)))) < 1e-4);
});

test('token log-probs cover every token once across windows; perplexity and bits/char follow', async () => {
  const long = corpus.join('').repeat(3); // longer than the 48-position window
  const n = lm.tokenizer.encode(long).length;
  assert.ok(n + 1 > 48);
  const r = await lm.tokenLogProbs(long);
  assert.equal(r.logProbs.length, n, 'BOS + n tokens → n predictions');
  assert.equal(r.unscored, 0);
  const p = await perplexity([long], lm.tokenLogProbs);
  const nll = -r.logProbs.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(p.perplexity! - Math.exp(nll / n)) < 1e-9);
  assert.ok(Math.abs(p.bitsPerChar! - nll / Math.LN2 / [...long].length) < 1e-9);
  // random weights over a 300-token vocabulary: perplexity near the vocabulary size, not near 1
  assert.ok(p.perplexity! > 50 && p.perplexity! < 2000, `perplexity ${p.perplexity}`);
});

test('without add_bos_token the first token has no prediction and is reported as unscored', async () => {
  const tok = lm.tokenizer;
  tok.config.addBosToken = false;
  await saveTokenizer(tok, dir);
  try {
    const noBos = await loadLocalModel(dir, { template: 'ziya', maxNewTokens: 2 });
    const text = '多喝水，注意休息。';
    const r = await noBos.tokenLogProbs(text);
    assert.equal(r.logProbs.length, noBos.tokenizer.encode(text).length - 1);
    assert.equal(r.unscored, 1);
  } finally {
    tok.config.addBosToken = true;
    await saveTokenizer(tok, dir);
  }
});

test('CLI with a local model: eval mcq by log-likelihood (a missing gold answer reported) and eval ppl', async () => {
  const { evalCommand } = await import('../../src/cli/eval.js');
  const fx = (f: string) => new URL(`../../../test/fixtures/eval/${f}`, import.meta.url).pathname;
  const out = join(dir, 'mcq.json');
  const e = console.error;
  console.error = () => {};
  try {
    assert.equal(await evalCommand.run(['mcq', '--data', fx('exam_val.csv'), '--model-dir', dir, '--out', out]), 0);
    const rep = JSON.parse((await import('node:fs')).readFileSync(out, 'utf8'));
    const o = rep.mcq[0].table.overall;
    assert.deepEqual([o.items, o.scored, o.missingGold, o.errors, o.unparseable], [4, 3, 1, 0, 0]);
    assert.equal(rep.mcq[0].table.rows[0].subject, 'exam');
    const pout = join(dir, 'ppl.json');
    assert.equal(await evalCommand.run(['ppl', '--data', fx('heldout.txt'), '--model-dir', dir, '--out', pout]), 0);
    const p = JSON.parse((await import('node:fs')).readFileSync(pout, 'utf8')).perplexity[0].result;
    assert.equal(p.texts, 2);
    assert.equal(p.chars, 9 + 11);
    assert.ok(p.bitsPerChar > 0);
  } finally {
    console.error = e;
  }
});
