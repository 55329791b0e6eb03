// report.ts — the evaluation report: one JSON object (EvalReport) and a self-contained HTML page drawn from it
// (inline CSS and SVG, no scripts, no network): paper-style stacked win/tie/loss bars per opponent and dimension with
// failures as their own segment, answer-metric, MCQ, perplexity and agreement tables, and example items.
// Rubric tables, simulated-patient consultations with both sides' transcripts, and the statistics (bootstrap 95 %
// intervals on win rates and accuracies, the sign test) drawn through stats.ts; the other numbers come from
// pairwise.ts, metrics.ts, mcq.ts, perplexity.ts, rubric-score.ts and consult.ts.
import type { AnswerMetrics } from './metrics.js';
import type { McqTable } from './mcq.js';
import type { PairwiseResult, Kappa, Tally } from './pairwise.js';
import type { PerplexityResult } from './perplexity.js';
import type { Dimension, EvalItem, Outcome, PairVerdict } from './types.js';
import { OUTCOMES } from './types.js';
import { bootstrapProportion, formatInterval, signTest } from './stats.js';
import type { RubricComparison, RubricTable } from './rubric-score.js';
import type { ConsultOutcome, ConsultSummary } from './consult.js';

export interface ReportExample {
  itemId: string;
  history: { role: string; text: string }[];
  prompt: string;
  answers: { model: string; text: string }[];
  verdicts: { judge: string; outcomes: Partial<Record<Dimension, Outcome>>; note?: string }[];
}

export interface EvalReport {
  title: string;
  createdAt: string;
  /** caveats shown at the top (e.g. which judge is a demo stand-in) */
  notes: string[];
  pairwise: PairwiseResult[];
  answerMetrics: AnswerMetrics[];
  mcq: { model: string; data: string; table: McqTable }[];
  perplexity: { model: string; data: string; result: PerplexityResult }[];
  agreement: { judges: [string, string]; dimension: Dimension; kappa: Kappa }[];
  examples: ReportExample[];
  /** located problems met while reading inputs (file:line: …) */
  problems: string[];
  rubric?: { data: string; judge: string; tables: RubricTable[]; comparisons: RubricComparison[] }[];
  consult?: { summary: ConsultSummary; outcomes: ConsultOutcome[] }[];
}

export function emptyReport(title: string): EvalReport {
  return { title, createdAt: new Date().toISOString(), notes: [], pairwise: [], answerMetrics: [], mcq: [], perplexity: [], agreement: [], examples: [], problems: [] };
}

/**
 * Up to `k` example items for the report: the first items where A and B got different decided outcomes, then any
 * with a failure, then the rest, so a reader sees both disagreements and problems.
 */
export function pickExamples(items: EvalItem[], answers: Map<string, Map<string, string>>, results: PairwiseResult[], k = 6): ReportExample[] {
  const byItem = new Map<string, { judge: string; v: PairVerdict }[]>();
  for (const r of results) for (const v of r.verdicts) byItem.set(v.itemId, [...(byItem.get(v.itemId) ?? []), { judge: `${r.judge} · ${r.a} vs ${r.b}`, v }]);
  const score = (id: string) => {
    const vs = byItem.get(id) ?? [];
    const outs = vs.flatMap((x) => Object.values(x.v.outcomes));
    if (outs.some((o) => o === 'win' || o === 'loss')) return 0;
    if (outs.some((o) => o === 'unparseable' || o === 'error' || o === 'missing')) return 1;
    return 2;
  };
  const chosen = [...items].map((it, i) => ({ it, i, s: score(it.id) })).sort((a, b) => a.s - b.s || a.i - b.i).slice(0, k);
  return chosen.map(({ it }) => ({
    itemId: it.id,
    history: it.history.map((t) => ({ role: t.role, text: t.text })),
    prompt: it.prompt,
    answers: [...answers.entries()].map(([model, m]) => ({ model, text: m.get(it.id) ?? '(missing)' })),
    verdicts: (byItem.get(it.id) ?? []).map(({ judge, v }) => {
      const e: ReportExample['verdicts'][number] = { judge, outcomes: v.outcomes };
      if (v.note) e.note = v.note;
      return e;
    }),
  }));
}

// ---------------------------------------------------------------- HTML

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (x: number | null | undefined, d = 1) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(d)}%`);
const num = (x: number | null | undefined, d = 3) => (x === null || x === undefined ? '—' : x.toFixed(d));

const COLORS: Record<Outcome, string> = {
  win: '#2e7d32', tie: '#b0a160', loss: '#c62828', unparseable: '#6a1b9a', error: '#37474f', missing: '#9e9e9e',
};
const LABELS: Record<Outcome, string> = {
  win: 'win', tie: 'tie', loss: 'loss', unparseable: 'unparseable verdict', error: 'judge/API error', missing: 'missing answer',
};

/** One stacked bar: every outcome as a share of all items, so failures take visible room instead of vanishing. */
function barSvg(t: Tally, width = 460, height = 26): string {
  if (t.total === 0) return `<svg class="bar" width="${width}" height="${height}" role="img" aria-label="no items"><rect width="${width}" height="${height}" fill="#eee"/></svg>`;
  let x = 0;
  const parts: string[] = [];
  for (const o of OUTCOMES) {
    const n = t[o];
    if (!n) continue;
    const w = (n / t.total) * width;
    parts.push(`<rect class="seg" data-outcome="${o}" data-count="${n}" x="${x.toFixed(2)}" y="0" width="${w.toFixed(2)}" height="${height}" fill="${COLORS[o]}"><title>${LABELS[o]}: ${n} of ${t.total} (${pct(n / t.total)})</title></rect>`);
    if (w > 34) parts.push(`<text x="${(x + w / 2).toFixed(2)}" y="${height / 2 + 4}" text-anchor="middle" fill="#fff" font-size="11">${pct(n / t.total, 0)}</text>`);
    x += w;
  }
  return `<svg class="bar" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(OUTCOMES.map((o) => `${o} ${t[o]}`).join(', '))}">${parts.join('')}</svg>`;
}

function legend(): string {
  return `<div class="legend">${OUTCOMES.map((o) => `<span><i style="background:${COLORS[o]}"></i>${LABELS[o]}</span>`).join('')}</div>`;
}

function pairwiseSection(rs: PairwiseResult[]): string {
  if (!rs.length) return '';
  const rows: string[] = [];
  for (const r of rs) for (const d of r.dimensions) {
    const t = r.tallies[d];
    if (!t) continue;
    const decided = t.win + t.tie + t.loss;
    const conflicts = r.positionConflicts[d] ?? 0;
    rows.push(`<tr class="pair" data-a="${esc(r.a)}" data-b="${esc(r.b)}" data-dimension="${d}">
<td>${esc(r.a)} <span class="vs">vs</span> ${esc(r.b)}</td><td>${d === 'ability' ? 'ability &amp; fluency' : 'safety'}</td><td>${esc(r.judge)}</td>
<td>${barSvg(t)}</td>
<td class="n">${t.win} / ${t.tie} / ${t.loss}</td><td class="n">${decided ? `${pct(t.win / decided)} / ${pct(t.tie / decided)} / ${pct(t.loss / decided)}` : '—'}</td>
<td class="n">${decided ? formatInterval(bootstrapProportion(t.win, decided), 1, 100) : '—'}</td><td class="n">${signTest(t.win, t.loss, t.tie).p.toFixed(4)}</td>
<td class="n fail">${t.unparseable} / ${t.error} / ${t.missing}</td><td class="n">${conflicts}</td><td class="n">${t.total}</td></tr>`);
  }
  return `<h2>Pairwise comparison (win / tie / loss of the first system)</h2>${legend()}
<table><thead><tr><th>systems</th><th>dimension</th><th>judge</th><th>all items</th><th>W / T / L</th><th>W / T / L of decided</th><th>win % of decided [95 % CI]</th><th>sign test p<br>(W vs L)</th><th>unparseable /<br>error / missing</th><th>order conflicts<br>(counted as ties)</th><th>items</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

function metricsSection(ms: AnswerMetrics[]): string {
  if (!ms.length) return '';
  const rows = ms.map((m) => `<tr><td>${esc(m.model)}</td><td class="n">${m.records}</td><td class="n fail">${m.missing} (${m.errors} errors)</td>
<td class="n">${pct(m.inquiry.rate)} (${m.inquiry.count}/${m.inquiry.of})</td><td class="n">${num(m.distinct1)}</td><td class="n">${num(m.distinct2)}</td>
<td class="n">${num(m.length.mean, 1)} / ${num(m.length.median, 1)}</td>
<td class="n">${m.safetyCare ? `${pct(m.safetyCare.rate)} (${m.safetyCare.count}/${m.safetyCare.of})` : '—'}</td></tr>`);
  return `<h2>Answer metrics</h2><table><thead><tr><th>model</th><th>answers</th><th>missing</th><th>proactive inquiry</th><th>distinct-1</th><th>distinct-2</th><th>length mean / median (chars)</th><th>safety prompts: refuse or redirect</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function mcqSection(ms: EvalReport['mcq']): string {
  return ms.map(({ model, data, table }) => {
    const tr = (r: McqTable['overall'], cls = '') => `<tr class="${cls}"><td>${esc(r.subject)}</td><td class="n">${r.items}</td><td class="n">${r.scored}</td><td class="n fail">${r.missingGold}</td><td class="n">${r.correct}</td><td class="n fail">${r.unparseable} / ${r.errors}</td><td class="n">${pct(r.accuracy)}</td><td class="n">${r.scored ? formatInterval(bootstrapProportion(r.correct, r.scored), 1, 100) : '—'}</td></tr>`;
    return `<h2>Multiple choice: ${esc(model)} on ${esc(data)}</h2><table><thead><tr><th>subject</th><th>items</th><th>with gold</th><th>gold missing</th><th>correct</th><th>unparseable / error</th><th>accuracy</th><th>% [95 % CI]</th></tr></thead>
<tbody>${table.rows.map((r) => tr(r)).join('')}${tr(table.overall, 'total')}</tbody></table><p>macro accuracy over subjects: ${pct(table.macroAccuracy)}</p>`;
  }).join('\n');
}

function pplSection(ps: EvalReport['perplexity']): string {
  if (!ps.length) return '';
  return `<h2>Held-out text</h2><table><thead><tr><th>model</th><th>data</th><th>texts</th><th>tokens</th><th>unscored</th><th>chars</th><th>perplexity</th><th>bits/char</th></tr></thead><tbody>${ps.map(({ model, data, result: r }) =>
    `<tr><td>${esc(model)}</td><td>${esc(data)}</td><td class="n">${r.texts}</td><td class="n">${r.tokens}</td><td class="n">${r.unscoredTokens}</td><td class="n">${r.chars}</td><td class="n">${num(r.perplexity, 2)}</td><td class="n">${num(r.bitsPerChar, 3)}</td></tr>`).join('')}</tbody></table>`;
}

function agreementSection(as: EvalReport['agreement']): string {
  if (!as.length) return '';
  return `<h2>Judge agreement (Cohen's κ)</h2><table><thead><tr><th>judges</th><th>dimension</th><th>items</th><th>excluded</th><th>observed</th><th>chance</th><th>κ</th></tr></thead><tbody>${as.map((a) =>
    `<tr><td>${esc(a.judges[0])} · ${esc(a.judges[1])}</td><td>${a.dimension}</td><td class="n">${a.kappa.n}</td><td class="n">${a.kappa.excluded}</td><td class="n">${pct(a.kappa.observed)}</td><td class="n">${pct(a.kappa.expected)}</td><td class="n">${num(a.kappa.kappa)}</td></tr>`).join('')}</tbody></table>`;
}

function examplesSection(es: ReportExample[]): string {
  if (!es.length) return '';
  return `<h2>Example items</h2>${es.map((e) => `<details class="ex"><summary>${esc(e.itemId)} — ${esc(e.prompt.slice(0, 60))}</summary>
${e.history.map((t) => `<p class="${t.role}"><b>${t.role === 'user' ? 'patient' : t.role === 'assistant' ? 'doctor' : t.role}:</b> ${esc(t.text)}</p>`).join('')}
<p class="user"><b>patient:</b> ${esc(e.prompt)}</p>
${e.answers.map((a) => `<div class="ans"><b>${esc(a.model)}</b><pre>${esc(a.text)}</pre></div>`).join('')}
${e.verdicts.map((v) => `<p class="verdict">${esc(v.judge)}: ${Object.entries(v.outcomes).map(([d, o]) => `${d} <b>${o}</b>`).join(', ')}${v.note ? ` — ${esc(v.note)}` : ''}</p>`).join('')}
</details>`).join('\n')}`;
}

function rubricSection(rs: EvalReport['rubric']): string {
  return (rs ?? []).map((x) => {
    const t0 = x.tables[0];
    if (!t0) return '';
    const head = t0.criteria.map((c) => `<th>${esc(c.name)}</th>`).join('');
    const rows = x.tables.map((t) => `<tr class="rubric" data-model="${esc(t.model)}"><td>${esc(t.model)}</td><td class="n">${t.items}</td>${t.criteria.map((c) =>
      `<td class="n">${formatInterval(c.ci)} <span class="fail">n=${c.n}${c.missing + c.outOfRange + c.unparseable + c.errors ? `; missing ${c.missing}, off-scale ${c.outOfRange}, unparseable ${c.unparseable}, errors ${c.errors}` : ''}</span></td>`).join('')}
<td class="n">${formatInterval(t.overall.ci)} <span class="fail">n=${t.overall.n}, excluded ${t.overall.excluded}</span></td></tr>`).join('');
    const cmp = x.comparisons.length ? `<table><thead><tr><th>A vs B</th><th>criterion</th><th>pairs</th><th>A higher / lower / equal</th><th>sign test p</th></tr></thead><tbody>${x.comparisons.map((c) =>
      `<tr><td>${esc(c.a)} vs ${esc(c.b)}</td><td>${esc(c.criterion)}</td><td class="n">${c.pairs}</td><td class="n">${c.test.wins} / ${c.test.losses} / ${c.test.ties}</td><td class="n">${c.test.p.toFixed(4)}</td></tr>`).join('')}</tbody></table>` : '';
    return `<h2>Rubric scores (${esc(t0.rubric)}, scale ${t0.scale.min}–${t0.scale.max}) on ${esc(x.data)} · judge ${esc(x.judge)}</h2><p>mean [bootstrap 95 % CI]; failures are counted beside each mean, never scored.</p>
<table><thead><tr><th>model</th><th>items</th>${head}<th>overall</th></tr></thead><tbody>${rows}</tbody></table>${cmp}`;
  }).join('\n');
}

function consultSection(cs: EvalReport['consult']): string {
  return (cs ?? []).map(({ summary: s, outcomes }) => `<h2>Simulated-patient consultations: ${esc(s.doctor)} with ${esc(s.patient)}</h2>
<table><thead><tr><th>cases</th><th>advised</th><th>mean turns to advice</th><th>mean questions before advice</th><th>facts elicited</th><th>red flags handled / not urged / missed</th><th>errors</th></tr></thead>
<tbody><tr class="consult"><td class="n">${s.cases}</td><td class="n">${s.advised}</td><td class="n">${num(s.meanTurnsToAdvice, 2)}</td><td class="n">${num(s.meanQuestionsBeforeAdvice, 2)}</td>
<td class="n">${s.factsElicited} / ${s.factsTotal} (${s.factsTotal ? formatInterval(bootstrapProportion(s.factsElicited, s.factsTotal), 1, 100) : '—'})</td>
<td class="n">${s.redFlag.handled} / ${s.redFlag.notUrged} / ${s.redFlag.missed}</td><td class="n fail">${s.errors}</td></tr></tbody></table>
${outcomes.map((o) => `<details class="ex transcript"><summary>${esc(o.caseId)} — advice at turn ${o.turnsToAdvice ?? '—'}, ${o.questionsBeforeAdvice} questions, facts ${o.factsElicited.length}/${o.factsTotal}, red flag ${o.redFlag}${o.adviceScore !== undefined ? `, advice score ${num(o.adviceScore, 2)}` : ''}${o.error ? `, error: ${esc(o.error)}` : ''}</summary>
${o.transcript.map((t) => `<p class="${t.role}"><b>${t.role === 'user' ? 'patient (simulated)' : 'doctor (model)'}:</b> ${esc(t.text)}</p>`).join('')}</details>`).join('\n')}`).join('\n');
}

export function renderReportHtml(r: EvalReport): string {
  const css = `body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:middle}th{font-weight:600;background:#f6f6f6}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.fail{color:#6a1b9a}tr.total td{font-weight:600}.vs{color:#888}
.legend span{margin-right:14px;font-size:12px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}
.notes{background:#fff8e1;border-left:4px solid #f9a825;padding:6px 12px}.problems{background:#fce4ec;border-left:4px solid #c62828;padding:6px 12px}
pre{white-space:pre-wrap;background:#fafafa;padding:6px;margin:2px 0}details.ex{border:1px solid #ddd;padding:6px 10px;margin:6px 0}p.verdict{color:#333;font-size:13px}`;
  return `<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>${esc(r.title)}</title><style>${css}</style></head>
<body><h1>${esc(r.title)}</h1><p>generated ${esc(r.createdAt)} by zhongjing eval. Research output, not medical advice.</p>
${r.notes.length ? `<div class="notes">${r.notes.map((n) => `<p>${esc(n)}</p>`).join('')}</div>` : ''}
${r.problems.length ? `<div class="problems"><p><b>${r.problems.length} input problems</b> (counted, not dropped):</p><ul>${r.problems.slice(0, 50).map((p) => `<li>${esc(p)}</li>`).join('')}</ul>${r.problems.length > 50 ? `<p>… and ${r.problems.length - 50} more (see the JSON report)</p>` : ''}</div>` : ''}
${pairwiseSection(r.pairwise)}
${agreementSection(r.agreement)}
${metricsSection(r.answerMetrics)}
${mcqSection(r.mcq)}
${rubricSection(r.rubric)}
${consultSection(r.consult)}
${pplSection(r.perplexity)}
${examplesSection(r.examples)}
</body></html>
`;
}
