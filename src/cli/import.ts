// import.ts — `zhongjing import llamafactory DIR --out runs/NAME`: an engine run (an export folder after run.sh)
// laid out as our run folders (src/scaleout/import-lf.ts). No training, no conversion of weights.
import type { Command } from './command.js';
import { UsageError } from './args.js';
import { flagLeaf, groupCommand } from './subcommands.js';
import { importLlamaFactory } from '../scaleout/import-lf.js';

const flags = {
  out: { type: 'string', help: 'run folder to write, e.g. runs/NAME' },
  json: { type: 'boolean', help: 'print one JSON object' },
} as const;

const llamafactory = flagLeaf({
  path: ['import', 'llamafactory'],
  usage: 'zhongjing import llamafactory DIR --out runs/NAME',
  summary: 'a LLaMA-Factory run (after the exported run.sh) as our run folders',
  about: 'Lay out a LLaMA-Factory run (the folder `zhongjing export recipe` wrote, after run.sh) as our run folders:\n' +
    'LoRA adapters over their base, full checkpoints, value heads, trainer_log.jsonl as metrics; runs/NAME/final is the PPO model.',
  flags,
  positional: true,
  async run(f, positional) {
    if (positional.length !== 1 || !f.out) throw new UsageError('[import llamafactory] give one DIR and --out');
    const r = importLlamaFactory(positional[0]!, f.out as string);
    if (f.json) console.log(JSON.stringify(r));
    else {
      for (const s of r.stages) console.log(`${s.stage}: ${s.kind}${s.base ? ` over ${s.base}` : ''}${s.valueHead ? ', value head' : ''}, ${s.logRows} log rows`);
      for (const s of r.skipped) console.log(`skipped ${s}`);
      console.log(`wrote ${r.out} (final → ${r.final})`);
    }
    return 0;
  },
});

export const importCommand: Command = groupCommand('import', {
  summary: 'read back what a distributed engine wrote: import llamafactory DIR --out runs/NAME',
  subcommands: { llamafactory },
});
