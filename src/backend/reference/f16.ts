// f16.ts — the reference backend's view of the shared f16 bit conversions (src/util/f16.ts holds them), under the
// names the quantized-block code uses for the scales.
export { f32ToF16Bits as f32ToF16, f16BitsToF32 as f16ToF32 } from '../../util/f16.js';
