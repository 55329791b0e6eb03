// run.ts — runs the recipe's stages in order (data → tokenizer → pretrain → sft → sample → rank → rm → ppo → eval →
// report → export). Finished stages (done.json) are skipped; --from STAGE reruns it and everything after it;
// --only STAGE runs one stage. Each stage reads the previous stages' folders under runs/<name>/. Before any work:
// the context and memory checks (estimate.ts) and the validated config saved as runs/<name>/config.yaml.
import type { PipelineConfig, StageName } from './config.js';
import { STAGES } from './config.js';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { isDone, makeContext, measuredSpeed, setMeasureSteps, stageDir, type RunContext } from './context.js';
import { checkContext, checkMemory, estimateMemory, memoryText, modelShape, stageTokens } from './estimate.js';
import { atomicWrite } from '../model/atomic.js';
import { runData } from './stages/data.js';
import { runTokenizer } from './stages/tokenizer.js';
import { runPretrain } from './stages/pretrain.js';
import { runSft } from './stages/sft.js';
import { runSample } from './stages/sample.js';
import { runRank } from './stages/rank.js';
import { runRm } from './stages/rm.js';
import { runPpo } from './stages/ppo.js';
import { runEval } from './stages/eval.js';
import { runReport } from './stages/report.js';
import { runExport } from './stages/export.js';
import { dur } from '../train/progress.js';
import { resetMemoryHighWaters } from '../train/memory.js';

const runners: Record<StageName, (ctx: RunContext) => Promise<unknown>> = {
  data: runData, tokenizer: runTokenizer, pretrain: runPretrain, sft: runSft, sample: runSample, rank: runRank,
  rm: runRm, ppo: runPpo, eval: runEval, report: runReport, export: runExport,
};

export interface PipelineOptions {
  from?: StageName;
  only?: StageName;
  /** stop after this stage */
  until?: StageName;
  quiet?: boolean;
  /** the command line's --set overrides (already in cfg), noted in the saved config */
  overrides?: string[];
  /** skip the up-front memory check (tests of other things on small machines) */
  skipMemoryCheck?: boolean;
}

export interface PipelineResult {
  root: string;
  final: string;
  ran: StageName[];
  skipped: StageName[];
  seconds: Record<string, number>;
}

export async function runPipeline(cfg: PipelineConfig, o: PipelineOptions = {}): Promise<PipelineResult> {
  const shape = modelShape(cfg);
  checkContext(cfg, shape);
  const mem = estimateMemory(cfg, shape);
  if (!o.skipMemoryCheck) checkMemory(mem);
  const ctx = makeContext(cfg, o.quiet);
  ctx.log(`[estimate] memory per stage: ${mem.map(memoryText).join('; ')}`);
  saveConfig(ctx, o.overrides ?? []);
  const ran: StageName[] = [], skipped: StageName[] = [];
  let decodeSpeed: number | undefined;
  const seconds: Record<string, number> = {};
  const fromIdx = o.from ? STAGES.indexOf(o.from) : -1;
  const untilIdx = o.until ? STAGES.indexOf(o.until) : STAGES.length - 1;
  for (let i = 0; i <= untilIdx; i++) {
    const s = STAGES[i]!;
    if (o.only && s !== o.only) continue;
    const forced = o.only === s || (fromIdx >= 0 && i >= fromIdx);
    if (!forced && isDone(ctx, s)) { skipped.push(s); ctx.log(`[pipeline] ${s}: done earlier, skipped`); continue; }
    ctx.log(`[pipeline] ${s} …`);
    logEstimate(ctx, s, decodeSpeed);
    const t0 = performance.now();
    resetMemoryHighWaters(); // each stage's [memory] line reports its own peaks (loading included), not an earlier stage's
    const summary = await runners[s](ctx);
    seconds[s] = (performance.now() - t0) / 1000;
    // sampling's rate (its token bound over its wall time) is the measured generation speed eval is estimated from
    if (s === 'sample') decodeSpeed = (stageTokens(cfg, s)?.tokens ?? 0) / seconds[s]!;
    ran.push(s);
    ctx.log(`[pipeline] ${s} done in ${dur(seconds[s]!)}: ${brief(summary)}`);
  }
  return { root: ctx.root, final: stageDir(ctx, 'final'), ran, skipped, seconds };
}

/**
 * What to tell the user at the end: the folders of the stages this run made, and the report / final model only when
 * their stage is done (run now or earlier) — `--only sft` must not point at a report that does not exist.
 */
export function summaryLines(res: PipelineResult, cmd: string, seconds: number): string[] {
  const lines = [`zhongjing ${cmd}: ${res.ran.length} stage(s) run${res.skipped.length ? `, ${res.skipped.length} skipped` : ''} in ${seconds.toFixed(0)} s`];
  const have = new Set<StageName>([...res.ran, ...res.skipped]);
  for (const st of res.ran) if (st !== 'report' && st !== 'export') lines.push(`  ${st}: ${res.root}/${st}`);
  if (have.has('report')) lines.push(`  report: ${res.root}/report/report.html`);
  if (have.has('export')) {
    lines.push(`  final model: ${res.final}`);
    lines.push(`  try it: zhongjing chat --model ${res.final}   ·   zhongjing serve --model ${res.final}`);
  }
  return lines;
}

function brief(summary: unknown): string {
  if (!summary || typeof summary !== 'object') return '';
  return Object.entries(summary as Record<string, unknown>)
    .filter(([, v]) => typeof v === 'number' || typeof v === 'string')
    .slice(0, 6)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : v}`)
    .join(' ');
}

/** The run's validated config (every default filled) as it ran, with the --set overrides that changed it named. */
function saveConfig(ctx: RunContext, overrides: string[]): void {
  const head = ['# the config this run used, defaults filled in (zhongjing pipeline)', ...overrides.map((x) => `# --set ${x}`)];
  atomicWrite(join(ctx.root, 'config.yaml'), [`${head.join('\n')}\n${stringify(ctx.cfg)}`]);
}

/** Before a stage: its token count, and a wall time from the speed measured earlier in this run, when there is one. */
function logEstimate(ctx: RunContext, s: StageName, decodeSpeed: number | undefined): void {
  const cfg = ctx.cfg;
  const t = stageTokens(cfg, s);
  if (!t) return;
  // PPO's first cycle (a rollout and its epochs of mini-batch updates) is what repeats; other stages repeat a step
  setMeasureSteps(s === 'ppo' ? (cfg.rl === 'grpo' ? cfg.grpo.epochs : cfg.ppo.epochs * Math.ceil(cfg.ppo.rolloutSize / cfg.ppo.miniBatch)) : 2);
  const training = s === 'pretrain' || s === 'sft' || s === 'rm';
  const prior = training ? (['sft', 'pretrain'] as const).map((x) => [x, measuredSpeed(x)] as const).find(([, v]) => v !== undefined) : undefined;
  const when = prior ? `about ${dur(t.tokens / prior[1]!)} at ${Math.round(prior[1]!)} tok/s (${prior[0]}'s measured training speed; an upper bound: sequences counted at their limit)`
    : s === 'eval' && decodeSpeed ? `about ${dur(t.tokens / decodeSpeed)} for its answers at ${Math.round(decodeSpeed)} tok/s (the sample stage's measured generation speed; judging comes on top)`
    : training || s === 'ppo' ? 'wall time: extrapolated from its first steps once they are timed'
    : 'wall time: this run has not measured generation yet (the first generating stage measures it)';
  ctx.log(`[estimate] ${s}: ${t.what}; ${when}`);
}
