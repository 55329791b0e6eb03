// import.ts — `zhongjing import llamafactory DIR --out runs/NAME`: an engine run (an export folder after run.sh)
// laid out as our run folders (src/scaleout/import-lf.ts). No training, no conversion of weights.
import type { Command } from './command.js';
import { formatHelp, parseArgs, UsageError } from './args.js';
import { importLlamaFactory } from '../scaleout/import-lf.js';

const flags = {
  out: { type: 'string', help: 'run folder to write, e.g. runs/NAME' },
  json: { type: 'boolean', help: 'print one JSON object' },
} as const;

export const importCommand: Command = {
  name: 'import',
  summary: 'read back what a distributed engine wrote: import llamafactory DIR --out runs/NAME',
  async run(argv) {
    const [engine, ...rest] = argv;
    const { flags: f, positional } = parseArgs('import llamafactory', rest, flags);
    if (engine !== 'llamafactory' || f.help) {
      console.log(formatHelp('zhongjing import llamafactory DIR --out runs/NAME',
        'Lay out a LLaMA-Factory run (the folder `zhongjing export recipe` wrote, after run.sh) as our run folders:\n' +
        'LoRA adapters over their base, full checkpoints, value heads, trainer_log.jsonl as metrics; runs/NAME/final is the PPO model.', flags));
      return engine === 'llamafactory' || engine === undefined || engine === '--help' || engine === '-h' ? 0 : 2;
    }
    if (positional.length !== 1 || !f.out) throw new UsageError('[import llamafactory] give one DIR and --out');
    const r = importLlamaFactory(positional[0]!, f.out);
    if (f.json) console.log(JSON.stringify(r));
    else {
      for (const s of r.stages) console.log(`${s.stage}: ${s.kind}${s.base ? ` over ${s.base}` : ''}${s.valueHead ? ', value head' : ''}, ${s.logRows} log rows`);
      for (const s of r.skipped) console.log(`skipped ${s}`);
      console.log(`wrote ${r.out} (final → ${r.final})`);
    }
    return 0;
  },
};
