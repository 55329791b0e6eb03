// deltas.ts — turns "the whole answer decoded so far" (one string per new token) into the pieces a stream may send:
// never a piece that a later token could still change (a trailing U+FFFD is an unfinished UTF-8 character) and never
// the start of what may become a stop string, so that the streamed text always equals the final, stop-trimmed text.
// A U+FFFD that is not trailing is an invalid byte sequence for good: it is left out of the text (counted in
// `invalid`) rather than shown mid-word. Decoding itself is the tokenizer's business; this file only compares strings.

const REPLACEMENT = '\uFFFD';

export class DeltaStream {
  /** text already handed out */
  private sent = '';
  /** invalid UTF-8 sequences left out of the text handed out (as of the last push/finish) */
  invalid = 0;

  constructor(private readonly stops: readonly string[]) {}

  get text(): string {
    return this.sent;
  }

  /** Index of the earliest stop string in `full`, or -1. */
  stopIndex(full: string): number {
    let best = -1;
    for (const s of this.stops) {
      const i = full.indexOf(s);
      if (i >= 0 && (best < 0 || i < best)) best = i;
    }
    return best;
  }

  /** The answer as it will finally read: cut before the first stop string. */
  finalText(full: string): string {
    const i = this.stopIndex(full);
    return i < 0 ? full : full.slice(0, i);
  }

  /** `full` without its settled U+FFFDs (counted); a trailing run is kept — push() holds it back. */
  private clean(full: string, final: boolean): string {
    let end = full.length;
    if (!final) while (end > 0 && full[end - 1] === REPLACEMENT) end--;
    const head = full.slice(0, end);
    const out = head.split(REPLACEMENT);
    this.invalid = out.length - 1;
    return out.join('') + full.slice(end);
  }

  /** What may be sent now, given the full text so far ('' when everything new is still uncertain). */
  push(raw: string): string {
    const full = this.clean(raw, false);
    const cut = this.stopIndex(full);
    let end = cut >= 0 ? cut : full.length;
    if (cut < 0) {
      // hold an unfinished character back: the next token's bytes may complete it into a different one
      while (end > 0 && full[end - 1] === REPLACEMENT) end--;
      // hold back the longest tail that a stop string starts with
      let hold = 0;
      for (const s of this.stops) {
        for (let k = Math.min(s.length - 1, end); k > hold; k--) {
          if (full.slice(end - k, end) === s.slice(0, k)) { hold = k; break; }
        }
      }
      end -= hold;
    }
    return this.take(full, end);
  }

  /** Everything not yet sent, once generation is over. */
  finish(raw: string): string {
    return this.take(this.finalText(this.clean(raw, true)), Infinity);
  }

  private take(full: string, end: number): string {
    const upTo = full.slice(0, Math.min(end, full.length));
    // decoding is prefix-stable except for unfinished characters, which push() never sends; if it ever were not,
    // sending nothing is better than sending text that contradicts what was already sent
    if (upTo.length <= this.sent.length || !upTo.startsWith(this.sent)) return '';
    const d = upTo.slice(this.sent.length);
    this.sent = upTo;
    return d;
  }
}
