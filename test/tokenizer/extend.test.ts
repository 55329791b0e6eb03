// extend.test.ts — vocabulary extension: every old id and merge kept, compression improves on held-out text, the
// extended file still tokenizes like @huggingface/tokenizers, and new tokens map back to the old tokens they replace.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learnMerges } from '../../src/tokenizer/bpe-learn.js';
import { tokenStringToBytes } from '../../src/tokenizer/bytes.js';
import { compressionReport, extendTokenizer, newTokenSources } from '../../src/tokenizer/extend.js';
import { trainByteLevelBpe } from '../../src/tokenizer/train.js';
import { tokenizerFromJson, tokenizerToJson } from '../../src/tokenizer/tokenizer-json.js';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { buildSentencePieceJson, hasRefdata, hfJs, inlineCorpus, refCorpus, refTexts } from './helpers.js';

function assertKeepsOld(old: Tokenizer, ext: Tokenizer, newIds: number[]): void {
  for (const [t, id] of old.model.vocab) assert.equal(ext.model.vocab.get(t), id, `token ${JSON.stringify(t)} moved`);
  assert.deepEqual(ext.model.merges.slice(0, old.model.merges.length), old.model.merges, 'old merges changed');
  assert.deepEqual(ext.addedTokens, old.addedTokens);
  for (const id of newIds) assert.ok(id >= old.vocabSize, `new id ${id} overlaps the old vocabulary`);
  assert.equal(ext.vocabSize, old.vocabSize + newIds.length);
}

/** Medical Chinese to learn from and to hold out: refdata when present, else our generated lines. */
function domainText(): { learn: string[]; heldOut: string[] } {
  if (hasRefdata) {
    const c = refCorpus(600_000).split('\n');
    return { learn: c, heldOut: refTexts(200).chinese };
  }
  return { learn: inlineCorpus(3000, 11).filter((l) => /[\u4e00-\u9fff]/.test(l)), heldOut: inlineCorpus(400, 12).filter((l) => /[\u4e00-\u9fff]/.test(l)) };
}

test('byte-level: extension keeps every old id and merge, improves chars/token on held-out text, agrees with HF', async () => {
  // a base that has seen little Chinese: English/code lines of our corpus
  const base = await trainByteLevelBpe(inlineCorpus(3000, 3).filter((l) => !/[\u4e00-\u9fff]/.test(l)), { vocabSize: 500, specialTokens: ['<s>', '</s>'] });
  const { learn, heldOut } = domainText();
  const { tokenizer: ext, newIds } = await extendTokenizer(base, learn, { newTokens: 800, minFrequency: 2 });
  assert.ok(newIds.length > 100, `only ${newIds.length} tokens added`);
  assertKeepsOld(base, ext, newIds);
  const r = compressionReport(base, ext, heldOut);
  assert.ok(r.after > r.before * 1.2, `chars/token ${r.before.toFixed(3)} → ${r.after.toFixed(3)}`);
  const js = hfJs(tokenizerToJson(ext));
  for (const t of heldOut.slice(0, 100)) {
    const ids = ext.encode(t);
    assert.deepEqual(js.encode(t, { add_special_tokens: false }).ids, ids);
    assert.equal(ext.decode(ids), t);
  }
  // each new token's old decomposition spells the same bytes with old ids only
  const src = newTokenSources(base, ext);
  assert.equal(src.size, newIds.length);
  for (const [id, olds] of src) {
    assert.ok(olds.length >= 2 && olds.every((o) => o < base.vocabSize));
    assert.deepEqual(olds.flatMap((o) => tokenStringToBytes(base.idToToken(o)!)!), tokenStringToBytes(ext.idToToken(id)!));
  }
});

test('SentencePiece-style: extension adds missing characters and merges, keeps old ids, agrees with HF', async () => {
  const base = tokenizerFromJson(buildSentencePieceJson(inlineCorpus(2000, 4).filter((l) => !/[\u4e00-\u9fff]/.test(l)), 80, 100, 'legacy', learnMerges));
  const { learn, heldOut } = domainText();
  const { tokenizer: ext, newIds } = await extendTokenizer(base, learn, { newTokens: 600, minFrequency: 2 });
  assertKeepsOld(base, ext, newIds);
  assert.ok(newIds.some((id) => [...ext.idToToken(id)!].length === 1), 'no single characters were added');
  assert.ok(ext.model.merges.length > base.model.merges.length, 'no merges were added');
  const r = compressionReport(base, ext, heldOut);
  assert.ok(r.after > r.before * 1.5, `chars/token ${r.before.toFixed(3)} → ${r.after.toFixed(3)}`);
  const js = hfJs(tokenizerToJson(ext));
  for (const t of heldOut.slice(0, 100)) assert.deepEqual(js.encode(t, { add_special_tokens: false }).ids, ext.encode(t));
  const src = newTokenSources(base, ext);
  for (const [id, olds] of src) {
    assert.ok(olds.length >= 1 && olds.every((o) => o < base.vocabSize), `new token ${id}`);
    assert.equal(base.decode(olds).replace(/^ /, ''), ext.decode([id]).replace(/^ /, ''));
  }
});
