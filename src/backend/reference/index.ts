// index.ts — the reference backend: every kernel in plain TypeScript, the definition of correct.
import type { Backend } from '../kernels.js';
import { gemm, matvec } from './gemm.js';
import { affine, binary, clamp, swigluBackward, swigluForward, unary, unaryBackward, where } from './elementwise.js';
import { castBf16ToF32, castF32ToBf16, copyStrided, sumAxis, sumSquares } from './layout.js';
import { logSoftmaxBackward, logSoftmaxForward, softmaxBackward, softmaxForward } from './softmax.js';
import { rmsNormBackward, rmsNormForward, rope } from './norm.js';
import { attentionBackward, attentionForward, attentionForwardKt } from './attention.js';
import {
  argmaxRows, crossEntropyBackward, crossEntropyForward, embeddingBackward, embeddingForward, gatherLogProbsBackward,
  gatherLogProbsForward,
} from './loss.js';
import { adamw } from './adamw.js';
import { dequantizeRows, matvecReadsPanelScales, quantFromPanels, quantPanelScales, quantPanelsSupported, quantToPanels, quantizeRows } from './quant.js';
import { fillNormal } from './random.js';

export const referenceBackend = {
  gemm, matvec, matvecReadsPanelScales, quantPanelScales, quantPanelsSupported, quantToPanels, quantFromPanels, quantizeRows, dequantizeRows, binary, unary, unaryBackward, affine, clamp, where, swigluForward, swigluBackward,
  sumAxis, sumSquares, copyStrided, castF32ToBf16, castBf16ToF32,
  softmaxForward, softmaxBackward, logSoftmaxForward, logSoftmaxBackward,
  rmsNormForward, rmsNormBackward, rope, attentionForward, attentionForwardKt, attentionBackward,
  crossEntropyForward, crossEntropyBackward, gatherLogProbsForward, gatherLogProbsBackward, argmaxRows,
  embeddingForward, embeddingBackward, adamw, fillNormal,
  info: () => ({ name: 'reference' as const, isa: 'typescript', threads: 1, fallbacks: [] }),
} satisfies Backend;
