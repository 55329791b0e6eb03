// rng.ts — a small seeded PRNG (xoshiro128** with splitmix32 seeding), normal samples and list draws (pick, shuffle,
// sample), so runs and the demo corpus are reproducible across machines; Math.random is never used for anything that must repeat.

export class Rng {
  private s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** a copy of the generator's state (activation checkpointing replays a layer's dropout draws) */
  saveState(): Uint32Array {
    return this.s.slice();
  }

  restoreState(state: Uint32Array): void {
    this.s.set(state);
  }

  /** uniform 32-bit unsigned integer */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** uniform in [0, 1) */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** true with probability p */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** one element, uniformly */
  pick<T>(a: readonly T[]): T {
    if (a.length === 0) throw new Error('[Rng] pick from an empty list');
    return a[this.int(a.length)]!;
  }

  /** a in place, in a random order (Fisher–Yates from the last element down) */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }

  /** k distinct elements of a (all of them when k ≥ a.length) in random order; a is not changed */
  sample<T>(a: readonly T[], k: number): T[] {
    return this.shuffle([...a]).slice(0, Math.min(k, a.length));
  }

  /** standard normal (Box–Muller) */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** 0..n-1 in a random order (Fisher–Yates from the last element down) */
  permutation(n: number): number[] {
    const idx = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    return idx;
  }

  /** serialisable state, for exact resume */
  state(): number[] {
    return Array.from(this.s);
  }

  setState(st: readonly number[]): void {
    if (st.length !== 4) throw new Error('[Rng] state must have 4 words');
    for (let i = 0; i < 4; i++) this.s[i] = st[i]! >>> 0;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
