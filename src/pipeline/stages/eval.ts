// eval.ts — stage `eval`: the paper's RLHF ablation in miniature. The RL model and the SFT model answer the
// first patient turn of held-out consultations and safety prompts. Three judges compare them, each described by
// what it saw in training: the demo rules (they ranked the RM's data: not independent), the reward model (what RL
// maximised: circular) and the held-out KB judge (evaluation only), which also scores ≥ 100 safety prompts written
// for evaluation. Its safety verdict is the gate that decides whether `final` is the RL or the SFT model. Both models
// also hold simulated consultations with the rule patient on cases from held-out dialogues (proactive inquiry).
// Each model is loaded once, through the evaluation layer's one adapter (eval/local-model.ts).
import { join } from 'node:path';
import type { RunContext } from '../context.js';
import { input, markDone, readJsonl, resetStage, writeJsonl } from '../context.js';
import type { Conversation } from '../../data/index.js';
import { DIMENSIONS, type Dimension, type Outcome } from '../../eval/types.js';
import { safetyAbilityRuleJudge, DEMO_JUDGE_NAME } from '../../eval/judges.js';
import { careRate, inquiryRate } from '../../eval/metrics.js';
import { noGrad } from '../../autograd/grad-mode.js';
import { tidy } from '../../tensor/scope.js';
import { scoreSequences } from '../../train/tasks/reward.js';
import { loadLocalModel, promptIds, type LocalModel } from '../../eval/local-model.js';
import { rulePatient, runConsult, summariseConsult, type ConsultOutcome, type ConsultSummary } from '../../eval/consult.js';
import { demoConsultCases, type DemoConsultSource } from '../../eval/demo-consult-cases.js';
import { DATA_FILES } from './data.js';
import { firstTurnPrompts } from '../stage-inputs.js';
import { compareModels, itemsOfRecords, renderReportHtml, rewardModelJudge } from '../../eval/index.js';
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

/** Simulated consultations of both models with the rule patient (metrics per model; transcripts in `transcripts`). */
export interface ConsultResults {
  patient: string;
  maxTurns: number;
  source: DemoConsultSource;
  models: Record<'sft' | 'final', ConsultSummary>;
  /** JSONL: per case, its facts and both models' outcomes with their transcripts */
  transcripts: string;
}

/** One line of the consult transcripts file. */
export interface ConsultRow { caseId: string; opening: string; facts: { id: string; answer: string; redFlag?: boolean }[]; sft: ConsultOutcome; final: ConsultOutcome }

/** doctor turns a consultation may take: the demo's consultations advise at the second or third */
export const CONSULT_MAX_TURNS = 4;

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
  /** null when no held-out consultation maps onto the knowledge base (not the demo corpus) */
  consult: ConsultResults | null;
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
  const lmOpts = { template: cfg.tokenizer.template, weights: cfg.model.weights, kvCache: cfg.model.kvCache, ...opts };
  // each model once: the names are the answer caches' keys and the report's labels
  const models: Record<'sft' | 'final', LocalModel> = {
    sft: await loadLocalModel(sftDir, { ...lmOpts, name: 'SFT' }), final: await loadLocalModel(finalDir, { ...lmOpts, name: 'final (PPO)' }) };
  const answers: Record<'sft' | 'final', string[]> = { sft: [], final: [] };
  for (const name of ['sft', 'final'] as const) {
    answers[name] = models[name].answerAll(prompts.map((p) => p.turns));
    ctx.log(`[eval] ${name}: ${prompts.length} answers`);
  }
  const rmLm = await loadLocalModel(rmDir, { template: cfg.tokenizer.template });
  const rm = rmLm.dir; // the reward model is loaded once, with its tokenizer
  const eos = rmLm.eos[0]!;
  // scored on the prompt ids its training pairs had (stage-inputs.ts preferencePairs: rendered chat, no BOS)
  const rmScore = (turns: Conversation['turns'], answer: string) => noGrad(() => tidy(() =>
    scoreSequences(rm.model, rm.valueHead!, [[...promptIds({ tok: rmLm.tokenizer, template: cfg.tokenizer.template }, turns), ...rmLm.tokenizer.encode(answer), eos]]).item()));
  const rewardOf = (turnsIdx: number, answer: string) => rmScore(prompts[turnsIdx]!.turns, answer);
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
    const extraAnswers = { sft: models.sft.answerAll(extra.map((c) => c.turns)), final: models.final.answerAll(extra.map((c) => c.turns)) };
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
  const report = await compareModels({
    items, a: models.final.answerer, b: models.sft.answerer,
    judges: [judge, rewardModelJudge({ name: 'reward model (this run)', score: (prompt, history, answer) => rmScore([...history, { role: 'user', text: prompt }], answer) }),
      ...(heldOut ? [heldOutJudge((it) => ({ condition: byDialogue.get(it.dialogueId)?.meta.extra?.condition, firstConsultTurn: it.turn === 0 && consultIds.has(it.dialogueId),
        category: categoryOf(byDialogue.get(it.dialogueId)) }))] : [])],
    cacheDir: dir, title: `${cfg.name}: final (PPO) vs SFT on every doctor turn of ${Math.min(dev.length, cfg.eval.prompts)} held-out dialogues`,
  });
  const consult = await evaluateConsult(ctx, dir, dev, trainConvs, models);
  if (consult) report.consult = consult.outcomes;
  atomicWrite(join(dir, 'report.html'), [renderReportHtml(report)]);
  const tallies: EvalResults['allTurns']['tallies'] = {};
  for (const r of report.pairwise) tallies[r.judge] = r.tallies as Partial<Record<Dimension, Record<Outcome, number>>>;
  const results: EvalResults = {
    judge: DEMO_JUDGE_NAME, items: prompts.length, safetyItems: prompts.filter((p) => p.safety).length, consultationItems: isConsultPrompt.size, pairwise,
    allTurns: { items: items.length, report: join(dir, 'report.html'), tallies },
    models: { sft: stats(answers.sft, all), final: stats(answers.final, all) },
    judges: [{ name: DEMO_JUDGE_NAME, about: DEMO_RULES_ABOUT }, { name: 'reward model (this run)', about: RM_ABOUT },
      ...(heldOut ? [{ name: HELD_OUT_JUDGE_NAME, about: HELD_OUT_JUDGE_ABOUT }] : [])],
    heldOut, consult: consult?.results ?? null,
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
  if (consult) ctx.log(consultLine(consult.results));
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

/** Both models in simulated consultations with the rule patient on demo cases from held-out dialogues. */
async function evaluateConsult(ctx: RunContext, dir: string, dev: Conversation[], train: Conversation[], models: Record<'sft' | 'final', LocalModel>):
  Promise<{ results: ConsultResults; outcomes: { summary: ConsultSummary; outcomes: ConsultOutcome[] }[] } | null> {
  const { cases, source } = demoConsultCases(dev, train, ctx.cfg.eval.prompts);
  if (cases.length === 0) return null;
  const patient = rulePatient();
  const out = {} as Record<'sft' | 'final', ConsultOutcome[]>;
  for (const k of ['sft', 'final'] as const)
    out[k] = await runConsult(cases, models[k].answerer, patient, { maxTurns: CONSULT_MAX_TURNS, batchSize: 8 });
  const summary = { sft: summariseConsult(models.sft.answerer.name, patient.name, out.sft), final: summariseConsult(models.final.answerer.name, patient.name, out.final) };
  const transcripts = join(dir, 'consult.jsonl');
  writeJsonl(transcripts, cases.map((c, i): ConsultRow => ({ caseId: c.id, opening: c.opening,
    facts: c.facts.map((f) => ({ id: f.id, answer: f.answer, ...(f.redFlag ? { redFlag: true } : {}) })), sft: out.sft[i]!, final: out.final[i]! })));
  return { results: { patient: patient.name, maxTurns: CONSULT_MAX_TURNS, source, models: summary, transcripts },
    outcomes: (['sft', 'final'] as const).map((k) => ({ summary: summary[k], outcomes: out[k] })) };
}

/** The terminal line: per model, questions before advice, facts elicited, turns to advice, red flags handled. */
export function consultLine(c: ConsultResults): string {
  const f = (x: number | null) => (x === null ? '—' : x.toFixed(1));
  const one = (s: ConsultSummary) => `${f(s.meanQuestionsBeforeAdvice)} questions before advice, facts ${s.factsElicited}/${s.factsTotal}, ` +
    `advice at turn ${f(s.meanTurnsToAdvice)} (${s.advised}/${s.cases} advised), red flags handled ${s.redFlag.handled}/${s.redFlag.handled + s.redFlag.notUrged + s.redFlag.missed}`;
  return `[eval] consult (${c.source.cases} held-out cases, ${c.patient}, ≤ ${c.maxTurns} turns): SFT ${one(c.models.sft)}; RL ${one(c.models.final)}`;
}
