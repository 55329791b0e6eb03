// gguf-random.test.ts — the streaming random-model GGUF writer (gguf-random.ts): for LLaMA (q/k rows permuted) and
// Qwen2 (biases, tied) shapes at every output type, its file is byte for byte what gguf-export.ts's in-memory
// writer produces for a model holding the same values (so layout, alignment, metadata and quantization agree), whatever
// the chunk size; our loader reads it back with the right shapes and dtypes; llama.cpp loads it and its next-token
// distribution matches ours (skipped with the reason when node-llama-cpp is absent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { byteLevelVocab, writeModelGguf, type GgufOutType } from '../../src/model/gguf-export.js';
import { writeRandomGguf } from '../../src/model/gguf-random.js';
import { fillNormal, streamKey, tensorSpecs } from '../../src/model/random-init.js';
import { loadGguf } from '../../src/model/gguf-load.js';
import { GgmlType, readGgufHeader } from '../../src/model/gguf.js';
import { bytesByDType } from '../../src/model/weights.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { tidy } from '../../src/tensor/scope.js';
import { exactContextOptions, loadLlamaCpp } from '../../src/cli/llama-cpp-ref.js';
import { i32T } from '../helpers.js';

const V = 300;
const base: LlamaConfig = { ...presets.tiny, vocabSize: V, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 128 };
const qwen: LlamaConfig = { ...base, attentionBias: true, tieWordEmbeddings: true, numKvHeads: 1, ropeTheta: 1e6 };
const tmp = () => mkdtempSync(join(tmpdir(), 'zj-gguf-random-'));

/** The old way: the whole model in memory in f32, holding the values the streaming writer draws. */
function inMemory(cfg: LlamaConfig, seed: number): LlamaForCausalLM {
  const m = new LlamaForCausalLM(cfg, 0, { init: false });
  const params = new Map(m.namedParameters());
  for (const s of tensorSpecs(cfg)) {
    const d = params.get(s.name)!.f32();
    if (s.init.kind === 'normal') fillNormal(d, streamKey(seed, s.name), 0, s.init.std);
    else d.fill(s.init.kind === 'ones' ? 1 : 0);
  }
  return m;
}

const cases: [string, LlamaConfig][] = [['llama', base], ['qwen2', qwen], ['rows not whole blocks (f16 fallback)', { ...base, hiddenSize: 48, numHeads: 4 }]];
for (const [label, cfg] of cases) {
  test(`streamed random GGUF = the in-memory writer's file, byte for byte (${label}, every type, chunks crossing rows)`, () => {
    const dir = tmp();
    try {
      for (const type of ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'] as GgufOutType[]) {
        const a = join(dir, `mem-${type}.gguf`), b = join(dir, `stream-${type}.gguf`);
        const old = writeModelGguf(a, inMemory(cfg, 7), byteLevelVocab(V), { type });
        // 100 values a step: several rows per chunk on some tensors, a row per chunk on others
        const info = writeRandomGguf(b, cfg, { type, seed: 7, chunkValues: 100 });
        assert.ok(readFileSync(a).equals(readFileSync(b)), `${label} ${type}: files differ`);
        assert.deepEqual(info.fellBackToF16, old.fellBackToF16);
        assert.equal(info.bytes, old.bytes);
        assert.equal(info.tensors, old.tensors);
        if (label.startsWith('rows') && type.startsWith('q')) assert.ok(info.fellBackToF16.includes('model.embed_tokens.weight'));
      }
      // a different seed gives different weights (the seed reaches the draws)
      writeRandomGguf(join(dir, 's8.gguf'), cfg, { type: 'f32', seed: 8 });
      assert.ok(!readFileSync(join(dir, 's8.gguf')).equals(readFileSync(join(dir, 'stream-f32.gguf'))));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('our loader reads the streamed q4_0 file back: shapes, ggml types, dtypes held, values', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'm.gguf');
    const progress: number[] = [];
    const info = writeRandomGguf(path, base, { type: 'q4_0', seed: 3, onProgress: (p) => progress.push(p.bytesDone / p.bytesTotal) });
    assert.equal(progress.at(-1), 1);
    const h = readGgufHeader(path);
    const emb = h.tensors.find((t) => t.name === 'token_embd.weight')!;
    assert.deepEqual(emb.dims, [64, V]);
    assert.equal(emb.type, GgmlType.Q4_0);
    assert.equal(h.tensors.find((t) => t.name === 'blk.0.attn_norm.weight')!.type, GgmlType.F32);
    assert.equal(h.kv.get('general.file_type'), 2);
    const md = loadGguf(path, { weights: 'auto', warn: (l) => assert.fail(l) });
    assert.equal(md.model.numParameters(), info.parameters);
    const held = bytesByDType(md.model.parameters());
    // 2-D matrices stay in their Q4_0 blocks (embedding and untied head included); only norms are f32
    assert.equal(held.q4_0!.tensors, 2 + base.numLayers * 7);
    assert.equal(held.f32!.tensors, 1 + base.numLayers * 2);
    assert.equal(md.model.lmHead!.weight.dtype, 'q4_0');
    assert.equal(md.model.model.embedTokens.weight.dtype, 'q4_0');
    // the dequantized embedding is close to the draws (Q4_0 error is at most half a step, ~1/16 of a block's range)
    const ref = new Float32Array(V * 64);
    fillNormal(ref, streamKey(3, 'model.embed_tokens.weight'), 0, 0.02);
    const row = noGrad(() => tidy(() => Float32Array.from(md.model.model.embedTokens.forward(i32T([5], [1, 1])).f32())));
    let worst = 0;
    for (let i = 0; i < 64; i++) worst = Math.max(worst, Math.abs(row[i]! - ref[5 * 64 + i]!));
    assert.ok(worst < 0.02, `max |Δ| ${worst}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const llama = await loadLlamaCpp();
test('llama.cpp loads the streamed Qwen2 q8_0 file and its next-token log-probabilities match ours', { skip: llama.llama ? false : llama.reason }, async () => {
  const dir = tmp();
  try {
    const path = join(dir, 'm.gguf');
    writeRandomGguf(path, qwen, { type: 'q8_0', seed: 5 });
    const ours = loadGguf(path, { warn: () => {} }).model;
    const model = await llama.llama!.loadModel({ modelPath: path });
    const ctx = await model.createContext(exactContextOptions(64, 1));
    try {
      const p = [5, 17, 200, 33, 100, 7];
      const res = await ctx.getSequence().controlledEvaluate(p.map((t, i) => i < p.length - 1 ? t
        : [t, { generateNext: { probabilities: true, options: { temperature: 1, topK: V, topP: 1, minP: 0 } } }]));
      const theirs = res[p.length - 1]!.next!.probabilities!;
      const lg = noGrad(() => tidy(() => Float32Array.from(ours.forward({ ids: i32T(p, [1, p.length]) }).f32().subarray((p.length - 1) * V))));
      const mx = Math.max(...lg);
      const lse = mx + Math.log(lg.reduce((s, x) => s + Math.exp(x - mx), 0));
      let worst = 0, lo = Infinity, hi = -Infinity;
      for (let v = 0; v < V; v++) {
        const mine = lg[v]! - lse, their = Math.log(theirs.get(v) ?? 0);
        worst = Math.max(worst, Math.abs(mine - their));
        lo = Math.min(lo, mine); hi = Math.max(hi, mine);
      }
      console.log(`# max |Δ log p| ${worst.toExponential(2)}, spread of our log p ${(hi - lo).toFixed(3)}`);
      assert.ok(hi - lo > 0.1, 'the distribution is not flat (the check can fail)');
      assert.ok(worst < 0.01 * (hi - lo), `max |Δ log p| ${worst} vs spread ${hi - lo}`);
    } finally {
      await ctx.dispose();
      await model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
