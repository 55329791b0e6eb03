// evaluate.ts — stage `eval`: the paper's RLHF ablation in miniature. The final (PPO) model and the SFT model
// answer the first patient turn of held-out consultations and safety prompts; the demo judge (rules, a stand-in for
// doctors) compares them pairwise on ability and safety; proactive-inquiry rate, care rate and reward-model score
// are measured for both. Writes results.json and the answers.
import { join } from 'node:path';
import type { RunContext } from '../context.js';
import { input, markDone, readJsonl, resetStage, writeJsonl } from '../context.js';
import type { Conversation } from '../../data/index.js';
import { DIMENSIONS, type Dimension, type Outcome } from '../../eval/types.js';
import { ruleDemoJudge, DEMO_JUDGE_NAME } from '../../eval/judges.js';
import { careRate, inquiryRate } from '../../eval/metrics.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { tidy } from '../../tensor/scope.js';
import { scoreSequences } from '../../train/stages/reward.js';
import { answerAll, openChatModel, promptIds } from '../chat-model.js';
import { DATA_FILES } from './data.js';
import { firstTurnPrompts } from './rank.js';
import { compareModels, itemsOfRecords, loadLocalModel, renderReportHtml, rewardModelJudge } from '../../eval/index.js';
import { atomicWrite } from '../../model/atomic.js';

export interface EvalResults {
  judge: string;
  items: number;
  safetyItems: number;
  /** first turns of held-out multi-turn consultations (the inquiry rate is measured on these) */
  consultationItems: number;
  /** final vs SFT, per dimension */
  pairwise: Record<Dimension, Record<Outcome, number>>;
  /** every doctor turn of the same held-out dialogues, answered with the true history, judged by each judge */
  allTurns: { items: number; report: string; tallies: Record<string, Partial<Record<Dimension, Record<Outcome, number>>>> };
  /** rates are null where there was nothing to measure (e.g. no safety prompts among the items) */
  models: Record<'sft' | 'final', { inquiryRate: number | null; careRate: number | null; rewardScore: number; meanLength: number }>;
}

export async function runEval(ctx: RunContext): Promise<EvalResults> {
  const sftDir = input(ctx, 'sft', 'model', 'eval');
  const finalDir = input(ctx, 'ppo', 'model', 'eval');
  const rmDir = input(ctx, 'rm', 'model', 'eval');
  const dev = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.dev, 'eval'));
  const dir = resetStage(ctx, 'eval');
  const { cfg } = ctx;
  // a balanced held-out set: first turns of multi-turn consultations (where a doctor should ask before advising),
  // safety prompts (where the answer should refuse or redirect), and single-turn questions
  const isConsult = (c: Conversation) => c.turns.filter((t) => t.role === 'assistant').length >= 2;
  const consults = firstTurnPrompts(dev.filter((c) => isConsult(c) && !c.meta.safety));
  const safety = firstTurnPrompts(dev.filter((c) => c.meta.safety));
  const single = firstTurnPrompts(dev.filter((c) => !isConsult(c) && !c.meta.safety));
  const half = Math.ceil(cfg.eval.prompts / 2), quarter = Math.ceil(cfg.eval.prompts / 4);
  const prompts = [...consults.slice(0, half), ...safety.slice(0, quarter), ...single.slice(0, quarter)].slice(0, cfg.eval.prompts);
  const isConsultPrompt = new Set(consults.slice(0, half).map((p) => p.id));
  if (prompts.length === 0) throw new Error('[eval] no held-out prompts: raise data.devFraction');
  const opts = { maxNewTokens: cfg.eval.maxNewTokens, repetitionPenalty: cfg.eval.repetitionPenalty };
  const answers: Record<'sft' | 'final', string[]> = { sft: [], final: [] };
  for (const [name, d] of [['sft', sftDir], ['final', finalDir]] as const) {
    const m = await openChatModel(d, cfg.tokenizer.template, cfg.model.weights);
    answers[name] = answerAll(m, prompts.map((p) => p.turns), opts);
    ctx.log(`[eval] ${name}: ${prompts.length} answers`);
  }
  const rmChat = await openChatModel(rmDir, cfg.tokenizer.template);
  const rm = rmChat.md; // the reward model is loaded once, with its tokenizer
  const eos = rmChat.eos[0]!;
  const rewardOf = (turnsIdx: number, answer: string) => noGrad(() => tidy(() =>
    scoreSequences(rm.model, rm.valueHead!, [[...promptIds(rmChat, prompts[turnsIdx]!.turns), ...rmChat.tok.encode(answer), eos]]).item()));
  const judge = ruleDemoJudge();
  const pairwise = Object.fromEntries(DIMENSIONS.map((d) => [d, { win: 0, tie: 0, loss: 0, unparseable: 0, error: 0, missing: 0 }])) as EvalResults['pairwise'];
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < prompts.length; i++) {
    const p = prompts[i]!;
    const item = { id: p.id, dialogueId: p.id, turn: 0, history: p.turns.slice(0, -1), prompt: p.turns.at(-1)!.text, safety: p.safety };
    const a = answers.final[i]!, b = answers.sft[i]!;
    const v = !a || !b ? null : await judge.judge(item, a, b);
    for (const d of DIMENSIONS) pairwise[d][v ? (v.outcomes[d] ?? 'missing') : 'missing']++;
    rows.push({ id: p.id, prompt: item.prompt, safety: p.safety, final: a, sft: b, verdict: v?.outcomes ?? null, note: v?.note ?? 'missing answer' });
  }
  const stats = (xs: string[], idx: number[]) => {
    const firstTurns = idx.filter((i) => isConsultPrompt.has(prompts[i]!.id)), safe = idx.filter((i) => prompts[i]!.safety);
    return {
      inquiryRate: inquiryRate(firstTurns.map((i) => xs[i]!)).rate,
      careRate: careRate(safe.map((i) => xs[i]!)).rate,
      rewardScore: idx.reduce((s, i) => s + rewardOf(i, xs[i]!), 0) / idx.length,
      meanLength: idx.reduce((s, i) => s + [...xs[i]!].length, 0) / idx.length,
    };
  };
  const all = prompts.map((_, i) => i);
  // every doctor turn of the held-out dialogues (not only the first: final turns are often pleasantries), through the
  // evaluation layer, with the demo judge and the reward model as judges; its HTML report has the paper-style bars
  const items = itemsOfRecords(dev.slice(0, cfg.eval.prompts));
  const local = async (d: string, name: string) => (await loadLocalModel(d, { template: cfg.tokenizer.template, name, ...opts })).answerer;
  const rmScore = (prompt: string, history: Conversation['turns'], answer: string) => noGrad(() => tidy(() =>
    scoreSequences(rm.model, rm.valueHead!, [[...promptIds(rmChat, [...history, { role: 'user', text: prompt }]), ...rmChat.tok.encode(answer), eos]]).item()));
  const report = await compareModels({
    items, a: await local(finalDir, 'final (PPO)'), b: await local(sftDir, 'SFT'),
    judges: [judge, rewardModelJudge({ name: 'reward model (this run)', score: rmScore })],
    cacheDir: dir, title: `${cfg.name}: final (PPO) vs SFT on every doctor turn of ${Math.min(dev.length, cfg.eval.prompts)} held-out dialogues`,
  });
  atomicWrite(join(dir, 'report.html'), [renderReportHtml(report)]);
  const tallies: EvalResults['allTurns']['tallies'] = {};
  for (const r of report.pairwise) tallies[r.judge] = r.tallies as Partial<Record<Dimension, Record<Outcome, number>>>;
  const results: EvalResults = {
    judge: DEMO_JUDGE_NAME, items: prompts.length, safetyItems: prompts.filter((p) => p.safety).length, consultationItems: isConsultPrompt.size, pairwise,
    allTurns: { items: items.length, report: join(dir, 'report.html'), tallies },
    models: { sft: stats(answers.sft, all), final: stats(answers.final, all) },
  };
  writeJsonl(join(dir, 'answers.jsonl'), rows);
  markDone(ctx, 'eval', results as unknown as Record<string, unknown>);
  return results;
}
