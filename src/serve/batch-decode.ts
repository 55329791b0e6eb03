// batch-decode.ts — serving's decode loop: several requests in one left-padded KV-cache batch, each row with its own
// sampling options, seed, EOS ids, stop strings, token budget and cancellation, finishing independently.
// model/generate.ts's generate() takes one set of options for the whole batch, so serving cannot use it for mixed
// requests; this loop shares its logits processing (model/sampling.ts) and its prefill/decode shape.
// It does not queue, tokenize or talk to threads: rows in, callbacks out.
import { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import { noGrad } from '../autograd/grad-mode.js';
import { Rng } from '../util/rng.js';
import { applyRepetitionPenalty, sampleToken, type SamplingOptions } from '../model/sampling.js';
import { prefill } from '../model/generate.js';
import type { LlamaForCausalLM } from '../model/llama.js';

export type RowFinish = 'eos' | 'stop' | 'length' | 'cancelled';

export interface DecodeRow {
  ids: number[];
  maxNewTokens: number;
  eosTokenIds: number[];
  stop: string[];
  seed: number;
  sampling: SamplingOptions;
  /** polled before each of the row's tokens; true ends the row as 'cancelled' */
  cancelled(): boolean;
  /** every new token with the row's whole decoded text so far */
  onToken(text: string, tokens: number): void;
  onFinish(finish: RowFinish, tokens: number, text: string): void;
}

/** Positions needed by a batch of these rows: the longest prompt plus the largest budget (left padding counts). */
export function batchSpan(rows: readonly { ids: number[]; maxNewTokens: number }[]): number {
  return Math.max(...rows.map((r) => r.ids.length)) + Math.max(...rows.map((r) => r.maxNewTokens));
}

/** Runs the rows to completion together; `decode` turns a row's new ids into text (for stop strings and streaming). */
export function decodeBatch(model: LlamaForCausalLM, rows: DecodeRow[], decode: (ids: number[]) => string, pad = 0): void {
  const B = rows.length;
  if (B === 0) return;
  const V = model.config.vocabSize;
  for (const r of rows) {
    if (r.ids.length === 0) throw new Error('[decodeBatch] every prompt needs at least one token');
    for (const id of r.ids) if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new Error(`[decodeBatch] token id ${id} outside the vocabulary (${V})`);
  }
  const P = Math.max(...rows.map((r) => r.ids.length));
  const padded = rows.some((r) => r.ids.length !== P);
  const state = rows.map((r) => ({
    rng: new Rng(r.seed), seen: new Set(r.ids), out: [] as number[], text: '', eos: new Set(r.eosTokenIds),
    pos: r.ids.length, done: null as RowFinish | null,
  }));
  const end = (b: number, f: RowFinish) => {
    const s = state[b]!;
    s.done = f;
    rows[b]!.onFinish(f, s.out.length, s.text);
  };
  for (let b = 0; b < B; b++) if (rows[b]!.maxNewTokens <= 0) end(b, 'length');
  if (state.every((s) => s.done)) return;

  const cache = model.newCache(B, batchSpan(rows));
  const logits = new Float32Array(V);
  noGrad(() => {
    let last: Tensor = prefill(model, cache, rows.map((r) => r.ids), pad); // (B, 1, V)
    try {
      for (;;) {
        const lv = last.f32('decodeBatch');
        const next = new Int32Array(B).fill(pad);
        for (let b = 0; b < B; b++) {
          const s = state[b]!, r = rows[b]!;
          if (s.done) continue;
          if (r.cancelled()) { end(b, 'cancelled'); continue; }
          // the penalty edits a copy; without one the row is read in place
          let x = lv.subarray(b * V, (b + 1) * V);
          const penalty = r.sampling.repetitionPenalty ?? 1;
          if (penalty !== 1) { logits.set(x); applyRepetitionPenalty(logits, s.seen, penalty); x = logits; }
          const id = sampleToken(x, r.sampling, s.rng);
          next[b] = id;
          s.out.push(id);
          s.seen.add(id);
          s.text = decode(s.out);
          r.onToken(s.text, s.out.length);
          if (s.eos.has(id)) end(b, 'eos');
          else if (r.stop.some((x) => s.text.includes(x))) end(b, 'stop');
          else if (s.out.length >= r.maxNewTokens) end(b, 'length');
        }
        last.dispose();
        if (state.every((s) => s.done)) return;
        last = tidy(() => {
          const ids = Tensor.empty([B, 1], 'i32'), pos = Tensor.empty([B], 'i32'), mask = Tensor.empty([B, 1], 'i32');
          (ids.data as Int32Array).set(next);
          for (let b = 0; b < B; b++) (pos.data as Int32Array)[b] = state[b]!.pos++;
          (mask.data as Int32Array).fill(1);
          return model.forward({ ids, positions: pos, keyMask: padded ? mask : null, cache }); // (B, 1, V)
        });
      }
    } catch (e) {
      last.dispose(); // a no-op when the step that threw had already disposed it
      throw e;
    }
  });
}
