// train.ts — `zhongjing train pretrain|sft|rm|ppo|grpo|dpo --config FILE`: one stage of the recipe alone, reading and
// writing the same runs/<name>/<stage>/ folders (model directories) as `zhongjing pipeline`.
import type { Command } from './command.js';
import { UsageError } from './args.js';
import { flagLeaf, groupCommand, type Leaf } from './subcommands.js';
import { loadConfig } from '../pipeline/config.js';
import { makeContext } from '../pipeline/context.js';
import { runPretrain } from '../pipeline/stages/pretrain.js';
import { runSft } from '../pipeline/stages/sft.js';
import { runRm } from '../pipeline/stages/rm.js';
import { runPpo } from '../pipeline/stages/ppo.js';
import { runDpo } from '../pipeline/stages/dpo.js';
import type { RunContext } from '../pipeline/context.js';

const stages = {
  pretrain: { run: runPretrain, dir: 'pretrain', what: 'causal LM on packed text (continued pre-training, or from scratch); needs data, tokenizer' },
  sft: { run: runSft, dir: 'sft', what: 'loss on every assistant turn of the conversations, full or LoRA; needs pretrain' },
  rm: { run: runRm, dir: 'rm', what: 'reward model: value head on the pre-trained model, pairwise loss on ranked sets; needs pretrain, rank' },
  ppo: { run: runPpo, dir: 'ppo', what: 'the RL stage (rl: ppo|grpo in the config; PPO by default) with a LoRA adapter over the SFT model, rewards from the RM; needs sft, rm' },
  grpo: { run: (ctx: RunContext) => { ctx.cfg.rl = 'grpo'; return runPpo(ctx); }, dir: 'ppo',
    what: 'the RL stage as GRPO (K samples per prompt, group-relative advantages, no critic; grpo: block), written to the ppo folder; needs sft, rm' },
  dpo: { run: runDpo, dir: 'dpo', what: 'DPO with a LoRA adapter over the SFT model on the ranked pairs; needs sft, rank' },
} as const;

const flags = {
  config: { type: 'string', help: 'YAML recipe (the stage reads its block, e.g. sft:)' },
  name: { type: 'string', help: 'override the run name (runs/<name>/)' },
  'runs-dir': { type: 'string', help: 'override where runs are written' },
  quiet: { type: 'boolean', help: 'no progress output' },
} as const;

function stageLeaf(stage: keyof typeof stages): Leaf {
  const s = stages[stage];
  return flagLeaf({
    path: ['train', stage], usage: `zhongjing train ${stage} --config FILE`, summary: s.what, flags,
    async run(f) {
      if (!f.config) throw new UsageError(`[train ${stage}] --config FILE is required`);
      const cfg = loadConfig(f.config as string);
      if (f.name) cfg.name = f.name as string;
      if (f['runs-dir']) cfg.runsDir = f['runs-dir'] as string;
      const ctx = makeContext(cfg, !!f.quiet);
      const summary = await s.run(ctx);
      console.log(JSON.stringify({ stage, dir: `${ctx.root}/${s.dir}`, ...summary }, null, 2));
      return 0;
    },
  });
}

export const trainCommand: Command = groupCommand('train', {
  summary: 'one training stage alone: pretrain | sft | rm | ppo | grpo | dpo (--config FILE)',
  about: 'Stage inputs come from earlier stages of the same run (zhongjing pipeline --until STAGE makes them).',
  subcommands: Object.fromEntries((Object.keys(stages) as (keyof typeof stages)[]).map((k) => [k, stageLeaf(k)])),
});
