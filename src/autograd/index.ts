export { backward, zeroGrad } from './backward.js';
export { noGrad, isGradEnabled } from './grad-mode.js';
export { gradcheck } from './gradcheck.js';
