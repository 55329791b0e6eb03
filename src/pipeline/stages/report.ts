// report.ts — stage `report`: the run's HTML report (stages, loss curves, evaluation, held-out safety, consultations)
// from what the earlier stages wrote.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type RunContext, input, markDone, readJsonl, readSummary, resetStage, stageDir } from '../context.js';
import { STAGES } from '../config.js';
import { readMetrics } from '../../train/loop.js';
import type { Conversation } from '../../data/index.js';
import { loadLocalModel } from '../../eval/local-model.js';
import { DATA_FILES } from './data.js';
import type { ConsultResults, ConsultRow, EvalResults } from './eval.js';
import type { ConsultOutcome, ConsultSummary } from '../../eval/consult.js';
import { esc, lineChart, page, stackedBar, table, type Series } from '../report.js';
import { atomicWrite } from '../../model/atomic.js';
import { firstTurnPrompts } from '../stage-inputs.js';

const series = (rows: Record<string, number>[], key: string, name = key): Series =>
  ({ name, points: rows.filter((r) => typeof r[key] === 'number').map((r) => [r.step!, r[key]!]) });

export async function runReport(ctx: RunContext): Promise<Record<string, unknown>> {
  const { cfg } = ctx;
  const dev = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.dev, 'report'));
  const results = readSummary(ctx, 'eval') as unknown as EvalResults | null;
  if (!results) input(ctx, 'eval', 'done.json', 'report');
  const dir = resetStage(ctx, 'report');
  const m = (s: 'pretrain' | 'sft' | 'rm' | 'ppo') => readMetrics(join(stageDir(ctx, s), 'train'));
  const sections: { title: string; html: string }[] = [];
  // every stage of the recipe: report is this page, export runs after it
  const stageRows = STAGES.map((s) => ({ stage: s, ...(s === 'report' ? { status: 'this report' } : readSummary(ctx, s) ?? { status: s === 'export' ? 'runs after the report' : 'not run' }) }));
  sections.push({ title: 'Stages', html: table(stageRows,
    ['stage', 'status', 'finishedAt', 'steps', 'firstLoss', 'lastLoss', 'devAccuracy', 'devScoreBefore', 'devScoreAfter', 'devKlAfter', 'vocabSize', 'charsPerToken', 'trainDialogues', 'sets']) });
  const pre = m('pretrain'), sft = m('sft'), rm = m('rm'), ppo = m('ppo');
  sections.push({ title: 'Training curves', html: [
    lineChart('pretrain loss', [series(pre, 'loss', 'train'), series(pre, 'eval_loss', 'dev')]),
    lineChart('sft loss (assistant tokens)', [series(sft, 'loss', 'train'), series(sft, 'eval_loss', 'dev')]),
    lineChart('reward model: pairwise loss', [series(rm, 'loss', 'train'), series(rm, 'eval_loss', 'dev')]),
    lineChart('reward model: accuracy', [series(rm, 'accuracy', 'train batch'), series(rm, 'eval_accuracy', 'dev')]),
    lineChart('PPO: mean RM score of rollouts', [series(ppo, 'score', 'rollout'), series(ppo, 'eval_score', 'held-out (greedy)')]),
    lineChart('PPO: KL to the reference (per response)', [series(ppo, 'kl', 'rollout'), series(ppo, 'eval_kl', 'held-out')]),
    lineChart('PPO: entropy, clip fraction, value loss', [series(ppo, 'entropy'), series(ppo, 'clip_frac'), series(ppo, 'value_loss')]),
  ].join('') });
  if (results) {
    const single = results.items - results.consultationItems - results.safetyItems;
    sections.push({ title: `Final model vs SFT model (${results.items} held-out first turns: ${results.consultationItems} consultations, ${results.safetyItems} safety prompts, ${single} single questions)`, html:
      `<p>Judge: <b>${esc(results.judge)}</b>. This is the paper's RLHF ablation in miniature; the judge is a rule set, not doctors.</p>` +
      stackedBar('ability & fluency (final vs SFT)', results.pairwise.ability) + stackedBar('safety (final vs SFT)', results.pairwise.safety) +
      table([results.models.sft, results.models.final].map((x, i) => ({ model: i ? 'RL (PPO/GRPO)' : 'SFT', 'first-turn inquiry rate': x.inquiryRate, 'on-topic rate': x.onTopicRate ?? null,
        'care rate': x.careRate, 'reward score': x.rewardScore, 'mean length': x.meanLength }))) +
      `<p>first-turn inquiry rate: share of the first doctor turns of ${results.consultationItems} held-out multi-turn consultations that ask the patient a question (the evaluation report's <i>every-turn</i> inquiry rate counts every doctor turn, most of which are advice, so it is lower by design); on-topic rate: share of first answers to the non-safety prompts that are about the case's condition (its name, department or textbook advice, or one of the condition's own follow-up questions, checked by the held-out judge); care rate: share of the ${results.safetyItems} safety-prompt answers that refuse or redirect to care; reward score: this run's reward model.</p>` +
      (results.judges ? `<h3>The judges, and what each saw in training</h3><ul>${results.judges.map((j) => `<li><b>${esc(j.name)}</b>: ${esc(j.about)}.</li>`).join('')}</ul>` : '') +
      (results.heldOut ? heldOutHtml(results.heldOut) : '') +
      (results.allTurns ? `<h3>Every doctor turn (${results.allTurns.items} items, true history)</h3>` +
        Object.entries(results.allTurns.tallies).map(([j, t]) => Object.entries(t).map(([d, c]) => stackedBar(`${d} — ${j}`, c as Record<string, number>)).join('')).join('') +
        `<p>Full evaluation report with examples: <code>${esc(results.allTurns.report)}</code></p>` : '') });
  }
  if (results?.consult) sections.push(consultSection(results.consult, readJsonl<ConsultRow>(input(ctx, 'eval', 'consult.jsonl', 'report'))));
  // sample consultations after each stage: the same held-out first turns answered by each checkpoint
  const prompts = firstTurnPrompts(dev).slice(0, 3);
  const samples: string[] = [];
  for (const s of ['pretrain', 'sft', 'ppo'] as const) {
    const d = join(stageDir(ctx, s), 'model');
    if (!existsSync(d)) continue;
    const cm = await loadLocalModel(d, { template: cfg.tokenizer.template });
    const ans = cm.answerAll(prompts.map((p) => p.turns), { maxNewTokens: cfg.eval.maxNewTokens, repetitionPenalty: cfg.eval.repetitionPenalty });
    samples.push(`<h3>after ${s === 'ppo' ? 'ppo (final)' : s}</h3>` + prompts.map((p, i) =>
      `<div class="dialog"><b>患者</b>：${esc(p.turns.at(-1)!.text)}\n<b>模型</b>：${esc(ans[i] || '(empty)')}</div>`).join(''));
  }
  sections.push({ title: 'Sample consultations (held-out first turns, greedy)', html: samples.join('') });
  const html = page(`zhongjing pipeline report — ${cfg.name}`, sections);
  const path = join(dir, 'report.html');
  atomicWrite(path, [html]);
  const summary = { path, sections: sections.length };
  markDone(ctx, 'report', summary);
  return summary;
}

/** The evaluation-only verdict, said plainly: held-out safety rates with intervals, the pairwise tallies, the gate. */
function heldOutHtml(h: NonNullable<EvalResults['heldOut']>): string {
  const pct = (iv: { estimate: number; lo: number; hi: number } | null) => (iv ? `${(100 * iv.estimate).toFixed(1)}% [95% CI ${(100 * iv.lo).toFixed(1)}–${(100 * iv.hi).toFixed(1)}]` : '—');
  const worse = (h.safety.final?.estimate ?? 0) < (h.safety.sft?.estimate ?? 0);
  return `<h3>Held-out judge (evaluation only)</h3>` +
    `<p>On ${h.safetyPrompts} safety prompts written for evaluation only, the RL model did the right thing in ${pct(h.safety.final)} of them and the SFT model in ${pct(h.safety.sft)}.` +
    (worse ? ` <b>The RL model is less safe than the SFT model on these prompts.</b>` : '') + `</p>` +
    stackedBar('safety — held-out judge (RL vs SFT)', h.pairwise.safety) + stackedBar('ability — held-out judge (RL vs SFT)', h.pairwise.ability) +
    `<p>Sign test (ties left out): safety p = ${h.signTests.safety.p.toFixed(3)}, ability p = ${h.signTests.ability.p.toFixed(3)}.</p>` +
    `<p><b>Safety gate:</b> runs/&lt;name&gt;/final is ${h.gate.chosen === 'rl' ? 'the RL model' : 'the SFT model'} — ${esc(h.gate.reason)}.</p>`;
}

/** Proactive inquiry in simulated consultations: the metrics per model, then each case's two transcripts side by side. */
function consultSection(c: ConsultResults, rows: ConsultRow[]): { title: string; html: string } {
  const pct = (a: number, b: number) => (b ? `${a}/${b} (${((100 * a) / b).toFixed(0)}%)` : '—');
  const row = (label: string, s: ConsultSummary) => {
    const flagged = s.redFlag.handled + s.redFlag.notUrged + s.redFlag.missed;
    return { model: label, cases: s.cases, 'questions before advice (mean)': s.meanQuestionsBeforeAdvice, 'facts elicited': pct(s.factsElicited, s.factsTotal),
      'turns to advice (mean, advised cases)': s.meanTurnsToAdvice, advised: pct(s.advised, s.cases),
      'red flags handled / not urged / missed': flagged ? `${s.redFlag.handled} / ${s.redFlag.notUrged} / ${s.redFlag.missed}` : '—', errors: s.errors };
  };
  const transcript = (o: ConsultOutcome) => `<div class="dialog">${o.transcript.map((t) =>
    `<b>${t.role === 'user' ? '患者 (rule patient)' : '医生 (model)'}</b>：${esc(t.text || '(empty)')}`).join('\n')}</div>` +
    `<p class="muted">advice at turn ${o.turnsToAdvice ?? '—'} · ${o.questionsBeforeAdvice} questions · facts ${o.factsElicited.length}/${o.factsTotal} · red flag ${o.redFlag}${o.error ? ` · error: ${esc(o.error)}` : ''}</p>`;
  const cases = rows.map((r) => `<details><summary>${esc(r.caseId)}: ${esc(r.opening)} — facts: ${r.facts.map((f) => esc(f.redFlag ? `${f.answer} (red flag)` : f.answer)).join('；')}</summary>` +
    `<table><tr><th>SFT</th><th>RL (final)</th></tr><tr><td>${transcript(r.sft)}</td><td>${transcript(r.final)}</td></tr></table></details>`).join('');
  return { title: `Simulated consultations (${c.source.cases} held-out cases, ${c.patient}, up to ${c.maxTurns} doctor turns)`, html:
    `<p>The model under test talks with a scripted patient who reveals a case fact only when a doctor's question asks about it. Cases — ${esc(c.source.about)}` +
    ` (${c.source.seenOpenings} held-out openings that also open a training dialogue were left out).</p>` +
    table([row('SFT', c.models.sft), row('RL (final)', c.models.final)]) +
    `<p>questions before advice: question sentences in the doctor turns before the first turn that asks nothing; facts elicited: case facts a question asked about; ` +
    `turns to advice: the first doctor turn without a question (cases never advised within ${c.maxTurns} turns are left out of the mean); red flag: handled = urgent care urged after the patient told it, not urged = told but no urgent advice after, missed = never asked about.</p>` +
    `<h3>Transcripts</h3>${cases}<p>All transcripts: <code>${esc(c.transcripts)}</code></p>` };
}
