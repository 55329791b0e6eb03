// gguf-rope.test.ts — rope_scaling through GGUF: an HF-directory model with linear, llama3 or dynamic scaling, exported
// by `export gguf` and loaded back, gives the directory model's logits (dynamic past its trained length too); the file
// holds what llama.cpp reads (scaling keys; llama3's rope_freqs.weight factors as convert_hf_to_gguf computes them);
// llama3's parameters are recovered from the factors alone (a llama.cpp-converted file); what cannot be carried is
// refused naming the field; and llama.cpp (node-llama-cpp, dev-only; skipped with the reason when absent) runs the linear
// and llama3 files to our next-token probabilities.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlamaForCausalLM, presets, type LlamaConfig, type RopeScaling } from '../../src/model/llama.js';
import { byteLevelVocab, exportModelDirToGguf, writeModelGguf } from '../../src/model/gguf-export.js';
import { loadGguf } from '../../src/model/gguf-load.js';
import { llama3FreqFactors, llama3FromFactors, ROPE_FREQS } from '../../src/model/gguf-rope.js';
import { loadModelDir, saveModelDir } from '../../src/model/model-dir.js';
import { readGgufHeader, readGgufTensor } from '../../src/model/gguf.js';
import { defaultInvFreq, ropeInvFreq } from '../../src/model/rope-scaling.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { tidy } from '../../src/tensor/scope.js';
import { exactContextOptions, loadLlamaCpp } from '../../src/cli/llama-cpp-ref.js';
import { i32T, Rng } from '../helpers.js';

// head dim 16, theta 10000: wavelengths 6.3, 20, 63, 199, 628, 1987, 6283, 19869
const base: LlamaConfig = { ...presets.tiny, vocabSize: 300, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 16, ropeTheta: 10000 };
// band [2048/8, 2048/1] = [256, 2048]: dims 4 and 5 interpolated, 6 and 7 slowed by 8, 0–3 kept
const LLAMA3: RopeScaling = { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 8, originalMaxPositions: 2048 };
const quiet = { warn: () => {} };

function logits(m: LlamaForCausalLM, ids: number[]): Float32Array {
  return noGrad(() => tidy(() => Float32Array.from(m.forward({ ids: i32T(ids, [1, ids.length]) }).f32())));
}
const ids = (n: number) => Array.from({ length: n }, (_, i) => (i * 37 + 5) % 300);

for (const [label, scaling, len] of [
  ['linear (factor 4)', { type: 'linear', factor: 4 }, 12],
  ['llama3 (factor 8, band 256…2048)', LLAMA3, 12],
  ['dynamic (factor 2), 24 tokens past the trained 16', { type: 'dynamic', factor: 2 }, 24],
] as [string, RopeScaling, number][]) {
  test(`gguf rope: ${label}: HF directory → export gguf → load gives the directory model's logits`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'zj-ggufrope-'));
    try {
      const cfg: LlamaConfig = { ...base, ropeScaling: scaling };
      saveModelDir(join(dir, 'hf'), new LlamaForCausalLM(cfg, 3));
      const hf = loadModelDir(join(dir, 'hf'), { weights: 'f32' });
      assert.deepEqual(hf.model.config.ropeScaling, scaling, 'the directory keeps its scaling');
      const info = exportModelDirToGguf(join(dir, 'hf'), join(dir, 'm.gguf'), 'f32');
      const g = loadGguf(join(dir, 'm.gguf'), { ...quiet, weights: 'f32' });
      assert.deepEqual(g.model.config.ropeScaling, scaling, 'the GGUF gives the same scaling back');
      const want = logits(hf.model, ids(len)), got = logits(g.model, ids(len));
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i]! - got[i]!));
      assert.ok(worst <= 1e-5, `largest logit difference ${worst}`);
      // and the scaling matters: the same weights under plain RoPE give other logits
      const plain = new LlamaForCausalLM({ ...cfg, ropeScaling: null, maxPositions: 32 }, 3);
      if (scaling.type === 'dynamic') assert.ok(Math.abs(logits(plain, ids(len))[len * 300 - 1]! - want[len * 300 - 1]!) > 1e-4, 'dynamic changes positions past 16');
      else assert.notDeepEqual(logits(plain, ids(len)), want);
      // what llama.cpp reads
      const h = readGgufHeader(join(dir, 'm.gguf'));
      if (scaling.type === 'linear') {
        assert.equal(h.kv.get('llama.rope.scaling.type'), 'linear');
        assert.equal(h.kv.get('llama.rope.scaling.factor'), 4);
      } else if (scaling.type === 'llama3') {
        assert.equal(h.kv.get('llama.rope.scaling.type'), undefined, 'llama3 has no type key: llama.cpp reads the factors');
        assert.equal(h.kv.get('llama.rope.scaling.original_context_length'), 2048);
        const t = h.tensors.find((x) => x.name === ROPE_FREQS)!;
        assert.deepEqual(t.dims, [8]);
        const raw = readGgufTensor(h, ROPE_FREQS);
        const r = new Float32Array(raw.buffer, raw.byteOffset, 8);
        // convert_hf_to_gguf's rule by hand: 1 below the band, the factor above it, 1/((1-s)/8 + s) inside
        const plainF = defaultInvFreq(10000, 16);
        plainF.forEach((f, i) => {
          const wl = 2 * Math.PI / f;
          const s = (2048 / wl - 1) / (8 - 1);
          const want = wl < 256 ? 1 : wl > 2048 ? 8 : 1 / ((1 - s) / 8 + s);
          assert.ok(Math.abs(r[i]! - want) <= 1e-6 * want, `factor ${i}: ${r[i]} vs ${want}`);
        });
        assert.ok(r[4]! > 1 && r[4]! < 8 && r[5]! > r[4]!, 'two dims in the band');
      } else {
        assert.equal(h.kv.get('llama.rope.scaling.type'), undefined, 'llama.cpp sees plain RoPE');
        assert.equal(h.kv.get('zhongjing.rope.scaling.type'), 'dynamic');
        assert.match(info.notes.join('\n'), /llama\.cpp has no dynamic NTK scaling and runs plain RoPE.*up to context_length 16/);
      }
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
}

test('gguf rope: llama3 parameters come back from the factors alone (no original_context_length key), as equal frequencies', () => {
  const D = 16, theta = 10000;
  for (const s of [LLAMA3, { ...LLAMA3, highFreqFactor: 4, originalMaxPositions: 1024 }, { ...LLAMA3, lowFreqFactor: 2, highFreqFactor: 2.5, originalMaxPositions: 4096 }] as Extract<RopeScaling, { type: 'llama3' }>[]) {
    const c = { ropeTheta: theta, maxPositions: 64, ropeScaling: s };
    const r = llama3FreqFactors(c, D);
    // with the file's own original length and two or more dims in the band, the numbers come back as written
    const same = llama3FromFactors(r, D, theta, s.originalMaxPositions, (w) => assert.fail(w))!;
    if (s === LLAMA3) assert.deepEqual(same, s);
    // with one dim in the band (the other two) only the frequencies are determined
    const c2 = ropeInvFreq({ ...c, ropeScaling: same }, D, 1)!;
    ropeInvFreq(c, D, 1)!.forEach((v, i) => assert.ok(Math.abs(v - c2[i]!) <= 1e-6 * v, `dim ${i}`));
    // with only the context length (as a llama.cpp-converted Llama 3.1 file): another scale, the same frequencies
    const other = llama3FromFactors(r, D, theta, 64, (w) => assert.fail(w))!;
    const a = ropeInvFreq(c, D, 1)!, b = ropeInvFreq({ ...c, ropeScaling: other }, D, 1)!;
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= 1e-6 * v, `${JSON.stringify(s)} dim ${i}: ${v} vs ${b[i]}`));
  }
  // factors that are not llama3's band are refused
  const bad = Float32Array.from([1, 1, 3, 1, 8, 8, 8, 8]);
  assert.throws(() => llama3FromFactors(bad, D, theta, 2048, (w) => { throw new Error(w); }), /not llama3's/);
  assert.equal(llama3FromFactors(new Float32Array(8).fill(1), D, theta, 2048, (w) => { throw new Error(w); }), null, 'all ones: plain RoPE');
});

test('gguf rope: what llama.cpp cannot carry is refused naming the field; a stray rope_freqs is refused by name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-ggufrope-'));
  try {
    // llama3 factors are a tensor only llama.cpp's "llama" graph loads
    const qwen: LlamaConfig = { ...base, attentionBias: true, tieWordEmbeddings: true, ropeScaling: LLAMA3 };
    assert.throws(() => writeModelGguf(join(dir, 'q.gguf'), new LlamaForCausalLM(qwen, 1), byteLevelVocab(300), { architecture: 'Qwen2ForCausalLM' }),
      /\[gguf export\] rope_scaling\.rope_type llama3: llama\.cpp carries its factors as rope_freqs\.weight, which only its "llama" architecture loads \(this is "qwen2"\)/);
    // linear is carried for every architecture
    const qlin: LlamaConfig = { ...qwen, ropeScaling: { type: 'linear', factor: 2 } };
    writeModelGguf(join(dir, 'ql.gguf'), new LlamaForCausalLM(qlin, 1), byteLevelVocab(300), { architecture: 'Qwen2ForCausalLM' });
    assert.deepEqual(loadGguf(join(dir, 'ql.gguf'), quiet).model.config.ropeScaling, { type: 'linear', factor: 2 });
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

const ref = await loadLlamaCpp();

function probs(lg: Float32Array): Float64Array {
  let mx = -Infinity;
  for (const x of lg) mx = Math.max(mx, x);
  let z = 0;
  for (const x of lg) z += Math.exp(x - mx);
  return Float64Array.from(lg, (x) => Math.exp(x - mx) / z);
}

for (const scaling of [{ type: 'linear', factor: 4 }, LLAMA3] as RopeScaling[]) {
  test(`gguf rope: llama.cpp runs our ${scaling.type}-scaled GGUF to the same next-token probabilities (and plain RoPE would not)`, { skip: ref.llama ? false : ref.reason }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zj-ggufrope-'));
    const cfg: LlamaConfig = { ...base, maxPositions: 128, ropeScaling: scaling };
    // weights scaled up so the distributions are peaked and position-sensitive
    const m = new LlamaForCausalLM(cfg, 21);
    const rng = new Rng(21);
    for (const [n, p] of m.namedParameters()) { const d = p.f32(); for (let i = 0; i < d.length; i++) d[i] = n.endsWith('norm.weight') ? 1 + 0.3 * rng.normal() : d[i]! * 20; }
    const plain = new LlamaForCausalLM({ ...cfg, ropeScaling: null }, 21);
    for (const [n, p] of plain.namedParameters()) p.f32().set(new Map(m.namedParameters()).get(n)!.f32());
    const path = join(dir, 'm.gguf');
    writeModelGguf(path, m, byteLevelVocab(300), { type: 'f32' });
    const model = await ref.llama!.loadModel({ modelPath: path });
    const ctx = await model.createContext(exactContextOptions(128, 1)); // one thread: the 2 shared cores
    let worst = 0, plainGap = 0;
    try {
      const seq = ctx.getSequence();
      for (const p of [ids(40), [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]]) {
        const res = await seq.controlledEvaluate(p.map((t, i) => i < p.length - 1 ? t
          : [t, { generateNext: { probabilities: true, options: { temperature: 1, topK: 300, topP: 1, minP: 0 } } }]));
        const theirs = res[p.length - 1]!.next!.probabilities!;
        const ours = probs(logits(m, p).subarray((p.length - 1) * 300)), unscaled = probs(logits(plain, p).subarray((p.length - 1) * 300));
        for (let v = 0; v < 300; v++) {
          worst = Math.max(worst, Math.abs(ours[v]! - (theirs.get(v) ?? 0)));
          plainGap = Math.max(plainGap, Math.abs(unscaled[v]! - (theirs.get(v) ?? 0)));
        }
        await seq.clearHistory();
      }
    } finally {
      await ctx.dispose();
      await model.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.ok(worst < 1e-4, `max |p_ours - p_llama.cpp| = ${worst.toExponential(2)}`);
    assert.ok(plainGap > 100 * Math.max(worst, 1e-6), `plain RoPE differs from llama.cpp by ${plainGap.toExponential(2)}: the scaling is what agrees`);
    console.log(`# ${scaling.type}: max |p_ours - p_llama.cpp| = ${worst.toExponential(2)}; plain RoPE would differ by ${plainGap.toExponential(2)}`);
  });
}
