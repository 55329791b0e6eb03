// index.ts — every op, one import away.
export * from './creation.js';
export * from './shape.js';
export * from './elementwise.js';
export * from './reduce.js';
export * from './matmul.js';
export * from './nn.js';
export * from './quant.js';
export * from './attention.js';
export * from './loss.js';
export * from './lora-up.js';
