// evaluate.ts — stage `eval`: the paper's RLHF ablation in miniature. The RL model and the SFT model answer the
// first patient turn of held-out consultations and safety prompts. Three judges compare them, each described by
// what it saw in training: the demo rules (they ranked the RM's data: not independent), the reward model (what RL
// maximised: circular) and the held-out KB judge (evaluation only), which also scores ≥ 100 safety prompts written
// for evaluation. Its safety verdict is the gate that decides whether `final` is the RL or the SFT model.
import { join } from 'node:path';
import type { RunContext } from '../context.js';
import { input, markDone, readJsonl, resetStage, writeJsonl } from '../context.js';
import type { Conversation } from '../../data/index.js';
import { DIMENSIONS, type Dimension, type Outcome } from '../../eval/types.js';
import { safetyAbilityRuleJudge, DEMO_JUDGE_NAME } from '../../eval/judges.js';
import { careRate, inquiryRate } from '../../eval/metrics.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { tidy } from '../../tensor/scope.js';
import { scoreSequences } from '../../train/stages/reward.js';
import { answerAll, openChatModel, promptIds } from '../chat-model.js';
import { DATA_FILES } from './data.js';
import { firstTurnPrompts } from './rank.js';
import { compareModels, itemsOfRecords, loadLocalModel, renderReportHtml, rewardModelJudge } from '../../eval/index.js';
import { atomicWrite } from '../../model/atomic.js';
import { aboutCondition, asksConditionQuestion, heldOutJudge, safetyPass, HELD_OUT_JUDGE_ABOUT, HELD_OUT_JUDGE_NAME, type HeldOutFacts } from '../../eval/held-out-judge.js';
import { heldOutSafetyPrompts, type HeldOutCategory } from '../../data/demo/held-out.js';
import { bootstrapProportion, signTest, type Interval, type SignTest } from '../../eval/stats.js';

/** The decision the safety gate made: which model becomes `final`, and why. */
export interface SafetyGate { enabled: boolean; chosen: 'rl' | 'sft'; reason: string }

export interface HeldOutResults {
  judge: string;
  about: string;
  /** safety prompts written for evaluation only, answered by both models */
  safetyPrompts: number;
  safety: Record<'sft' | 'final', Interval | null>;
  /** final vs SFT on the main prompts and the held-out safety prompts, per dimension, with the sign test */
  pairwise: Record<Dimension, Record<Outcome, number>>;
  signTests: Record<Dimension, SignTest>;
  gate: SafetyGate;
}

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
  models: Record<'sft' | 'final', {
    inquiryRate: number | null; careRate: number | null; rewardScore: number; meanLength: number;
    /** share of first answers to non-safety prompts that are about the case's condition (its name, department or
     * textbook advice, or one of its own follow-up questions, per the held-out judge); null without KB facts */
    onTopicRate: number | null;
  }>;
  /** each judge, and what it saw in training (so a reader knows which verdicts are independent) */
  judges: { name: string; about: string }[];
  /** the evaluation-only judge; null when the data carry no knowledge-base facts (not the demo corpus) */
  heldOut: HeldOutResults | null;
}

/** win/tie/loss (and failure) counts per dimension, all zero */
const emptyTallies = () => Object.fromEntries(DIMENSIONS.map((d) => [d, { win: 0, tie: 0, loss: 0, unparseable: 0, error: 0, missing: 0 }]));

const DEMO_RULES_ABOUT = 'ranked the candidates the reward model was trained on (demo stand-in for doctors): the recipe optimised toward it, so its verdict is not independent';
const RM_ABOUT = 'the reward model the RL stage maximised: circular by construction, shown only as a training diagnostic';

export async function runEval(ctx: RunContext): Promise<EvalResults> {
  const sftDir = input(ctx, 'sft', 'model', 'eval');
  const finalDir = input(ctx, 'ppo', 'model', 'eval');
  const rmDir = input(ctx, 'rm', 'model', 'eval');
  const dev = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.dev, 'eval'));
  const trainConvs = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.train, 'eval'));
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
  const judge = safetyAbilityRuleJudge();
  const pairwise = emptyTallies() as EvalResults['pairwise'];
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < prompts.length; i++) {
    const p = prompts[i]!;
    const item = { id: p.id, dialogueId: p.id, turn: 0, history: p.turns.slice(0, -1), prompt: p.turns.at(-1)!.text, safety: p.safety };
    const a = answers.final[i]!, b = answers.sft[i]!;
    const v = !a || !b ? null : await judge.judge(item, a, b);
    for (const d of DIMENSIONS) pairwise[d][v ? (v.outcomes[d] ?? 'missing') : 'missing']++;
    rows.push({ id: p.id, prompt: item.prompt, safety: p.safety, final: a, sft: b, verdict: v?.outcomes ?? null, note: v?.note ?? 'missing answer' });
  }
  const byDialogue = new Map(dev.map((c) => [c.meta.id ?? '', c]));
  const consultIds = new Set(dev.filter((c) => isConsult(c) && !c.meta.safety).map((c) => c.meta.id ?? ''));
  const categoryOf = (c: Conversation | undefined): HeldOutCategory | undefined => {
    const k = c?.meta.safety ? c.meta.extra?.category : undefined;
    return k === 'emergency' || k === 'superstition' || k === 'self-medication' ? k : undefined;
  };
  /** The evaluation-only judge: ≥ 100 new safety prompts and the main prompts, for both models; the safety gate. */
  async function evaluateHeldOut(): Promise<HeldOutResults | null> {
    if (!dev.some((c) => c.meta.extra?.condition) || cfg.eval.safetyPrompts === 0) return null;
    const seen = new Set([...trainConvs, ...dev].map((c) => c.turns[0]?.text ?? ''));
    const extra = heldOutSafetyPrompts(cfg.seed, cfg.eval.safetyPrompts, seen);
    const extraAnswers: Record<'sft' | 'final', string[]> = { sft: [], final: [] };
    for (const [name, d] of [['sft', sftDir], ['final', finalDir]] as const) {
      const m = await openChatModel(d, cfg.tokenizer.template);
      extraAnswers[name] = answerAll(m, extra.map((c) => c.turns), opts);
    }
    const facts = (i: number): HeldOutFacts => {
      const c = byDialogue.get(prompts[i]!.id);
      return { condition: c?.meta.extra?.condition, category: categoryOf(c), firstConsultTurn: isConsultPrompt.has(prompts[i]!.id) };
    };
    const tallies = emptyTallies() as Record<Dimension, Record<Outcome, number>>;
    const factsOf = new Map<string, HeldOutFacts>();
    const judge = heldOutJudge((it) => factsOf.get(it.id) ?? {});
    const judgeOne = async (f: HeldOutFacts, id: string, a: string, b: string) => {
      factsOf.set(id, f);
      const item = { id, dialogueId: id, turn: 0, history: [], prompt: '', safety: !!f.category };
      const v = !a || !b ? null : await judge.judge(item, a, b);
      for (const d of DIMENSIONS) tallies[d][v ? (v.outcomes[d] ?? 'missing') : 'missing']++;
    };
    for (let i = 0; i < prompts.length; i++) await judgeOne(facts(i), prompts[i]!.id, answers.final[i]!, answers.sft[i]!);
    for (let i = 0; i < extra.length; i++) {
      const x = extra[i]!.meta.extra!;
      await judgeOne({ category: x.category as HeldOutCategory, condition: x.condition }, extra[i]!.meta.id!, extraAnswers.final[i]!, extraAnswers.sft[i]!);
    }
    const passed = (xs: string[]) => extra.map((c, i) => safetyPass(c.meta.extra!.category as HeldOutCategory, xs[i]!));
    const pass = { sft: passed(extraAnswers.sft), final: passed(extraAnswers.final) };
    const count = (xs: boolean[]) => xs.filter(Boolean).length;
    const safety = { sft: bootstrapProportion(count(pass.sft), extra.length, { seed: cfg.seed }),
      final: bootstrapProportion(count(pass.final), extra.length, { seed: cfg.seed }) };
    const rs = safety.sft?.estimate ?? 0, rf = safety.final?.estimate ?? 0;
    const worse = rf < rs - cfg.eval.safetyTolerance;
    const gate: SafetyGate = !cfg.eval.safetyGate
      ? { enabled: false, chosen: 'rl', reason: 'gate off (eval.safetyGate: false): final is the RL model whatever its safety' }
      : worse ? { enabled: true, chosen: 'sft', reason: `the RL model passed ${(100 * rf).toFixed(1)}% of held-out safety prompts vs SFT ${(100 * rs).toFixed(1)}% (tolerance ${cfg.eval.safetyTolerance}): the less safe model is not served` }
        : { enabled: true, chosen: 'rl', reason: `the RL model passed ${(100 * rf).toFixed(1)}% of held-out safety prompts vs SFT ${(100 * rs).toFixed(1)}%` };
    const signTests = Object.fromEntries(DIMENSIONS.map((d) => [d, signTest(tallies[d].win, tallies[d].loss, tallies[d].tie)])) as HeldOutResults['signTests'];
    writeJsonl(join(dir, 'held-out-safety.jsonl'), extra.map((c, i) => ({ id: c.meta.id, category: c.meta.extra!.category, prompt: c.turns[0]!.text,
      sft: extraAnswers.sft[i], final: extraAnswers.final[i],
      sftPass: pass.sft[i], finalPass: pass.final[i] })));
    return { judge: HELD_OUT_JUDGE_NAME, about: HELD_OUT_JUDGE_ABOUT, safetyPrompts: extra.length, safety, pairwise: tallies, signTests, gate };
  }
  const stats = (xs: string[], idx: number[]) => {
    const firstTurns = idx.filter((i) => isConsultPrompt.has(prompts[i]!.id)), safe = idx.filter((i) => prompts[i]!.safety);
    const cond = (i: number) => byDialogue.get(prompts[i]!.id)?.meta.extra?.condition;
    const topical = idx.filter((i) => !prompts[i]!.safety && cond(i));
    return {
      onTopicRate: topical.length ? topical.filter((i) => aboutCondition(cond(i)!, xs[i]!) || asksConditionQuestion(cond(i)!, xs[i]!)).length / topical.length : null,
      inquiryRate: inquiryRate(firstTurns.map((i) => xs[i]!)).rate,
      careRate: careRate(safe.map((i) => xs[i]!)).rate,
      rewardScore: idx.reduce((s, i) => s + rewardOf(i, xs[i]!), 0) / idx.length,
      meanLength: idx.reduce((s, i) => s + [...xs[i]!].length, 0) / idx.length,
    };
  };
  const all = prompts.map((_, i) => i);
  const heldOut = await evaluateHeldOut();
  // every doctor turn of the held-out dialogues (not only the first: final turns are often pleasantries), through the
  // evaluation layer, with the demo judge and the reward model as judges; its HTML report has the paper-style bars
  const items = itemsOfRecords(dev.slice(0, cfg.eval.prompts));
  const local = async (d: string, name: string) => (await loadLocalModel(d, { template: cfg.tokenizer.template, name, ...opts })).answerer;
  const rmScore = (prompt: string, history: Conversation['turns'], answer: string) => noGrad(() => tidy(() =>
    scoreSequences(rm.model, rm.valueHead!, [[...promptIds(rmChat, [...history, { role: 'user', text: prompt }]), ...rmChat.tok.encode(answer), eos]]).item()));
  const report = await compareModels({
    items, a: await local(finalDir, 'final (PPO)'), b: await local(sftDir, 'SFT'),
    judges: [judge, rewardModelJudge({ name: 'reward model (this run)', score: rmScore }),
      ...(heldOut ? [heldOutJudge((it) => ({ condition: byDialogue.get(it.dialogueId)?.meta.extra?.condition, firstConsultTurn: it.turn === 0 && consultIds.has(it.dialogueId),
        category: categoryOf(byDialogue.get(it.dialogueId)) }))] : [])],
    cacheDir: dir, title: `${cfg.name}: final (PPO) vs SFT on every doctor turn of ${Math.min(dev.length, cfg.eval.prompts)} held-out dialogues`,
  });
  atomicWrite(join(dir, 'report.html'), [renderReportHtml(report)]);
  const tallies: EvalResults['allTurns']['tallies'] = {};
  for (const r of report.pairwise) tallies[r.judge] = r.tallies as Partial<Record<Dimension, Record<Outcome, number>>>;
  const results: EvalResults = {
    judge: DEMO_JUDGE_NAME, items: prompts.length, safetyItems: prompts.filter((p) => p.safety).length, consultationItems: isConsultPrompt.size, pairwise,
    allTurns: { items: items.length, report: join(dir, 'report.html'), tallies },
    models: { sft: stats(answers.sft, all), final: stats(answers.final, all) },
    judges: [{ name: DEMO_JUDGE_NAME, about: DEMO_RULES_ABOUT }, { name: 'reward model (this run)', about: RM_ABOUT },
      ...(heldOut ? [{ name: HELD_OUT_JUDGE_NAME, about: HELD_OUT_JUDGE_ABOUT }] : [])],
    heldOut,
  };
  const row = (label: string, t: Record<Outcome, number>) => `${label.padEnd(34)}${String(t.win).padStart(5)}${String(t.tie).padStart(5)}${String(t.loss).padStart(6)}`;
  ctx.log(`[eval] final vs SFT on ${prompts.length} held-out first turns${' '.repeat(2)}  win  tie  loss`);
  for (const d of DIMENSIONS) ctx.log(`[eval]   ${row(`${d} — demo rules`, pairwise[d])}`);
  // short names for the terminal table; the report spells each judge out with what it saw in training
  const short = (j: string) => (j === DEMO_JUDGE_NAME ? 'demo rules' : j === HELD_OUT_JUDGE_NAME ? 'held-out judge' : j.startsWith('reward model') ? 'reward model' : j.slice(0, 16));
  for (const [j, t] of Object.entries(tallies)) for (const d of DIMENSIONS) if (t[d]) ctx.log(`[eval]   ${row(`${d} — ${short(j)}, every turn`, t[d]!)}`);
  if (heldOut) for (const d of DIMENSIONS) ctx.log(`[eval]   ${row(`${d} — held-out judge, + ${heldOut.safetyPrompts} safety`, heldOut.pairwise[d])}`);
  const r2 = (x: number | null) => (x === null ? '—' : x.toFixed(2));
  for (const k of ['sft', 'final'] as const)
    ctx.log(`[eval] ${k === 'sft' ? 'SFT  ' : 'RL   '} first-turn inquiry ${r2(results.models[k].inquiryRate)}, on topic ${r2(results.models[k].onTopicRate)}, care ${r2(results.models[k].careRate)}`);
  ctx.log(`[eval] report: ${join(dir, 'report.html')}`);
  if (heldOut) {
    const t = heldOut.pairwise.safety, sIv = heldOut.safety;
    const pct = (iv: Interval | null) => (iv ? `${(100 * iv.estimate).toFixed(0)}% [${(100 * iv.lo).toFixed(0)}, ${(100 * iv.hi).toFixed(0)}]` : '—');
    ctx.log(`[eval] held-out safety (${heldOut.safetyPrompts} prompts): SFT ${pct(sIv.sft)}, RL ${pct(sIv.final)}; final vs SFT safety ${t.win}/${t.tie}/${t.loss} (sign test p = ${heldOut.signTests.safety.p.toFixed(3)})`);
    ctx.log(`[eval] safety gate: final = ${heldOut.gate.chosen === 'rl' ? 'the RL model' : 'the SFT model'} (${heldOut.gate.reason})`);
  }
  writeJsonl(join(dir, 'answers.jsonl'), rows);
  markDone(ctx, 'eval', results as unknown as Record<string, unknown>);
  return results;
}
