// generate.ts — autoregressive generation with the KV cache: a prefill over the left-padded prompts (in passes of
// whole positions when long), then one token per step. Logits processing (HF transformers' order and semantics:
// repetition penalty over every token already in the row, then temperature, top-k, top-p; greedy when not
// sampling) is sampling.ts, re-exported here.
// Stops per row on EOS, stop strings or max new tokens; a finished row leaves the batch (and the KV cache).
// Sampling is seeded (util/rng.ts); runs under noGrad with one tidy() per step so memory stays flat.
// It does not tokenize: prompts are ids, and text comes from the decode function the caller passes.
import { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import { noGrad } from '../autograd/grad-mode.js';
import { slice } from '../ops/index.js';
import { Rng } from '../util/rng.js';
import { backend } from '../backend/index.js';
import { phase, profileStep } from '../backend/profile.js';
import { applyRepetitionPenalty, sampleTokenWithLogProb, type SamplingOptions } from './sampling.js';
import type { KvCache, LlamaForCausalLM } from './llama.js';

export { applyRepetitionPenalty, logSoftmaxAt, sampleToken, sampleTokenWithLogProb, topKIds, type SamplingOptions } from './sampling.js';

export interface TokenEvent {
  row: number;
  /** index of this token among the row's new tokens */
  index: number;
  id: number;
  logProb: number;
  /** the row's text so far, when a decode function was given */
  text?: string;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  eosTokenIds?: number[];
  /** stop a row once its generated text contains one of these (needs decode) */
  stopStrings?: string[];
  decode?: (ids: number[]) => string;
  /** fills the padding positions of shorter prompts (defaults to the first eos id, else 0) */
  padTokenId?: number;
  seed?: number;
  /** streaming: called for every new token, in order */
  onToken?: (e: TokenEvent) => void;
}

export type FinishReason = 'eos' | 'stop' | 'length';

export interface GenerateResult {
  /** the new tokens of each row (EOS included when it ended the row) */
  ids: number[][];
  /** log p(token) under the model's unprocessed distribution (log-softmax of the raw logits), per new token */
  logProbs: number[][];
  /**
   * log q(token) under the distribution the token was actually drawn from (repetition penalty, temperature, top-k,
   * top-p applied and renormalised); 0 for a greedy choice. What an importance ratio must be taken against.
   */
  sampleLogProbs: number[][];
  text?: string[];
  finishReasons: FinishReason[];
}

/**
 * Rows (B × positions) one prefill pass takes at most: with activations freed layer by layer, a pass holds one
 * layer's (~94 KB a row at the Qwen2.5-0.5B shape), so this bounds the prefill's memory whatever B·P is, while
 * keeping each pass tall enough for the GEMM (and above the quantized matvec's 16 rows).
 */
export const PREFILL_CHUNK_ROWS = 256;

/**
 * Prefill `cache` with left-padded prompts (positions counted from each row's first real token) and return the logits
 * of the last position (B, 1, V). Longer than chunkRows rows in all, it runs in passes of whole positions of nearly
 * equal length, each attending over what the cache already holds.
 */
export function prefill(model: LlamaForCausalLM, cache: KvCache, prompts: number[][], pad: number, chunkRows = PREFILL_CHUNK_ROWS): Tensor {
  const B = prompts.length, P = Math.max(...prompts.map((p) => p.length));
  const padded = prompts.some((p) => p.length !== P);
  const passes = Math.max(1, Math.min(P, Math.ceil((B * P) / chunkRows)));
  let logits: Tensor | null = null;
  for (let i = 0, t0 = 0; i < passes; i++) {
    const T = Math.floor((P * (i + 1)) / passes) - t0;
    const r = tidy(() => {
      const ids = Tensor.empty([B, T], 'i32'), pos = Tensor.empty([B * T], 'i32'), mask = Tensor.empty([B, T], 'i32');
      const idv = ids.data as Int32Array, pv = pos.data as Int32Array, mv = mask.data as Int32Array;
      prompts.forEach((p, b) => {
        const off = P - p.length;
        for (let j = 0; j < T; j++) {
          const t = t0 + j;
          idv[b * T + j] = t < off ? pad : p[t - off]!;
          pv[b * T + j] = t < off ? 0 : t - off;
          mv[b * T + j] = t < off ? 0 : 1;
        }
      });
      const h = model.hidden({ ids, positions: pos, keyMask: padded ? mask : null, cache }); // (B, T, C)
      return t0 + T === P ? model.logits(slice(h, 1, T - 1, T)) : null; // (B, 1, V)
    });
    if (r) logits = r;
    t0 += T;
  }
  return logits!;
}

/** Generate continuations of several prompts (token ids) in one left-padded batch. */
export function generate(model: LlamaForCausalLM, prompts: number[][], opts: GenerateOptions): GenerateResult {
  const B = prompts.length;
  if (B === 0) return { ids: [], logProbs: [], sampleLogProbs: [], finishReasons: [] };
  if (prompts.some((p) => p.length === 0)) throw new Error('[generate] every prompt needs at least one token');
  const V = model.config.vocabSize;
  for (const p of prompts) for (const id of p) if (!(Number.isInteger(id) && id >= 0 && id < V))
    throw new Error(`[generate] token id ${id} outside the vocabulary (${V})`);
  if (opts.stopStrings?.length && !opts.decode) throw new Error('[generate] stopStrings need a decode function');
  const maxNew = opts.maxNewTokens;
  if (!(Number.isInteger(maxNew) && maxNew >= 0)) throw new Error(`[generate] maxNewTokens must be a non-negative integer, got ${maxNew}`);
  const eos = new Set(opts.eosTokenIds ?? []);
  const pad = opts.padTokenId ?? opts.eosTokenIds?.[0] ?? 0;
  const penalty = opts.repetitionPenalty ?? 1;
  const rng = new Rng(opts.seed ?? 0);
  const P = Math.max(...prompts.map((p) => p.length));
  if (P + maxNew > model.config.maxPositions)
    throw new Error(`[generate] a prompt of ${P} tokens + ${maxNew} new tokens exceeds maxPositions ${model.config.maxPositions}`);
  const padded = prompts.some((p) => p.length !== P);

  const out: number[][] = prompts.map(() => []);
  const logProbs: number[][] = prompts.map(() => []);
  const sampleLogProbs: number[][] = prompts.map(() => []);
  const reasons: (FinishReason | null)[] = prompts.map(() => null);
  const seen = prompts.map((p) => new Set(p));
  const nextPos = prompts.map((p) => p.length);
  const texts: string[] = prompts.map(() => '');
  if (maxNew === 0) return finish();

  const cache = model.newCache(B, P + maxNew);
  const row = new Float32Array(V);
  noGrad(() => {
    let last = phase('prefill', () => prefill(model, cache, prompts, pad)); // (B, 1, V)
    // act[i]: the prompt row at batch position i. Rows that finish leave the batch (and the cache) before the next
    // step, so later steps compute only the rows still running; positions keep the prompts' order, so sampling
    // draws from the generator in the same order as it would with every row present.
    let act = prompts.map((_, b) => b);
    const next = new Int32Array(B), sampleLp = new Float64Array(B);
    const lps = new Float32Array(B), lse = new Float32Array(B);
    for (let step = 0; step < maxNew; step++) {
      const lv = last.f32('generate'), n = act.length;
      phase('sample', () => {
        for (let i = 0; i < n; i++) {
          const b = act[i]!;
          // the penalty edits a copy; without one the row is read in place
          let x = lv.subarray(i * V, (i + 1) * V);
          if (penalty !== 1) { row.set(x); applyRepetitionPenalty(row, seen[b]!, penalty); x = row; }
          const s = sampleTokenWithLogProb(x, opts, rng);
          next[i] = s.id;
          sampleLp[i] = s.logProb;
        }
      });
      // log p under the raw logits: one pass of the backend over the running rows
      phase('logprob', () => backend().gatherLogProbsForward(lv, next, lps, lse, n, V));
      for (let i = 0; i < n; i++) {
        const b = act[i]!, id = next[i]!, lp = lps[i]!;
        out[b]!.push(id);
        logProbs[b]!.push(lp);
        sampleLogProbs[b]!.push(sampleLp[i]!);
        seen[b]!.add(id);
        if (opts.decode) texts[b] = opts.decode(out[b]!);
        const ev: TokenEvent = { row: b, index: out[b]!.length - 1, id, logProb: lp };
        if (opts.decode) ev.text = texts[b]!;
        opts.onToken?.(ev);
        if (eos.has(id)) reasons[b] = 'eos';
        else if (opts.stopStrings?.some((s) => texts[b]!.includes(s))) reasons[b] = 'stop';
        else if (out[b]!.length >= maxNew) reasons[b] = 'length';
      }
      last.dispose();
      const keep: number[] = [];
      for (let i = 0; i < n; i++) if (!reasons[act[i]!]) keep.push(i);
      if (!keep.length) return;
      if (keep.length < n) {
        cache.keepRows(keep);
        const ids = keep.map((i) => next[i]!);
        next.set(ids);
        act = keep.map((i) => act[i]!);
      }
      profileStep();
      const m = act.length;
      last = tidy(() => {
        const ids = Tensor.empty([m, 1], 'i32'), pos = Tensor.empty([m], 'i32'), mask = Tensor.empty([m, 1], 'i32');
        (ids.data as Int32Array).set(next.subarray(0, m));
        for (let i = 0; i < m; i++) (pos.data as Int32Array)[i] = nextPos[act[i]!]!++;
        (mask.data as Int32Array).fill(1);
        const h = phase('forward', () => model.hidden({ ids, positions: pos, keyMask: padded ? mask : null, cache })); // (m, 1, C)
        return phase('head', () => model.logits(h)); // (m, 1, V)
      });
    }
    last.dispose();
  });
  return finish();

  function finish(): GenerateResult {
    const r: GenerateResult = { ids: out, logProbs, sampleLogProbs, finishReasons: reasons.map((x) => x ?? 'length') };
    if (opts.decode) r.text = out.map((ids) => opts.decode!(ids));
    return r;
  }
}
