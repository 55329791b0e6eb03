// generate.test.ts — the KV cache gives the logits of a full forward pass at every position (also left-padded),
// batched generation equals one-by-one generation, greedy = the argmax of full-forward logits at each step, HF's
// logits processing semantics, fixed-seed sampling returns the same ids every run (pinned from our own output, and
// checked to lie in the top-k / top-p set), EOS / stop strings / max tokens / streaming, and memory stays flat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { applyRepetitionPenalty, generate, sampleToken, topKIds } from '../../src/model/generate.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { tidy } from '../../src/tensor/scope.js';
import { poolStats } from '../../src/tensor/pool.js';
import { slice } from '../../src/ops/index.js';
import { diff, i32T, referenceBackend, Rng, withBackend } from '../helpers.js';

const cfg: LlamaConfig = { ...presets.tiny, vocabSize: 50, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 64 };
// larger weights than the default init so that logits are far from uniform and sampling is informative
function model(seed = 3, c: LlamaConfig = cfg): LlamaForCausalLM {
  const m = new LlamaForCausalLM(c, seed);
  for (const [n, p] of m.namedParameters()) if (!n.endsWith('norm.weight')) { const d = p.f32(); for (let i = 0; i < d.length; i++) d[i] = d[i]! * 15; }
  return m;
}

test('KV cache: prefill + one-token decode steps give the full forward logits at every position', () => {
  for (const c of [cfg, { ...cfg, attentionBias: true, tieWordEmbeddings: true, numKvHeads: 1 }]) {
    const m = model(3, c);
    const ids = Array.from({ length: 12 }, (_, i) => (i * 7 + 3) % c.vocabSize);
    noGrad(() => tidy(() => {
      const full = m.forward({ ids: i32T(ids, [1, 12]) }).f32(); // (1, 12, V)
      const V = c.vocabSize;
      const cache = m.newCache(1, 12);
      const pre = m.forward({ ids: i32T(ids.slice(0, 5), [1, 5]), cache }).f32();
      let worst = diff(pre, full.subarray(0, 5 * V)).maxAbs;
      for (let t = 5; t < 12; t++) {
        const step = m.forward({ ids: i32T([ids[t]!], [1, 1]), cache }).f32();
        worst = Math.max(worst, diff(step, full.subarray(t * V, (t + 1) * V)).maxAbs);
      }
      assert.equal(cache.length, 12);
      assert.ok(worst < 1e-4, `cache vs full forward: max |diff| ${worst}`);
    }));
  }
});

test('KV cache with left padding: each row matches its own unpadded forward', () => {
  const m = model();
  const a = [5, 9, 2, 7, 1, 3], b = [8, 4];
  noGrad(() => tidy(() => {
    const V = cfg.vocabSize;
    const cache = m.newCache(2, 9);
    // row b is padded by 4 on the left; positions count from its first real token
    const ids = i32T([...a, 0, 0, 0, 0, ...b], [2, 6]);
    const pos = i32T([0, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 1]);
    const mask = i32T([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1], [2, 6]);
    const pre = m.forward({ ids, positions: pos, keyMask: mask, cache }).f32(); // (2, 6, V)
    const step = m.forward({ ids: i32T([6, 6], [2, 1]), positions: i32T([6, 2]), keyMask: i32T([1, 1], [2, 1]), cache }).f32();
    const fa = m.forward({ ids: i32T([...a, 6], [1, 7]) }).f32(), fb = m.forward({ ids: i32T([...b, 6], [1, 3]) }).f32();
    assert.ok(diff(pre.subarray(0, 6 * V), fa.subarray(0, 6 * V)).maxAbs < 1e-4);
    assert.ok(diff(pre.subarray(10 * V, 12 * V), fb.subarray(0, 2 * V)).maxAbs < 1e-4);
    assert.ok(diff(step.subarray(0, V), fa.subarray(6 * V)).maxAbs < 1e-4);
    assert.ok(diff(step.subarray(V), fb.subarray(2 * V)).maxAbs < 1e-4);
  }));
});

test('batched greedy generation with left padding equals generating each prompt alone', () => {
  const m = model();
  const prompts = [[5, 9, 2, 7, 1, 3], [8, 4], [11, 12, 13]];
  const opts = { maxNewTokens: 10, repetitionPenalty: 1.2 };
  const batch = generate(m, prompts, opts);
  prompts.forEach((p, i) => {
    const one = generate(m, [p], opts);
    assert.deepEqual(batch.ids[i], one.ids[0], `row ${i}`);
    assert.ok(diff(batch.logProbs[i]!, one.logProbs[0]!).maxAbs < 1e-4);
  });
  // the log-probs are those of the full forward pass over prompt + continuation
  const seq = [...prompts[1]!, ...batch.ids[1]!];
  noGrad(() => tidy(() => {
    const logits = m.forward({ ids: i32T(seq, [1, seq.length]) }).f32();
    const V = cfg.vocabSize;
    batch.ids[1]!.forEach((id, j) => {
      const r = logits.subarray((prompts[1]!.length - 1 + j) * V, (prompts[1]!.length + j) * V);
      let mx = -Infinity; for (const x of r) mx = Math.max(mx, x);
      let z = 0; for (const x of r) z += Math.exp(x - mx);
      assert.ok(Math.abs(r[id]! - mx - Math.log(z) - batch.logProbs[1]![j]!) < 1e-4);
    });
  }));
});

test('logits processing: repetition penalty divides positive and multiplies negative logits; top-k / top-p limits', () => {
  const l = new Float32Array([2, -2, 1, 0.5]);
  applyRepetitionPenalty(l, [0, 1], 2);
  assert.deepEqual(Array.from(l), [1, -4, 1, 0.5]);
  const logits = new Float32Array([1, 3, 2, 0, 2.5]);
  const rng = new Rng(1);
  for (let i = 0; i < 50; i++) {
    assert.equal(sampleToken(logits, { doSample: true, topK: 1 }, rng), 1);
    assert.equal(sampleToken(logits, { doSample: true, topP: 0.1 }, rng), 1);
    assert.ok([1, 4].includes(sampleToken(logits, { doSample: true, topK: 2, temperature: 5 }, rng)));
  }
  assert.equal(sampleToken(logits, {}, rng), 1, 'greedy by default');
  // top-p keeps the smallest prefix reaching the mass: p = softmax → [.06, .43, .16, .02, .26]; 0.6 keeps {1, 4}
  const counts = new Map<number, number>();
  for (let i = 0; i < 2000; i++) { const t = sampleToken(logits, { doSample: true, topP: 0.6 }, rng); counts.set(t, (counts.get(t) ?? 0) + 1); }
  assert.deepEqual([...counts.keys()].sort(), [1, 4]);
  // exact ids for a fixed seed, independent of any model numerics. These are this sampler's own output, recorded: a
  // regression pin on the RNG stream and the processing order, not an independent oracle (the counts above are)
  const seq = Array.from({ length: 12 }, ((r) => () => sampleToken(logits, { doSample: true, temperature: 0.9, topK: 4, topP: 0.95 }, r))(new Rng(42)));
  assert.deepEqual(seq, [4, 1, 1, 2, 1, 1, 1, 1, 2, 1, 1, 1]);
});

/** Logits of the next token after `seq` by a full forward pass (no cache), with HF's repetition penalty over `seq`. */
function nextLogits(m: LlamaForCausalLM, seq: number[], penalty: number): Float32Array {
  return noGrad(() => tidy(() => {
    const all = m.forward({ ids: i32T(seq, [1, seq.length]) }).f32();
    const V = m.config.vocabSize, l = all.slice((seq.length - 1) * V, seq.length * V);
    for (const id of new Set(seq)) l[id] = l[id]! > 0 ? l[id]! / penalty : l[id]! * penalty;
    return l;
  }));
}

test('greedy generation picks the argmax of the (penalised) full-forward logits at every step', () => {
  const m = model();
  const prompts = [[5, 9, 2, 7, 1, 3], [8, 4]];
  for (const penalty of [1, 1.3]) {
    const g = generate(m, prompts, { maxNewTokens: 10, repetitionPenalty: penalty });
    prompts.forEach((p, r) => g.ids[r]!.forEach((id, j) => {
      const l = nextLogits(m, [...p, ...g.ids[r]!.slice(0, j)], penalty);
      let best = 0;
      for (let v = 1; v < l.length; v++) if (l[v]! > l[best]!) best = v;
      assert.ok(id === best || l[best]! - l[id]! < 1e-4, `row ${r} step ${j}: chose ${id}, argmax ${best}`);
    }));
  }
});

test('fixed-seed sampling returns exact ids (reference backend); another seed differs', () => {
  withBackend(referenceBackend, () => {
    const m = model(5);
    const opts = { maxNewTokens: 12, doSample: true, temperature: 0.8, topK: 20, topP: 0.9, repetitionPenalty: 1.2, seed: 1234 };
    const a = generate(m, [[1, 2, 3], [7]], opts);
    // recorded from this implementation (a regression pin, not an oracle); what makes them legitimate is checked below:
    // each id lies in the top-20 of the penalised logits and inside the top-p 0.9 nucleus of the temperature-0.8 distribution
    assert.deepEqual(a.ids, [[27, 27, 27, 1, 16, 39, 39, 33, 42, 39, 8, 32], [31, 37, 47, 14, 39, 6, 3, 37, 7, 39, 39, 10]]);
    [[1, 2, 3], [7]].forEach((p, r) => a.ids[r]!.forEach((id, j) => {
      const l = nextLogits(m, [...p, ...a.ids[r]!.slice(0, j)], 1.2);
      const order = [...l.keys()].sort((x, y) => l[y]! - l[x]!).slice(0, 20);
      assert.ok(order.includes(id), `row ${r} step ${j}: ${id} outside the top 20`);
      const w = order.map((v) => Math.exp((l[v]! - l[order[0]!]!) / 0.8)), z = w.reduce((s, x) => s + x, 0);
      const above = order.slice(0, order.indexOf(id)).reduce((s, _, k) => s + w[k]! / z, 0);
      assert.ok(above < 0.9 + 1e-6, `row ${r} step ${j}: ${id} outside the 0.9 nucleus (mass above it ${above})`);
    }));
    assert.deepEqual(generate(m, [[1, 2, 3], [7]], opts).ids, a.ids);
    assert.notDeepEqual(generate(m, [[1, 2, 3], [7]], { ...opts, seed: 99 }).ids, a.ids);
  });
});

test('EOS, stop strings, max new tokens, streaming callback and text', () => {
  const m = model();
  const decode = (ids: number[]) => ids.map((i) => String.fromCharCode(97 + (i % 26))).join('');
  const free = generate(m, [[1, 2, 3]], { maxNewTokens: 8, decode });
  assert.equal(free.ids[0]!.length, 8);
  assert.equal(free.finishReasons[0], 'length');
  assert.equal(free.text![0], decode(free.ids[0]!));
  const eosId = free.ids[0]![3]!;
  const firstEos = free.ids[0]!.indexOf(eosId);
  const e = generate(m, [[1, 2, 3]], { maxNewTokens: 8, eosTokenIds: [eosId] });
  assert.deepEqual(e.ids[0], free.ids[0]!.slice(0, firstEos + 1));
  assert.equal(e.finishReasons[0], 'eos');
  const stop = free.text![0]!.slice(2, 4);
  const events: number[] = [];
  const s = generate(m, [[1, 2, 3]], { maxNewTokens: 8, decode, stopStrings: [stop], onToken: (ev) => { events.push(ev.id); assert.equal(ev.text, decode(events)); } });
  assert.equal(s.finishReasons[0], 'stop');
  assert.ok(s.text![0]!.endsWith(stop) && s.ids[0]!.length <= 4);
  assert.deepEqual(events, s.ids[0]);
  assert.deepEqual(generate(m, [[1]], { maxNewTokens: 0 }).ids, [[]]);
  assert.throws(() => generate(m, [[1, 99]], { maxNewTokens: 1 }), /\[generate\] token id 99 outside the vocabulary/);
  assert.throws(() => generate(m, [[1, 2]], { maxNewTokens: 63 }), /\[generate\] a prompt of 2 tokens \+ 63 new tokens exceeds maxPositions 64/);
});

test('generation keeps memory flat: a second identical run allocates no new pooled buffers', () => {
  const m = model();
  const run = () => generate(m, [[1, 2, 3], [4]], { maxNewTokens: 16 });
  run();
  const before = poolStats().allocated;
  run();
  assert.equal(poolStats().allocated - before, 0);
  noGrad(() => tidy(() => slice(m.forward({ ids: i32T([1], [1, 1]) }), 1, 0, 1)));
});

test('greedy decoding over q8_0 / q4_0 weights: every row of a batch of 12 (one-token or left-padded prompts) gives the tokens (and log-probs) of batch 1', async () => {
  // batches of 5..16 rows take the batched VNNI matvec (native/src/avx512/quant_batch_avx512.cc) where the CPU has it,
  // batch 1 the one-row kernel: same integer block sums, another f32 order, so the same greedy tokens
  const { toWeightFormat } = await import('../../src/ops/quant.js');
  const qc: LlamaConfig = { ...cfg, hiddenSize: 64, intermediateSize: 96, maxPositions: 64 };
  for (const fmt of ['q8_0', 'q4_0'] as const) {
    const m = model(5, qc);
    for (const [n, p] of m.namedParameters())
      if (p.rank === 2 && !n.includes('embed_tokens')) m.replaceParameter(n, toWeightFormat(p, fmt));
    assert.ok(m.namedParameters().some(([n, p]) => n.endsWith('down_proj.weight') && p.dtype === fmt));
    const r = new Rng(11);
    // one-token prompts (a prefill of 12 rows), then left-padded prompts of 1–7 tokens (a prefill of 12 × 7 rows,
    // the tiled kernel, while each prompt alone takes the one-row or batched kernel): x is quantized per row the
    // same way on every path, so the tokens agree. (Before the integer prefill, more than 16 rows took the f32 GEMM
    // and row 6 of the padded batch picked other tokens.)
    const cases = [Array.from({ length: 12 }, () => [r.int(qc.vocabSize)]),
      Array.from({ length: 12 }, (_, i) => Array.from({ length: 1 + ((i * 5) % 7) }, () => r.int(qc.vocabSize)))];
    const opts = { maxNewTokens: 12 };
    for (const prompts of cases) {
      const batch = generate(m, prompts, opts);
      let close = 0;
      prompts.forEach((p, i) => {
        const one = generate(m, [p], opts);
        assert.deepEqual(batch.ids[i], one.ids[0], `${fmt} prompt of ${p.length}: row ${i}`);
        const d = diff(batch.logProbs[i]!, one.logProbs[0]!).maxAbs;
        assert.ok(d < 5e-2, `${fmt} prompt of ${p.length}: row ${i} log-probs differ by ${d}`);
        if (d < 1e-4) close++;
      });
      // the kernels sum in different f32 orders; where that flips the int8 rounding of one activation downstream
      // (seen once in 24 padded rows: 4.5e-3; with the strip batch kernel once in 12 one-token rows, at the 11th new
      // token: 2.4e-2, where the one-row kernel and the reference agree and the batch kernel is the one that rounds
      // the other way, although it is the closer of the two to the reference's f64 sums) a log-prob moves by
      // 1e-3 – 3e-2; elsewhere they agree to f32 rounding
      assert.ok(close >= prompts.length - 2, `${fmt}: only ${close} of ${prompts.length} rows' log-probs within 1e-4`);
      // not a degenerate model: the rows do not all repeat one token
      assert.ok(new Set(batch.ids.flat()).size > 5, `${fmt}: ${JSON.stringify(batch.ids)}`);
    }
  }
});

test('top-k selection without a full sort gives the first k ids of the stable descending sort (ties included)', () => {
  const r = new Rng(4);
  for (let trial = 0; trial < 60; trial++) {
    const V = 1 + r.int(300);
    // few distinct values, so ties at the k-th place are common
    const x = Float32Array.from({ length: V }, () => r.int(trial % 2 ? 7 : 1000) - 3);
    const sorted = Array.from({ length: V }, (_, i) => i).sort((a, b) => x[b]! - x[a]! || a - b);
    for (const k of [1, 2, Math.max(1, V >> 1), Math.max(1, V - 1), V]) {
      const got = topKIds(x, k).sort((a, b) => x[b]! - x[a]! || a - b);
      assert.deepEqual(got, sorted.slice(0, k), `V=${V} k=${k}`);
    }
  }
});
