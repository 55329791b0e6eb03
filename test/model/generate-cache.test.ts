// generate-cache.test.ts — a prefill in passes equals one pass; a decode step attends over the KV cache's whole capacity in one kernel call, with the
// positions past each row's keys masked: whatever those unwritten positions hold (here NaN, as after a reset of a
// cache that held another batch) must not reach the output, on the native kernel and on the reference backend. A
// bf16 cache stores the f32 values rounded and decodes close to f32; keepRows moves rows in either dtype.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvCache, LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { prefill } from '../../src/model/generate.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { tidy } from '../../src/tensor/scope.js';
import { diff, i32T, referenceBackend, withBackend } from '../helpers.js';
import { backend } from '../../src/backend/index.js';

const cfg: LlamaConfig = { ...presets.tiny, vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 64 };

function decodeLogits(m: LlamaForCausalLM, poison: boolean, onCache?: (c: KvCache) => void): Float32Array[] {
  return noGrad(() => tidy(() => {
    const cache = m.newCache(2, 24);
    // NaN in either dtype (0x7fc0: a bf16 NaN)
    if (poison) for (const buf of [...cache.k, ...cache.v]) buf.fill(buf instanceof Uint16Array ? 0x7fc0 : NaN);
    // left-padded prefill: row 0 has 3 real tokens of 5
    const mask = i32T([0, 0, 1, 1, 1, 1, 1, 1, 1, 1], [2, 5]);
    const pos = i32T([0, 0, 0, 1, 2, 0, 1, 2, 3, 4], [10]);
    const out = [m.forward({ ids: i32T([0, 0, 5, 6, 7, 1, 2, 3, 4, 5], [2, 5]), positions: pos, keyMask: mask, cache }).f32().slice()];
    for (let t = 0; t < 6; t++) {
      const step = m.forward({ ids: i32T([8 + t, 9 + t], [2, 1]), positions: i32T([3 + t, 5 + t], [2]), keyMask: i32T([1, 1], [2, 1]), cache });
      out.push(step.f32().slice());
    }
    onCache?.(cache);
    return out;
  }));
}

for (const [name, wrap] of [['native', (f: () => void) => f()], ['reference', (f: () => void) => withBackend(referenceBackend, f)]] as const) {
  test(`decode steps over the cache ignore unwritten capacity (${name})`, () => {
    wrap(() => {
      const m = new LlamaForCausalLM(cfg, 2);
      const clean = decodeLogits(m, false), poisoned = decodeLogits(m, true);
      clean.forEach((c, i) => {
        assert.ok(c.every(Number.isFinite) && poisoned[i]!.every(Number.isFinite), `step ${i}: logits not finite`);
        assert.ok(diff(poisoned[i]!, c).maxAbs === 0, `step ${i}: the unwritten capacity changed the logits`);
      });
    });
  });
}

for (const [name, wrap] of [['native', (f: () => void) => f()], ['reference', (f: () => void) => withBackend(referenceBackend, f)]] as const) {
  test(`a bf16 cache holds the f32 cache's values rounded, decodes close to it and ignores unwritten capacity (${name})`, () => {
    wrap(() => {
      const m = new LlamaForCausalLM(cfg, 2);
      let k32: Float32Array | null = null, k16: Uint16Array | null = null, v32: Float32Array | null = null, v16: Uint16Array | null = null;
      const f32 = decodeLogits(m, false, (c) => { k32 = c.k[0] as Float32Array; v32 = c.v[0] as Float32Array; });
      m.kvCacheDType = 'bf16';
      const bf16 = decodeLogits(m, false, (c) => { k16 = c.k[0] as Uint16Array; v16 = c.v[0] as Uint16Array; });
      const poisoned = decodeLogits(m, true);
      assert.ok(k16! instanceof Uint16Array && v16! instanceof Uint16Array, 'a bf16 cache holds Uint16Array buffers');
      // layer 0's keys and values come from the same inputs in both runs: the bf16 ones are the f32 ones rounded
      for (const [wide, bits, what] of [[k32!, k16!, 'K'], [v32!, v16!, 'V']] as const) {
        const want = new Uint16Array(wide.length);
        backend().castF32ToBf16(wide, want);
        assert.deepEqual(bits, want, `layer 0 ${what}: the bf16 cache is not the f32 cache rounded`);
      }
      bf16.forEach((b, i) => {
        const scale = Math.max(...f32[i]!.map(Math.abs));
        assert.ok(b.every(Number.isFinite), `step ${i}: bf16 logits not finite`);
        // bf16 keeps 8 significant bits: a relative error ~4e-3 per value, averaged down by attention
        assert.ok(diff(b, f32[i]!).maxAbs < 0.02 * scale, `step ${i}: bf16 logits ${diff(b, f32[i]!).maxAbs} from f32 (scale ${scale})`);
        assert.ok(diff(b, f32[i]!).maxAbs > 0, `step ${i}: bf16 logits equal f32's bit for bit: the cache did not round`);
        assert.ok(diff(poisoned[i]!, b).maxAbs === 0, `step ${i}: the unwritten bf16 capacity changed the logits`);
      });
    });
  });
}

test('a KV cache refuses a dtype it does not hold', () => {
  assert.throws(() => new KvCache(1, 1, 4, 1, 8, 'f16' as never), /dtype must be one of f32, bf16, got 'f16'/);
});

test('a prefill in passes of whole positions gives the single pass\'s logits and cache, padded rows included', () => {
  const m = new LlamaForCausalLM(cfg, 4);
  const prompts = [[3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], [1, 2, 3], [20, 21, 22, 23, 24, 25, 26]];
  const run = (chunkRows: number) => noGrad(() => tidy(() => {
    const cache = m.newCache(3, 20);
    const first = prefill(m, cache, prompts, 0, chunkRows).f32().slice();
    const step = m.forward({ ids: i32T([30, 31, 32], [3, 1]), positions: i32T([11, 3, 7], [3]), keyMask: i32T([1, 1, 1], [3, 1]), cache }).f32().slice();
    return { first, step, length: cache.length, mask: cache.mask.slice() };
  }));
  const one = run(Infinity);
  for (const rows of [12, 7, 1]) { // 3, 5 and 11 passes (the last: one position a pass, the decode-step path)
    const r = run(rows);
    assert.equal(r.length, 12); // 11 prompt positions + the step
    assert.deepEqual(r.mask, one.mask);
    assert.ok(diff(r.first, one.first).maxAbs < 1e-4, `chunkRows ${rows}: prefill logits ${diff(r.first, one.first).maxAbs}`);
    assert.ok(diff(r.step, one.step).maxAbs < 1e-4, `chunkRows ${rows}: next step logits ${diff(r.step, one.step).maxAbs}`);
  }
});

for (const dtype of ['f32', 'bf16'] as const) test(`keepRows moves the kept rows' cached positions and mask down in order, refuses bad indices; reset restores the batch (${dtype})`, () => {
  const m = new LlamaForCausalLM(cfg, 5);
  m.kvCacheDType = dtype;
  const cache = m.newCache(4, 6);
  // the value at (row b, position t, layer l, line j; V: line 17): an integer below 2^16, exact as f32 or as
  // a bf16 buffer's bits, so both dtypes' buffers are checked the same way
  const code = (b: number, t: number, l: number, j: number) => ((b * 4 + t) * 2 + l) * 32 + j;
  const row = cfg.numKvHeads * (cfg.hiddenSize / cfg.numHeads);
  // three positions committed
  cache.append(4, 3, i32T([1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1], [4, 3]));
  cache.commit(3);
  // keys transposed: (B, Hkv·D, keyStride), position t of line j of row b at (b·row + j)·keyStride + t
  const ks = cache.keyStride;
  assert.equal(ks, 16, 'the key stride is the capacity rounded up to 16');
  cache.k.forEach((k, l) => { for (let b = 0; b < 4; b++) for (let j = 0; j < row; j++) for (let t = 0; t < 3; t++) k[(b * row + j) * ks + t] = code(b, t, l, j); });
  cache.v.forEach((v, l) => { for (let b = 0; b < 4; b++) for (let t = 0; t < 3; t++) v.fill(code(b, t, l, 17), (b * 6 + t) * row, (b * 6 + t + 1) * row); });
  cache.keepRows([1, 3]);
  assert.equal(cache.rows, 2);
  for (const [i, b] of [[0, 1], [1, 3]] as const)
    for (let t = 0; t < 3; t++) {
      cache.k.forEach((k, l) => { for (const j of [0, row - 1]) assert.equal(k[(i * row + j) * ks + t], code(b, t, l, j), `K row ${i} ← ${b}, line ${j}, position ${t}, layer ${l}`); });
      cache.v.forEach((v, l) => assert.equal(v[(i * 6 + t) * row], code(b, t, l, 17)));
    }
  assert.deepEqual([...cache.mask.subarray(0, 12)], [0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0]);
  assert.throws(() => cache.append(4, 1, null), /batch of 4 rows, cache holds 2/);
  assert.throws(() => cache.keepRows([1, 0]), /increasing row indices below 2/);
  assert.throws(() => cache.keepRows([2]), /increasing row indices below 2/);
  cache.reset(); // a new batch of the allocated shape
  assert.equal(cache.rows, 4);
  assert.doesNotThrow(() => cache.append(4, 1, null));
});
