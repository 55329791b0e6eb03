// generate-memory.test.ts — what a batched generate() holds at its peak grows per extra row by about one layer's
// prefill activations plus the row's logits, not by every layer's: the prefill frees each layer's activations once the
// next layer has its input (llama.ts hidden() under noGrad); past PREFILL_CHUNK_ROWS prompt rows, by nothing but its
// logits (the prefill runs in passes). Measured as the buffer pool's high-water mark, which is where activations go
// when they are freed (the KV cache is plain memory outside the pool).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { generate, PREFILL_CHUNK_ROWS } from '../../src/model/generate.js';
import { decodeBatch } from '../../src/serve/batch-decode.js';
import { clearPool, poolStats, resetPoolHighWater } from '../../src/tensor/pool.js';
import { Rng } from '../helpers.js';

const cfg: LlamaConfig = { ...presets.tiny, vocabSize: 300, hiddenSize: 64, intermediateSize: 160, numLayers: 8, numHeads: 4, numKvHeads: 2, maxPositions: 64 };
const P = 32;

/** The pool's high-water mark over one run, from an empty pool. */
function peakPooled(run: () => void): number {
  clearPool();
  resetPoolHighWater();
  run();
  return poolStats().highWaterBytes;
}

function prompts(B: number): number[][] {
  const r = new Rng(4);
  return Array.from({ length: B }, () => Array.from({ length: P }, () => r.int(cfg.vocabSize)));
}

// one layer's activations for one P-token row, generously: a dozen C-wide and three F-wide f32 vectors per token
const layerRowBytes = P * (12 * cfg.hiddenSize + 3 * cfg.intermediateSize) * 4;

test('generate(): peak pooled memory per extra row is one layer of prefill activations, not all layers', () => {
  const m = new LlamaForCausalLM(cfg, 1);
  const opts = { maxNewTokens: 4 };
  const at = (B: number) => peakPooled(() => generate(m, prompts(B), opts));
  at(2); // warm-up: lazily built state (RoPE tables, backend scratch) stays out of the comparison
  const perRow = (at(10) - at(2)) / 8;
  const logitsRow = cfg.vocabSize * 4;
  // all 8 layers' activations (the growth before the fix) would be ~8 × layerRowBytes
  assert.ok(perRow > 0, 'the measure sees the batch at all');
  assert.ok(perRow < 1.5 * layerRowBytes + 4 * logitsRow,
    `peak pooled bytes grow by ${perRow.toFixed(0)} per row; one layer's activations are ≤ ${layerRowBytes}, all ${cfg.numLayers} ${cfg.numLayers * layerRowBytes}`);
});

test('decodeBatch() (serving): the same bound per extra row', () => {
  const m = new LlamaForCausalLM(cfg, 1);
  const rows = (B: number) => prompts(B).map((ids, i) => ({
    ids, maxNewTokens: 4, eosTokenIds: [], stop: [], seed: i, sampling: { temperature: 0.8, topP: 0.9 },
    cancelled: () => false, onToken: () => {}, onFinish: () => {},
  }));
  const at = (B: number) => peakPooled(() => decodeBatch(m, rows(B), (ids) => ids.join(' ')));
  at(2);
  const perRow = (at(10) - at(2)) / 8;
  assert.ok(perRow > 0 && perRow < 1.5 * layerRowBytes + 4 * cfg.vocabSize * 4,
    `peak pooled bytes grow by ${perRow.toFixed(0)} per row; one layer's activations are ≤ ${layerRowBytes}`);
});

test('generate(): past PREFILL_CHUNK_ROWS prompt rows the prefill runs in passes, and its peak stops growing with B·P', () => {
  const m = new LlamaForCausalLM(cfg, 1);
  const B = 64;
  assert.ok(B * P >= 8 * PREFILL_CHUNK_ROWS);
  const peak = peakPooled(() => generate(m, prompts(B), { maxNewTokens: 2 }));
  // a pass holds at most PREFILL_CHUNK_ROWS rows of one layer; the exact-length pool may keep two pass sizes' buffers
  // (passes differ by a position); then the rows' logits. One pass over all B·P rows would hold 8 times a pass.
  const tokenLayerBytes = layerRowBytes / P;
  const bound = 2 * 1.25 * PREFILL_CHUNK_ROWS * tokenLayerBytes + 4 * B * cfg.vocabSize * 4;
  assert.ok(peak < bound, `peak pooled ${peak} bytes, bound ${bound.toFixed(0)}; one pass over all rows would hold ${B * P * tokenLayerBytes}`);
});
