// gguf-qwen3.test.ts — GGUF "qwen3": our export → our load gives back the model exactly (per-head q/k norms, a head
// dim other than hidden / heads, tied and untied heads), a saved Qwen3 directory exports as qwen3, bad headers are
// refused naming the key; and llama.cpp (node-llama-cpp, dev-only; skipped with the reason when absent) runs our
// Qwen3 GGUF to the same next-token probabilities and greedy tokens as our engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { byteLevelVocab, exportModelDirToGguf, writeModelGguf } from '../../src/model/gguf-export.js';
import { configFromGguf, loadGguf } from '../../src/model/gguf-load.js';
import { readGgufHeader } from '../../src/model/gguf.js';
import { saveModelDir } from '../../src/model/model-dir.js';
import { generate } from '../../src/model/generate.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { tidy } from '../../src/tensor/scope.js';
import { exactContextOptions, loadLlamaCpp } from '../../src/cli/llama-cpp-ref.js';
import { i32T, Rng, tempDir } from '../helpers.js';

const ref = await loadLlamaCpp();
const skip = ref.llama ? false : ref.reason;
const tmp = () => tempDir('zj-gguf-qwen3-');
const quiet = { warn: () => {} };
const V = 300;
// Qwen3-0.6B's oddity in small: head dim 32 with hidden 64 / 4 heads = 16 (the real one: 128 with 1024 / 16 = 64)
const qwen3: LlamaConfig = {
  ...presets.tiny, vocabSize: V, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 32,
  qkNorm: true, attentionBias: false, tieWordEmbeddings: true, ropeTheta: 1e6, rmsNormEps: 1e-6, maxPositions: 128,
};
const variants: [string, LlamaConfig][] = [
  ['tied, head dim 32 ≠ 64/4', qwen3],
  ['untied, head dim = hidden/heads, MQA', { ...qwen3, headDim: undefined, tieWordEmbeddings: false, numKvHeads: 1 }],
];

/** Random weights scaled up so the distributions are peaked; norms (q_norm / k_norm too) away from 1. */
function randomModel(cfg: LlamaConfig, seed: number): LlamaForCausalLM {
  const m = new LlamaForCausalLM(cfg, seed);
  const rng = new Rng(seed);
  for (const [n, p] of m.namedParameters()) {
    const d = p.f32();
    for (let i = 0; i < d.length; i++) d[i] = n.endsWith('norm.weight') ? 1 + 0.3 * rng.normal() : d[i]! * 20;
  }
  return m;
}

function logits(m: LlamaForCausalLM, ids: number[]): Float32Array {
  return noGrad(() => tidy(() => Float32Array.from(m.forward({ ids: i32T(ids, [1, ids.length]) }).f32())));
}

function probs(lg: Float32Array): Float64Array {
  let mx = -Infinity;
  for (const x of lg) mx = Math.max(mx, x);
  let z = 0;
  for (const x of lg) z += Math.exp(x - mx);
  return Float64Array.from(lg, (x) => Math.exp(x - mx) / z);
}

const strip = (c: LlamaConfig) => JSON.parse(JSON.stringify({ ...c, bosTokenId: undefined, eosTokenId: undefined })) as unknown;

for (const [label, cfg] of variants) {
  test(`gguf qwen3: f32 export → load is exact (${label}): keys, q/k norm tensors, config, weights, logits`, () => {
    const m = randomModel(cfg, 11);
    const path = join(tmp(), 'q3.gguf');
    const info = writeModelGguf(path, m, byteLevelVocab(V), { type: 'f32' });
    assert.equal(info.architecture, 'qwen3');
    const h = readGgufHeader(path);
    assert.equal(h.kv.get('general.architecture'), 'qwen3');
    const D = cfg.headDim ?? cfg.hiddenSize / cfg.numHeads;
    assert.equal(h.kv.get('qwen3.attention.key_length'), D);
    assert.equal(h.kv.get('qwen3.attention.value_length'), D);
    assert.equal(h.kv.get('qwen3.rope.dimension_count'), D);
    assert.deepEqual(h.tensors.find((t) => t.name === 'blk.1.attn_q_norm.weight')?.dims, [D]);
    assert.deepEqual(h.tensors.find((t) => t.name === 'blk.1.attn_k_norm.weight')?.dims, [D]);
    assert.deepEqual(h.tensors.find((t) => t.name === 'blk.0.attn_q.weight')?.dims, [cfg.hiddenSize, cfg.numHeads * D]);
    assert.equal(h.tensors.some((t) => t.name.endsWith('.bias')), false);
    const md = loadGguf(path, quiet);
    assert.equal(md.architecture, 'Qwen3ForCausalLM');
    assert.deepEqual(strip(md.model.config), strip(cfg));
    const orig = new Map(m.namedParameters());
    for (const [n, p] of md.model.namedParameters()) assert.deepEqual(p.f32(), orig.get(n)!.f32(), n);
    assert.deepEqual(logits(md.model, [5, 17, 200, 3]), logits(m, [5, 17, 200, 3]));
  });
}

test('gguf qwen3: a saved Qwen3 model directory exports as qwen3 (export gguf) and loads back to the same logits', () => {
  const dir = tmp();
  const m = randomModel(qwen3, 12);
  saveModelDir(dir, m);
  const path = join(dir, 'm.gguf');
  const info = exportModelDirToGguf(dir, path, 'f32');
  assert.equal(info.architecture, 'qwen3');
  const md = loadGguf(path, quiet);
  assert.equal(md.architecture, 'Qwen3ForCausalLM');
  assert.deepEqual(logits(md.model, [1, 2, 3, 250]), logits(m, [1, 2, 3, 250]));
});

test('gguf qwen3: header refusals name the key: value_length ≠ key_length, rope dims ≠ head dim, missing q/k norms; export refuses biases', () => {
  const header = (extra: [string, unknown][], names = ['blk.0.attn_q_norm.weight', 'blk.0.attn_k_norm.weight']) => ({
    path: 'h.gguf', version: 3, dataStart: 0,
    tensors: [{ name: 'token_embd.weight', dims: [64, 100], type: 0, offset: 0, byteLength: 0 },
      ...names.map((name) => ({ name, dims: [32], type: 0, offset: 0, byteLength: 0 }))],
    kv: new Map<string, unknown>([['general.architecture', 'qwen3'], ['qwen3.embedding_length', 64], ['qwen3.block_count', 2],
      ['qwen3.attention.head_count', 4], ['qwen3.feed_forward_length', 96], ...extra]),
  });
  const c = configFromGguf(header([['qwen3.attention.key_length', 32], ['qwen3.attention.value_length', 32]])).config;
  assert.equal(c.headDim, 32);
  assert.equal(c.qkNorm, true);
  assert.equal(configFromGguf(header([])).config.headDim, undefined, 'no key_length: hidden / heads');
  assert.throws(() => configFromGguf(header([['qwen3.attention.key_length', 32], ['qwen3.attention.value_length', 16]])),
    /\[gguf load\] h\.gguf: qwen3\.attention\.value_length: 16 differs from key_length 32/);
  assert.throws(() => configFromGguf(header([['qwen3.attention.key_length', 32], ['qwen3.rope.dimension_count', 16]])),
    /qwen3\.rope\.dimension_count: 16 differs from the head dim 32 \(partial RoPE is not supported\)/);
  assert.throws(() => configFromGguf(header([['qwen3.attention.key_length', 31]])), /qwen3\.attention\.key_length: expected a positive even integer, got 31/);
  assert.throws(() => configFromGguf(header([], ['blk.0.attn_q_norm.weight'])), /blk\.0\.attn_k_norm\.weight: missing; a qwen3 file has per-head q\/k norms/);
  assert.throws(() => writeModelGguf(join(tmp(), 'x.gguf'), new LlamaForCausalLM({ ...qwen3, attentionBias: true }, 1), byteLevelVocab(V), { architecture: 'Qwen3ForCausalLM' }),
    /\[gguf export\] Qwen3ForCausalLM with q\/k\/v biases/);
});

const prompts = [[5, 17, 200, 33, 100, 7], [1], [250, 251, 252, 253, 254, 255, 256, 3, 9, 27, 81, 243], [42, 42, 42]];

for (const [label, cfg] of variants) {
  test(`gguf qwen3: llama.cpp runs our Qwen3 GGUF (${label}) to the same next-token probabilities and greedy tokens`, { skip }, async () => {
    const m = randomModel(cfg, 13);
    const path = join(tmp(), 'q3.gguf');
    writeModelGguf(path, m, byteLevelVocab(V), { type: 'f32' });
    const model = await ref.llama!.loadModel({ modelPath: path });
    // one thread: llama.cpp's spinning thread barrier collapses when the 2 shared cores are busy
    const ctx = await model.createContext(exactContextOptions(128, 1));
    let worst = 0;
    try {
      const seq = ctx.getSequence();
      for (const p of prompts) {
        const res = await seq.controlledEvaluate(p.map((t, i) => i < p.length - 1 ? t
          : [t, { generateNext: { probabilities: true, options: { temperature: 1, topK: V, topP: 1, minP: 0 } } }]));
        const theirs = res[p.length - 1]!.next!.probabilities!;
        const ours = probs(logits(m, p).subarray((p.length - 1) * V));
        for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(ours[v]! - (theirs.get(v) ?? 0)));
        await seq.clearHistory();
        const tokens: number[] = [];
        for await (const t of seq.evaluate(p, { temperature: 0 })) { tokens.push(t); if (tokens.length >= 12) break; }
        await seq.clearHistory();
        // llama.cpp stops before an end-of-generation token (the byte vocabulary's eos is id 256)
        const mine = generate(m, [p], { maxNewTokens: 12 }).ids[0]!;
        const eos = mine.indexOf(256);
        assert.deepEqual(tokens, eos >= 0 ? mine.slice(0, eos) : mine, `greedy continuation of [${p}]`);
        assert.ok(tokens.length >= 4, `greedy continuation of [${p}]: only ${tokens.length} tokens compared`);
      }
    } finally {
      await ctx.dispose();
      await model.dispose();
    }
    assert.ok(worst < 1e-4, `max |p_ours - p_llama.cpp| = ${worst.toExponential(2)}`);
    console.log(`# qwen3 ${label}: max |p_ours - p_llama.cpp| = ${worst.toExponential(2)} over ${prompts.length} prompts; greedy continuations identical`);
  });
}
