// demo.ts — `zhongjing demo`: what `npm start` runs.
import type { Command } from './command.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the demonstration on the embedded demo corpus (what `npm start` runs)',
  async run(_argv) {
    console.error('demo: not implemented yet');
    return 1;
  },
};
