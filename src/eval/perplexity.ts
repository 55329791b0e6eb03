// perplexity.ts — perplexity and bits per character on held-out text from per-token log-probabilities (natural
// log), through an interface any model can provide. Bits per character divide by Unicode code points of the text,
// so models with different tokenizers compare; perplexity is per token and does not. No model code here.

/** log p of every scored token of `text` (natural log) and how many leading tokens could not be scored (no BOS). */
export type TokenLogProbFn = (text: string) => { logProbs: number[]; unscored?: number } | Promise<{ logProbs: number[]; unscored?: number }>;

export interface PerplexityResult {
  texts: number;
  tokens: number;
  /** tokens with no prediction (the first token when the model has no BOS): excluded from both figures */
  unscoredTokens: number;
  chars: number;
  /** total negative log-likelihood, nats */
  nll: number;
  perplexity: number | null;
  bitsPerChar: number | null;
  bitsPerToken: number | null;
}

export async function perplexity(texts: string[], fn: TokenLogProbFn, onProgress?: (d: number, n: number) => void): Promise<PerplexityResult> {
  let tokens = 0, unscored = 0, chars = 0, nll = 0;
  let i = 0;
  for (const t of texts) {
    const r = await fn(t);
    for (const lp of r.logProbs) {
      if (!(lp <= 0) || !Number.isFinite(lp)) throw new Error(`[eval perplexity] text ${i}: log-probability ${lp} is not a finite value ≤ 0`);
      nll -= lp;
    }
    tokens += r.logProbs.length;
    unscored += r.unscored ?? 0;
    chars += [...t].length;
    onProgress?.(++i, texts.length);
  }
  return {
    texts: texts.length, tokens, unscoredTokens: unscored, chars, nll,
    perplexity: tokens ? Math.exp(nll / tokens) : null,
    bitsPerChar: chars ? nll / Math.LN2 / chars : null,
    bitsPerToken: tokens ? nll / Math.LN2 / tokens : null,
  };
}
