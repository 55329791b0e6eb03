// bf16.ts — the reference backend's view of the shared bf16 bit conversions (src/util/bf16.ts holds them).
export { f32ToBf16Bits, bf16BitsToF32, roundBf16 } from '../../util/bf16.js';
