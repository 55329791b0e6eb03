// pipeline.ts — `zhongjing pipeline --config FILE`: the Zhongjing recipe end to end (see src/pipeline/run.ts);
// `zhongjing demo` (what `npm start` runs) is the same on configs/demo.yaml.
import { fileURLToPath } from 'node:url';
import type { Command } from './command.js';
import { formatHelp, parseArgs, UsageError } from './args.js';
import { loadConfig, STAGES, type StageName } from '../pipeline/config.js';
import { runPipeline, summaryLines } from '../pipeline/run.js';
import { applyOverrides, parseOverride, type Override } from '../pipeline/overrides.js';
import { backendInfo } from '../backend/index.js';

export const flags = {
  config: { type: 'string', help: 'YAML recipe (see configs/demo.yaml, configs/qwen2.5-0.5b.yaml)' },
  set: { type: 'string', help: 'override a config key, e.g. --set sft.steps=50 (repeatable; the value is YAML: 3, true, null, [a, b], {r: 8})' },
  from: { type: 'string', help: 'rerun this stage and every later one', choices: STAGES },
  only: { type: 'string', help: 'run just this stage (its inputs must exist)', choices: STAGES },
  until: { type: 'string', help: 'stop after this stage', choices: STAGES },
  name: { type: 'string', help: 'override the run name (runs/<name>/)' },
  'runs-dir': { type: 'string', help: 'override where runs are written' },
  quiet: { type: 'boolean', help: 'no progress output' },
} as const;

export const DEMO_CONFIG = fileURLToPath(new URL('../../../configs/demo.yaml', import.meta.url));

/** `--set K=V` may repeat, which the flag parser does not allow: take those out first, in order. */
export function splitSets(cmd: string, argv: readonly string[]): { sets: string[]; rest: string[] } {
  const sets: string[] = [], rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--set') {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`[${cmd}] --set needs key.path=value`);
      sets.push(v);
    } else if (a.startsWith('--set=')) sets.push(a.slice('--set='.length));
    else rest.push(a);
  }
  return { sets, rest };
}

export async function pipelineMain(argv: string[], defaultConfig: string | null, cmd: string): Promise<number> {
  const { sets, rest } = splitSets(cmd, argv);
  const { flags: f, positional } = parseArgs(cmd, rest, flags);
  if (f.help) {
    console.log(formatHelp(`zhongjing ${cmd} ${defaultConfig ? '[--config FILE]' : '--config FILE'} [--set key.path=value …] [--from STAGE] [--only STAGE]`,
      `Runs the recipe's stages in order: ${STAGES.join(' → ')}.\nFinished stages are skipped on a rerun; outputs go to runs/<name>/<stage>/ and the final model to runs/<name>/final.`, flags));
    return 0;
  }
  if (positional.length) throw new UsageError(`[${cmd}] unexpected argument '${positional[0]}'`);
  const path = f.config ?? defaultConfig;
  if (!path) throw new UsageError(`[${cmd}] --config FILE is required`);
  const overrides: Override[] = sets.map(parseOverride);
  const cfg = loadConfig(path, overrides.length ? (raw) => applyOverrides(raw, overrides) : undefined);
  if (f.name) cfg.name = f.name;
  if (f['runs-dir']) cfg.runsDir = f['runs-dir'];
  const info = backendInfo();
  if (!f.quiet) console.error(`[${cmd}] ${path} → ${cfg.runsDir}/${cfg.name}  (engine: ${info.name}/${info.isa}/${info.threads} threads)`);
  const t0 = performance.now();
  const res = await runPipeline(cfg, { from: f.from as StageName | undefined, only: f.only as StageName | undefined, until: f.until as StageName | undefined, quiet: !!f.quiet, overrides: sets });
  const s = (performance.now() - t0) / 1000;
  console.log(`\n${summaryLines(res, cmd, s).join('\n')}`);
  return 0;
}

export const pipelineCommand: Command = {
  name: 'pipeline',
  flags,
  summary: 'run the Zhongjing recipe from a YAML config: data → tokenizer → pretrain → sft → sample → rank → rm → ppo → eval → report → export',
  run: (argv) => pipelineMain(argv, null, 'pipeline'),
};
