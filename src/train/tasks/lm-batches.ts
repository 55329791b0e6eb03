// lm-batches.ts — deterministic batching for causal-LM stages: micro-batch number p maps to a fixed set of
// sequences (a seeded shuffle per epoch), so a resumed run sees exactly the data an uninterrupted one would.
// Sequences are right-padded; positions without a target get IGNORE_INDEX.
import { Tensor } from '../../tensor/tensor.js';
import { IGNORE_INDEX } from '../../ops/loss.js';
import { Rng } from '../../util/rng.js';

export interface LmSequence {
  ids: ArrayLike<number>;
  /** per token: is it a training target? (length = ids.length); all true when absent */
  lossMask?: ArrayLike<boolean | number>;
}

export interface LmMicroBatch {
  ids: Tensor;      // (B, T) i32
  targets: Tensor;  // (B, T) i32, IGNORE_INDEX where no loss
  tokens: number;   // target tokens in the batch
}

export class LmBatcher {
  private orderCache = new Map<number, Int32Array>();

  constructor(private readonly seqs: LmSequence[], private readonly batchSize: number, private readonly seed: number,
    private readonly padId = 0) {
    if (seqs.length === 0) throw new Error('[batches] no training sequences');
    if (!(batchSize >= 1)) throw new Error(`[batches] batch size must be >= 1, got ${batchSize}`);
  }

  private order(epoch: number): Int32Array {
    let o = this.orderCache.get(epoch);
    if (!o) {
      o = Int32Array.from(new Rng(this.seed * 1000003 + epoch).permutation(this.seqs.length));
      if (this.orderCache.size > 2) this.orderCache.clear();
      this.orderCache.set(epoch, o);
    }
    return o;
  }

  /** Micro-batch number p: sequences p·B … p·B+B-1 of the epoch-wise shuffled stream. */
  batch(p: number): LmMicroBatch {
    const n = this.seqs.length, B = this.batchSize;
    const picked: LmSequence[] = [];
    for (let i = 0; i < B; i++) {
      const k = p * B + i;
      picked.push(this.seqs[this.order(Math.floor(k / n))[k % n]!]!);
    }
    return collate(picked, this.padId);
  }
}

/** Right-pad sequences into (B, T) ids and next-token targets (T = longest − 1). */
export function collate(seqs: LmSequence[], padId = 0): LmMicroBatch {
  const B = seqs.length;
  const T = Math.max(...seqs.map((s) => s.ids.length)) - 1;
  if (T < 1) throw new Error('[batches] every sequence needs at least 2 tokens');
  const ids = Tensor.empty([B, T], 'i32'), targets = Tensor.empty([B, T], 'i32');
  const idv = ids.data as Int32Array, tv = targets.data as Int32Array;
  idv.fill(padId);
  tv.fill(IGNORE_INDEX);
  let tokens = 0;
  seqs.forEach((s, b) => {
    const L = s.ids.length;
    for (let t = 0; t < Math.min(L, T); t++) idv[b * T + t] = s.ids[t]!;
    for (let t = 0; t < L - 1; t++) {
      if (s.lossMask && !s.lossMask[t + 1]) continue;
      tv[b * T + t] = s.ids[t + 1]!;
      tokens++;
    }
  });
  return { ids, targets, tokens };
}
