// bpe.test.ts — byte-level BPE: the merge learner against a naive recount, training, encode/decode round trips,
// special tokens, and ids identical to @huggingface/tokenizers (and the Rust `tokenizers`) for files we train and save.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { learnMerges } from '../../src/tokenizer/bpe-learn.js';
import { wellFormed } from '../../src/tokenizer/bytes.js';
import { qwen2Split } from '../../src/tokenizer/pre-tokenize.js';
import { trainByteLevelBpe, readTextFiles } from '../../src/tokenizer/train.js';
import { loadTokenizer, saveTokenizer, tokenizerToJson } from '../../src/tokenizer/tokenizer-json.js';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { tempDir } from '../helpers.js';
import {
  EDGE_TEXTS, SKIP_REFDATA, hasRefdata, hfJs, hfJsIds, inlineCorpus, randomStrings, refCorpus, refTexts, rustTokenizers,
} from './helpers.js';

/** The definition: recount every pair after every merge; ties to the smaller (a, b). */
function naiveMerges(words: number[][], counts: number[], nMerges: number, minFreq: number, firstId: number): [number, number, number][] {
  const ws = words.map((w) => [...w]);
  const out: [number, number, number][] = [];
  let next = firstId;
  for (let m = 0; m < nMerges; m++) {
    const pc = new Map<string, number>();
    ws.forEach((w, i) => { for (let j = 0; j + 1 < w.length; j++) { const k = `${w[j]},${w[j + 1]}`; pc.set(k, (pc.get(k) ?? 0) + counts[i]!); } });
    let best: [number, number] | null = null, bc = 0;
    for (const [k, c] of pc) {
      const [a, b] = k.split(',').map(Number) as [number, number];
      if (c > bc || (c === bc && best && (a < best[0] || (a === best[0] && b < best[1])))) { best = [a, b]; bc = c; }
    }
    if (!best || bc < minFreq) break;
    const c = next++;
    out.push([best[0], best[1], c]);
    for (const w of ws) for (let j = 0; j + 1 < w.length; j++) if (w[j] === best[0] && w[j + 1] === best[1]) w.splice(j, 2, c);
  }
  return out;
}

test('learner: incremental counts give exactly the merges of a full recount (random corpora, repeats like "aaaa")', () => {
  let s = 3;
  const r = (k: number): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return (s >>> 8) % k; };
  for (let trial = 0; trial < 30; trial++) {
    const alpha = 2 + r(4);
    const words = Array.from({ length: 1 + r(40) }, () => Array.from({ length: 1 + r(12) }, () => r(alpha)));
    const counts = words.map(() => 1 + r(5));
    const flat = words.flat();
    const starts = [0];
    for (const w of words) starts.push(starts[starts.length - 1]! + w.length);
    let next = alpha;
    const got = learnMerges({ symbols: Int32Array.from(flat), wordStart: Int32Array.from(starts), wordCount: Int32Array.from(counts) },
      { maxMerges: 25, minFrequency: 1, newSymbol: () => next++ });
    const want = naiveMerges(words, counts, 25, 1, alpha);
    assert.deepEqual(got.map((m) => [m.a, m.b, m.result]), want, `trial ${trial}`);
  }
});

test('qwen2 split: digits one by one, Han runs kept whole, punctuation apart, no reliance on spaces', () => {
  assert.deepEqual(qwen2Split('体温38.5℃，头痛'), ['体温', '3', '8', '.', '5', '℃，', '头痛']);
  assert.deepEqual(qwen2Split("he's OK  now\n\n"), ['he', "'s", ' OK', ' ', ' now', '\n\n']);
});

let trained: Tokenizer | null = null;
async function inlineTokenizer(): Promise<Tokenizer> {
  trained ??= await trainByteLevelBpe(inlineCorpus(), { vocabSize: 600, minFrequency: 2, specialTokens: ['<s>', '</s>', '<pad>'], bosToken: '<s>', eosToken: '</s>', padToken: '<pad>' });
  return trained;
}

test('training: vocabulary size, special token ids, min frequency, determinism', async () => {
  const tok = await inlineTokenizer();
  assert.equal(tok.vocabSize, 600);
  assert.deepEqual([tok.tokenToId('<s>'), tok.tokenToId('</s>'), tok.tokenToId('<pad>')], [0, 1, 2]);
  const again = await trainByteLevelBpe(inlineCorpus(), { vocabSize: 600, specialTokens: ['<s>', '</s>', '<pad>'] });
  assert.deepEqual(again.model.merges, tok.model.merges);
  // a corpus where nothing repeats twice learns no merge at min frequency 2
  const none = await trainByteLevelBpe(['ab cd ef'], { vocabSize: 400, minFrequency: 2 });
  assert.equal(none.model.merges.length, 0);
  // async iterables and files are sources too
  const dir = tempDir('zj-tok-');
  await saveTokenizer(tok, dir);
  const fromFile = await trainByteLevelBpe(readTextFiles([join(dir, 'tokenizer.json')], 4096), { vocabSize: 300 });
  assert.equal(fromFile.vocabSize, 300);
});

test('special tokens are matched before pre-tokenization; decode can skip them', async () => {
  const tok = await inlineTokenizer();
  const ids = tok.encode('<s>患者</s>x<pad>');
  assert.equal(ids[0], 0);
  assert.ok(ids.includes(1) && ids.includes(2));
  assert.equal(tok.decode(ids), '<s>患者</s>x<pad>');
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), '患者x');
  const plain = tok.encode('<s>', { specialTokens: 'plain' });
  assert.ok(!plain.includes(0) && plain.length > 1);
  // tokens added later get new ids and are matched the same way; nothing that existed moves
  const more = tok.withAddedTokens(['<|im_start|>', '<|im_end|>', '<s>']);
  assert.equal(more.vocabSize, tok.vocabSize + 2);
  assert.deepEqual(more.encode('<|im_start|>患者<|im_end|>'), [tok.vocabSize, ...tok.encode('患者'), tok.vocabSize + 1]);
  assert.equal(more.tokenToId('<s>'), 0);
});

test('decode(encode(x)) == x for arbitrary Unicode; lone surrogates become U+FFFD deterministically', async () => {
  const tok = await inlineTokenizer();
  for (const x of [...randomStrings(400), ...EDGE_TEXTS, ...inlineCorpus(200)]) {
    const ids = tok.encode(x);
    assert.equal(tok.decode(ids), wellFormed(x), JSON.stringify(x));
    assert.deepEqual(tok.encode(x), ids, 'encode is deterministic (cache hit equals miss)');
  }
  assert.equal(tok.decode(tok.encode('a\ud800b')), 'a\ufffdb');
  // arbitrary id sequences decode without throwing: broken UTF-8 becomes U+FFFD
  const some = tok.encode('中');
  assert.equal(typeof tok.decode(some.slice(0, 1)), 'string');
});

async function assertSameAsReferences(tok: Tokenizer, texts: string[], label: string): Promise<void> {
  const dir = tempDir('zj-tok-');
  await saveTokenizer(tok, dir);
  const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  const cfg = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
  const reloaded = await loadTokenizer(dir);
  const js = hfJs(json, cfg);
  const Rust = rustTokenizers();
  const rust = Rust?.fromString(JSON.stringify(json));
  let n = 0;
  for (const t of texts) {
    const ours = tok.encode(t);
    assert.deepEqual(reloaded.encode(t), ours, `${label}: reloaded tokenizer.json differs on ${JSON.stringify(t.slice(0, 40))}`);
    assert.deepEqual(hfJsIds(js, t), ours, `${label}: @huggingface/tokenizers differs on ${JSON.stringify(t.slice(0, 60))}`);
    if (rust) assert.deepEqual((await rust.encode(t, null, { addSpecialTokens: false })).getIds(), ours, `${label}: Rust tokenizers differs on ${JSON.stringify(t.slice(0, 60))}`);
    assert.equal(tok.decode(ours), t);
    n += ours.length;
  }
  assert.ok(n > 0);
}

test('ids identical to @huggingface/tokenizers and Rust tokenizers on inline texts (tokenizer trained and saved here)', async () => {
  const tok = await inlineTokenizer();
  await assertSameAsReferences(tok, [...EDGE_TEXTS, ...inlineCorpus(300, 99), ...randomStrings(100, 5).map(wellFormed).filter((s) => !/[\u0085\ufeff]/.test(s))], 'inline');
});

test('ids identical to @huggingface/tokenizers on ../shared/refdata texts (Chinese, English, digits, emoji, mixed)', async (t) => {
  if (!hasRefdata) { t.skip(SKIP_REFDATA); return; }
  const tok = await trainByteLevelBpe([refCorpus(1_500_000)], { vocabSize: 4000, specialTokens: ['<s>', '</s>'] });
  const texts = refTexts(150);
  for (const [kind, list] of Object.entries(texts)) {
    assert.ok(list.length > 0, `refdata yielded no ${kind} texts`);
    await assertSameAsReferences(tok, list, `refdata ${kind}`);
  }
});

test('compression: a Chinese medical tokenizer beats bytes by far', async (t) => {
  if (!hasRefdata) { t.skip(SKIP_REFDATA); return; }
  const tok = await trainByteLevelBpe([refCorpus(800_000)], { vocabSize: 3000 });
  const held = refTexts(100).chinese;
  assert.ok(tok.charsPerToken(held) > 1.0, `chars/token ${tok.charsPerToken(held)}`);
});

test('applyMerges equals the naive lowest-rank, leftmost-first loop, for words long and short (scratch reuse too)', async () => {
  const tok = await inlineTokenizer();
  const m = tok.model;
  const naive = (ids: number[]): number[] => {
    const w = [...ids];
    for (;;) {
      let best = -1, at = -1;
      for (let i = 0; i + 1 < w.length; i++) {
        const r = m.mergeRank(w[i]!, w[i + 1]!);
        if (r >= 0 && (best < 0 || r < best)) { best = r; at = i; }
      }
      if (best < 0) return w;
      const [a, b] = m.merges[best]!;
      w.splice(at, 2, m.vocab.get(a + b)!);
    }
  };
  const lines = inlineCorpus(400, 31);
  for (let k = 0; k < lines.length; k++) {
    // whole lines (long words: 100+ bytes), then a short one, so the reused buffers shrink and grow
    const text = k % 3 === 0 ? lines.slice(k, k + 4).join('') : lines[k]!.slice(0, 5);
    const ids = m.initialSymbols(text);
    assert.deepEqual(m.applyMerges(ids), naive(ids), JSON.stringify(text));
  }
});
