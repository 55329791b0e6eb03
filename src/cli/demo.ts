// demo.ts — `zhongjing demo`: what `npm start` runs — the whole pipeline on configs/demo.yaml and the embedded
// demo corpus.
import type { Command } from './command.js';
import { DEMO_CONFIG, flags, pipelineMain } from './pipeline.js';

export const demoCommand: Command = {
  name: 'demo',
  flags,
  summary: 'the whole recipe on the embedded demo corpus (configs/demo.yaml): what `npm start` runs',
  run: (argv) => pipelineMain(argv, DEMO_CONFIG, 'demo'),
};
