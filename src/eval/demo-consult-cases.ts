// demo-consult-cases.ts — simulated-patient cases for the demo pipeline, built from the demo knowledge base and the
// run's held-out dialogues. The opening is the first patient turn of a held-out (dev) consultation whose text no
// training dialogue opens with; the facts are the follow-up questions the knowledge base lists for that dialogue's
// condition, and every other case also carries one of the condition's red flags, revealed with the first question's
// answer. What is not held out: the conditions and the KB's questions and answers all occur in training (the demo KB
// has no held-out conditions). No consultation loop here (consult.ts).
import type { Conversation } from '../data/types.js';
import { conditions } from '../data/demo/kb.js';
import type { Condition } from '../data/demo/kb-schema.js';
import type { CaseFact, ConsultCase } from './consult.js';

/** What the cases were built from, for the report: how many held-out openings were usable and why others were not. */
export interface DemoConsultSource {
  cases: number;
  /** held-out consultations whose opening text also opens a training dialogue (left out) */
  seenOpenings: number;
  /** held-out consultations without a known KB condition (left out) */
  noCondition: number;
  about: string;
}

export const DEMO_CONSULT_ABOUT = 'openings: first patient turns of held-out (dev) consultations that no training dialogue opens with; ' +
  'facts: the knowledge base\'s follow-up questions for the dialogue\'s condition, answered from its listed answers, and on every other case one of ' +
  'the condition\'s red flags, told together with the first question\'s answer. The conditions themselves, and the KB questions, also occur in training';

const LEAD = /^(?:请问|平时|一般|最近|之前|以前|您|你)+|^(?:有没有|是不是|有无)/;

/** Question clauses of a KB follow-up question (its words without the leading filler), each ≥ 2 characters. */
function clauses(ask: string): string[] {
  return ask.split(/[，,、？?；;]|或者|还是/).map((x) => x.trim().replace(LEAD, '').replace(LEAD, '')).filter((x) => [...x].length >= 2);
}

/** Keywords for one question: its clauses, and their 4-character openings where no other condition's question shares them. */
function keywordsFor(ask: string, c: Condition): string[] {
  const others = conditions.filter((x) => x.id !== c.id).flatMap((x) => x.questions.flatMap((q) => clauses(q.ask)));
  const ks = new Set<string>();
  for (const cl of clauses(ask)) {
    ks.add(cl);
    const head = [...cl].slice(0, 4).join('');
    if (head !== cl && !others.some((o) => o.startsWith(head))) ks.add(head);
  }
  return [...ks];
}

const stripEnd = (s: string) => s.replace(/[。！？!?]+$/, '');

/** One case from a held-out dialogue of condition `c`; `k` picks which listed answer and whether a red flag rides along. */
export function demoConsultCase(id: string, opening: string, c: Condition, k: number): ConsultCase {
  const facts: CaseFact[] = c.questions.map((q, i) => ({ id: `q${i}`, keywords: keywordsFor(q.ask, c), answer: stripEnd(q.answers[k % q.answers.length]!) }));
  if (k % 2 === 1 && c.redFlags.length && facts.length) {
    const flag = c.redFlags[Math.floor(k / 2) % c.redFlags.length]!;
    // asked about directly, or told while answering the first question (patients volunteer the worrying part)
    facts.push({ id: 'red-flag', keywords: [...new Set([flag, ...facts[0]!.keywords])], answer: `而且${flag}`, redFlag: true });
  }
  return { id, opening, facts, department: c.department };
}

/** Up to n cases from the held-out dialogues `dev`, leaving out openings that a dialogue of `train` starts with. */
export function demoConsultCases(dev: Conversation[], train: Conversation[], n: number): { cases: ConsultCase[]; source: DemoConsultSource } {
  const opening = (c: Conversation) => c.turns.find((t) => t.role === 'user')?.text ?? '';
  const seen = new Set(train.map(opening));
  const byId = new Map(conditions.map((c) => [c.id, c]));
  const cases: ConsultCase[] = [];
  let seenOpenings = 0, noCondition = 0;
  for (const d of dev) {
    if (cases.length >= n) break;
    if (d.meta.safety || d.turns.filter((t) => t.role === 'assistant').length < 2) continue;
    const c = byId.get(d.meta.extra?.condition ?? '');
    if (!c) { noCondition++; continue; }
    const text = opening(d);
    if (!text || seen.has(text)) { seenOpenings++; continue; }
    cases.push(demoConsultCase(`consult-${d.meta.id ?? cases.length}`, text, c, cases.length));
  }
  return { cases, source: { cases: cases.length, seenOpenings, noCondition, about: DEMO_CONSULT_ABOUT } };
}
