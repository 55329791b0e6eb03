// train.ts — `zhongjing train pretrain|sft|rm|ppo|grpo|dpo --config FILE`: one stage of the recipe alone, reading and
// writing the same runs/<name>/<stage>/ folders (model directories) as `zhongjing pipeline`.
import type { Command } from './command.js';
import { formatHelp, parseArgs, UsageError } from './args.js';
import { loadConfig } from '../pipeline/config.js';
import { makeContext } from '../pipeline/context.js';
import { runPretrain, runSft } from '../pipeline/stages/lm.js';
import { runDpo, runPpo, runRm } from '../pipeline/stages/rl.js';
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

export const trainCommand: Command = {
  name: 'train',
  summary: 'one training stage alone: pretrain | sft | rm | ppo | grpo | dpo (--config FILE)',
  async run(argv) {
    const [stage, ...rest] = argv;
    const s = stage && stage in stages ? stages[stage as keyof typeof stages] : undefined;
    if (!s) {
      const list = Object.entries(stages).map(([k, v]) => `  ${k.padEnd(9)}${v.what}`).join('\n');
      console.log(`usage: zhongjing train <stage> --config FILE\n\n${list}\n\nStage inputs come from earlier stages of the same run (zhongjing pipeline --until STAGE makes them).`);
      return !stage || stage === '--help' || stage === '-h' ? 0 : 2;
    }
    const { flags: f, positional } = parseArgs(`train ${stage}`, rest, flags);
    if (f.help) {
      console.log(formatHelp(`zhongjing train ${stage} --config FILE`, s.what, flags));
      return 0;
    }
    if (positional.length) throw new UsageError(`[train ${stage}] unexpected argument '${positional[0]}'`);
    if (!f.config) throw new UsageError(`[train ${stage}] --config FILE is required`);
    const cfg = loadConfig(f.config);
    if (f.name) cfg.name = f.name;
    if (f['runs-dir']) cfg.runsDir = f['runs-dir'];
    const ctx = makeContext(cfg, !!f.quiet);
    const summary = await s.run(ctx);
    console.log(JSON.stringify({ stage, dir: `${ctx.root}/${s.dir}`, ...summary }, null, 2));
    return 0;
  },
};
