// info.ts — `zhongjing info`: which backend, ISA and thread count this process uses.
import type { Command } from './command.js';
import { formatHelp, parseArgs } from './args.js';
import { backendInfo } from '../backend/index.js';

const flags = { json: { type: 'boolean', help: 'print one JSON object' } } as const;

export const infoCommand: Command = {
  name: 'info',
  summary: 'show the engine: backend, CPU instruction set, threads, kernels that fall back',
  async run(argv) {
    const { flags: f } = parseArgs('info', argv, flags);
    if (f.help) {
      console.log(formatHelp('zhongjing info [--json]', this.summary +
        '\nEnvironment: ZJ_BACKEND=reference|native, ZJ_THREADS=N, ZJ_ISA=scalar|avx2|avx512 (lowers the choice).', flags));
      return 0;
    }
    const i = backendInfo();
    const out = { version: '0.1.0', node: process.version, ...i };
    if (f.json) console.log(JSON.stringify(out));
    else {
      console.log(`backend   ${i.name}`);
      console.log(`isa       ${i.isa}`);
      console.log(`threads   ${i.threads}`);
      console.log(`fallbacks ${i.fallbacks.length ? i.fallbacks.join(', ') : 'none'}`);
    }
    return 0;
  },
};
