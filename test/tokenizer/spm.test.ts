// spm.test.ts — SpmModel, llama.cpp's SentencePiece merging by score: the highest-scoring piece first, the leftmost
// among equal scores, stale queue entries skipped, <0xNN> byte fallback (unk without byte pieces); and, on random
// vocabularies and strings, the same ids as a slow reference written from the rule (rescan every pair, merge the best).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergesFromScores, SpmModel } from '../../src/tokenizer/spm.js';
import { utf8Encode } from '../../src/tokenizer/bytes.js';

function model(pieces: [string, number][], unk: string | null = null): SpmModel {
  const vocab = new Map(pieces.map(([p], i) => [p, i]));
  return new SpmModel({ vocab, merges: [], byteLevel: false, byteFallback: true, unkToken: unk, fuseUnk: true, ignoreMerges: false },
    Float32Array.from(pieces, ([, s]) => s));
}
const bytes = Array.from({ length: 256 }, (_, b): [string, number] => [`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0]);
const names = (m: SpmModel, ids: number[]) => ids.map((i) => m.idToToken[i]);

test('spm: the highest-scoring pair merges first; equal scores merge leftmost first', () => {
  const m = model([['a', 0], ['b', 0], ['c', 0], ['ab', -2], ['bc', -1]]);
  assert.deepEqual(names(m, m.encodeWord('abc')), ['a', 'bc'], 'bc scores higher than ab');
  const tie = model([['a', 0], ['b', 0], ['c', 0], ['ab', -1], ['bc', -1]]);
  assert.deepEqual(names(tie, tie.encodeWord('abc')), ['ab', 'c'], 'tie: the left pair');
  // any split of a piece counts (a + bc makes abc even though ab + c would too): not only listed merges
  const whole = model([['a', 0], ['b', 0], ['c', 0], ['bc', -1], ['abc', -3]]);
  assert.deepEqual(names(whole, whole.encodeWord('abc')), ['abc']);
  // aaaa: the two left pairs first (leftmost), then their join; the queued (1, 2) pair is stale and skipped
  const aa = model([['a', 0], ['aa', -1], ['aaaa', -2]]);
  assert.deepEqual(names(aa, aa.encodeWord('aaaa')), ['aaaa']);
  assert.deepEqual(names(aa, aa.encodeWord('aaa')), ['aa', 'a']);
  assert.deepEqual(m.encodeWord(''), []);
});

test('spm: characters no piece covers become their UTF-8 <0xNN> bytes; without byte pieces, the unk piece; else an error', () => {
  const m = model([['<unk>', 0], ...bytes, ['▁', -1], ['x', -2], ['▁x', -3]]);
  const ids = m.encodeWord('▁x龘😀');
  assert.deepEqual(names(m, ids), ['▁x', ...Array.from(utf8Encode('龘😀'), (b) => `<0x${b.toString(16).toUpperCase()}>`)]);
  const noBytes = model([['<unk>', 0], ['x', 0]], '<unk>');
  assert.deepEqual(names(noBytes, noBytes.encodeWord('x龘x')), ['x', '<unk>', '<unk>', '<unk>', 'x'], 'one unk per byte, as llama.cpp resegments bytes');
  assert.throws(() => model([['x', 0]]).encodeWord('y'), /\[spm\] byte 0x79 has no <0x\.\.> piece and the vocabulary has no unk piece/);
});

/** The rule, slowly: rescan all adjacent pairs, merge the best (score, then leftmost) whose join is a piece. */
function reference(pieces: Map<string, number>, scores: Float32Array, text: string, byteId: (b: number) => number): number[] {
  const sym = [...text];
  for (;;) {
    let best = -1, bestScore = -Infinity;
    for (let i = 0; i + 1 < sym.length; i++) {
      const id = pieces.get(sym[i]! + sym[i + 1]!);
      if (id !== undefined && scores[id]! > bestScore) { best = i; bestScore = scores[id]!; }
    }
    if (best < 0) break;
    sym.splice(best, 2, sym[best]! + sym[best + 1]!);
  }
  return sym.flatMap((s) => pieces.has(s) ? [pieces.get(s)!] : Array.from(utf8Encode(s), byteId));
}

test('spm: same ids as the slow reference on random vocabularies (tied scores included) and random strings', () => {
  let seed = 5;
  const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  const alphabet = ['▁', 'a', 'b', 'c', 'd', '中', '文', '😀'];
  for (let round = 0; round < 20; round++) {
    const pieces: [string, number][] = [...bytes, ...alphabet.slice(0, 6).map((c): [string, number] => [c, 0])];
    const seen = new Set(pieces.map(([p]) => p));
    while (pieces.length < 256 + 60) {
      const len = 2 + rnd(4);
      let p = '';
      for (let k = 0; k < len; k++) p += alphabet[rnd(alphabet.length)];
      if (!seen.has(p)) { seen.add(p); pieces.push([p, -rnd(12)]); } // few distinct scores: many ties
    }
    const m = model(pieces);
    const vocab = new Map(pieces.map(([p], i) => [p, i]));
    const scores = Float32Array.from(pieces, ([, s]) => s);
    for (let k = 0; k < 30; k++) {
      let text = '';
      for (let j = 0, n = 1 + rnd(25); j < n; j++) text += alphabet[rnd(alphabet.length)];
      assert.deepEqual(m.encodeWord(text), reference(vocab, scores, text, (b) => b), `round ${round}: ${JSON.stringify(text)}`);
    }
  }
});

test('spm: mergesFromScores lists every two-piece split, pieces by descending score, splits by the ids of their halves', () => {
  const pieces = ['a', 'b', 'c', 'ab', 'bc', 'abc'];
  const vocab = new Map(pieces.map((p, i) => [p, i]));
  assert.deepEqual(mergesFromScores(pieces, Float32Array.from([0, 0, 0, -2, -1, -3]), vocab), [['b', 'c'], ['a', 'b'], ['a', 'bc'], ['ab', 'c']]);
});
