// deltas.ts — turns "the whole answer decoded so far" (one string per new token) into the pieces a stream may send:
// never a piece that a later token could still change (a trailing U+FFFD is an unfinished UTF-8 character) and never
// the start of what may become a stop string, so that the streamed text always equals the final, stop-trimmed text.
// Decoding itself is the tokenizer's business; this file only compares strings.

const REPLACEMENT = '\uFFFD';

export class DeltaStream {
  /** text already handed out */
  private sent = '';

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

  /** What may be sent now, given the full text so far ('' when everything new is still uncertain). */
  push(full: string): string {
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
  finish(full: string): string {
    return this.take(this.finalText(full), Infinity);
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
