// run.ts — runs the recipe's stages in order (data → tokenizer → pretrain → sft → sample → rank → rm → ppo → eval →
// report → export). Finished stages (done.json) are skipped; --from STAGE reruns it and everything after it;
// --only STAGE runs one stage. Each stage reads the previous stages' folders under runs/<name>/.
import type { PipelineConfig, StageName } from './config.js';
import { STAGES } from './config.js';
import { isDone, makeContext, stageDir, type RunContext } from './context.js';
import { runData } from './stages/data.js';
import { runTokenizer } from './stages/tokenizer.js';
import { runPretrain, runSft } from './stages/lm.js';
import { runRank, runSample } from './stages/rank.js';
import { runPpo, runRm } from './stages/rl.js';
import { runEval } from './stages/evaluate.js';
import { runExport, runReport } from './stages/finish.js';
import { dur } from '../train/progress.js';

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
}

export interface PipelineResult {
  root: string;
  final: string;
  ran: StageName[];
  skipped: StageName[];
  seconds: Record<string, number>;
}

export async function runPipeline(cfg: PipelineConfig, o: PipelineOptions = {}): Promise<PipelineResult> {
  const ctx = makeContext(cfg, o.quiet);
  const ran: StageName[] = [], skipped: StageName[] = [];
  const seconds: Record<string, number> = {};
  const fromIdx = o.from ? STAGES.indexOf(o.from) : -1;
  const untilIdx = o.until ? STAGES.indexOf(o.until) : STAGES.length - 1;
  for (let i = 0; i <= untilIdx; i++) {
    const s = STAGES[i]!;
    if (o.only && s !== o.only) continue;
    const forced = o.only === s || (fromIdx >= 0 && i >= fromIdx);
    if (!forced && isDone(ctx, s)) { skipped.push(s); ctx.log(`[pipeline] ${s}: done earlier, skipped`); continue; }
    ctx.log(`[pipeline] ${s} …`);
    const t0 = performance.now();
    const summary = await runners[s](ctx);
    seconds[s] = (performance.now() - t0) / 1000;
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
