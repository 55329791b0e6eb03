// consult.ts — simulated-patient evaluation of proactive inquiry: a patient (a scripted rule patient, or an LLM over
// the OpenAI API) plays a case that reveals each fact only when the doctor asks about it; the model under test
// converses up to N doctor turns. Metrics per case: questions before advice, case facts elicited, turns to advice,
// red-flag handling, and optionally the final advice rubric-scored. Question and urgency detection are the medical
// rules' (src/data/medical-rules.ts). No report drawing here (report.ts).
import { inquiryQuestions, refusesOrRedirects } from '../data/medical-rules.js';
import { ChatClient, type ApiConfig } from './openai-client.js';
import type { Answerer } from './generate.js';
import type { Turn } from '../data/types.js';

export interface CaseFact {
  id: string;
  /** words in a doctor's question that mean it asks about this fact (any one matches) */
  keywords: string[];
  /** what the patient says when asked */
  answer: string;
  /** the fact is a red flag: once revealed, the doctor should urge urgent care */
  redFlag?: boolean;
}

export interface ConsultCase { id: string; opening: string; facts: CaseFact[]; department?: string }

export interface Patient {
  name: string;
  /** the patient's next message given the conversation so far (last turn is the doctor's), or null to end */
  reply(c: ConsultCase, turns: Turn[]): Promise<string | null>;
}

/** Facts a doctor turn asks about: a keyword inside one of its question sentences. */
export function factsAsked(c: ConsultCase, doctorText: string): CaseFact[] {
  const qs = inquiryQuestions(doctorText).join('\n');
  return c.facts.filter((f) => f.keywords.some((k) => qs.includes(k)));
}

/** The scripted patient: answers the facts asked about, says it does not know otherwise, thanks and ends after advice. */
export function rulePatient(): Patient {
  return {
    name: 'rule-patient',
    async reply(c, turns) {
      const doc = turns[turns.length - 1]!.text;
      if (inquiryQuestions(doc).length === 0) return null;
      const f = factsAsked(c, doc);
      return f.length ? f.map((x) => x.answer).join('，') : '这个我不太清楚。';
    },
  };
}

/** A patient played by an LLM from the case, told to reveal a fact only when asked about it. */
export function llmPatient(api: ApiConfig): Patient & { client: ChatClient } {
  const client = new ChatClient(api);
  return {
    name: `llm-patient:${api.model}`, client,
    async reply(c, turns) {
      if (inquiryQuestions(turns[turns.length - 1]!.text).length === 0) return null;
      const system = `你在扮演一位来看病的患者。你最开始说：“${c.opening}”\n以下是你的情况，只有医生问到时才说出对应的内容，不要主动说，不要编造别的症状：\n` +
        c.facts.map((f) => `- ${f.answer}`).join('\n') + '\n医生问到你不知道的事就说不清楚。每次只用一两句话回答。';
      // roles flip: to the patient model, the doctor is the user
      const msgs = turns.map((t) => ({ role: t.role === 'user' ? 'assistant' as const : 'user' as const, content: t.text }));
      return (await client.chat([{ role: 'system', content: system }, ...msgs], { temperature: 0 })).content.trim();
    },
  };
}

export interface ConsultOutcome {
  caseId: string;
  transcript: Turn[];
  /** 1-based doctor turn that gave advice without asking anything, or null if none within maxTurns */
  turnsToAdvice: number | null;
  questionsBeforeAdvice: number;
  factsElicited: string[];
  factsTotal: number;
  /** n/a: the case has no red flag; missed: never asked about; not-urged: revealed but no urgent care advised */
  redFlag: 'n/a' | 'handled' | 'not-urged' | 'missed';
  adviceScore?: number | null;
  error?: string;
}

export interface ConsultOptions {
  maxTurns?: number;
  /** scores the final doctor turn in context (e.g. a rubric judge's overall), null when it could not */
  scoreAdvice?: (c: ConsultCase, transcript: Turn[]) => Promise<number | null>;
  onProgress?: (done: number, total: number) => void;
  /** cases whose doctor turns are generated together (a local model's left-padded batch); needs doctor.answerBatch.
   * Default 1: one case after another. A deterministic doctor and patient give the same outcomes either way. */
  batchSize?: number;
}

/** One consultation in progress: its transcript, what was asked, whether it has ended. */
interface Running { c: ConsultCase; turns: Turn[]; r: ConsultOutcome; asked: Set<string>; flagSeenAt: number; urged: boolean; done: boolean }

function start(c: ConsultCase): Running {
  const turns: Turn[] = [{ role: 'user', text: c.opening }];
  return { c, turns, asked: new Set(), flagSeenAt: -1, urged: false, done: false,
    r: { caseId: c.id, transcript: turns, turnsToAdvice: null, questionsBeforeAdvice: 0, factsElicited: [], factsTotal: c.facts.length, redFlag: 'n/a' } };
}

/** Doctor turn k (1-based) of a running case has been answered with `a`: count it, and let the patient reply. */
async function step(s: Running, k: number, a: string, patient: Patient, maxTurns: number): Promise<void> {
  s.turns.push({ role: 'assistant', text: a });
  if (s.flagSeenAt >= 0 && refusesOrRedirects(a).urgent) s.urged = true;
  const qs = inquiryQuestions(a);
  if (qs.length === 0) { s.r.turnsToAdvice = k; s.done = true; return; }
  s.r.questionsBeforeAdvice += qs.length;
  for (const f of factsAsked(s.c, a)) { s.asked.add(f.id); if (f.redFlag && s.flagSeenAt < 0) s.flagSeenAt = k; }
  if (k === maxTurns) { s.done = true; return; }
  const p = await patient.reply(s.c, s.turns);
  if (p === null) { s.done = true; return; }
  s.turns.push({ role: 'user', text: p });
}

async function finish(s: Running, o: ConsultOptions): Promise<ConsultOutcome> {
  const { r, c } = s;
  if (!r.error && o.scoreAdvice && r.turnsToAdvice !== null) {
    try { r.adviceScore = await o.scoreAdvice(c, s.turns); } catch (e) { r.error = (e as Error).message; }
  }
  r.factsElicited = c.facts.filter((f) => s.asked.has(f.id)).map((f) => f.id);
  if (c.facts.some((f) => f.redFlag)) r.redFlag = s.flagSeenAt < 0 ? 'missed' : s.urged ? 'handled' : 'not-urged';
  return r;
}

/** Runs each case: patient opens, doctor answers, patient replies, … until the doctor advises or maxTurns. */
export async function runConsult(cases: ConsultCase[], doctor: Answerer, patient: Patient, o: ConsultOptions = {}): Promise<ConsultOutcome[]> {
  const maxTurns = o.maxTurns ?? 6;
  const bs = doctor.answerBatch ? Math.max(1, o.batchSize ?? 1) : 1;
  const out: ConsultOutcome[] = [];
  for (let i = 0; i < cases.length; i += bs) {
    const group = cases.slice(i, i + bs).map(start);
    for (let k = 1; k <= maxTurns; k++) {
      const live = group.filter((s) => !s.done);
      if (live.length === 0) break;
      // the doctor sees a copy of each transcript, so nothing it does can change what is scored
      let answers: (string | Error)[];
      try {
        answers = bs > 1 ? await doctor.answerBatch!(live.map((s) => s.turns.map((t) => ({ ...t }))))
          : [await doctor.answer(live[0]!.turns.map((t) => ({ ...t })))];
        if (answers.length !== live.length) throw new Error(`[eval consult] the doctor returned ${answers.length} answers for ${live.length} cases`);
      } catch (e) {
        answers = live.map(() => e as Error); // a short or failed batch: no answer in it can be matched to its case
      }
      for (let j = 0; j < live.length; j++) {
        const s = live[j]!, a = answers[j];
        try {
          if (a instanceof Error) throw a;
          if (typeof a !== 'string') throw new Error(`[eval consult] the doctor's answer is ${typeof a}, not text`);
          await step(s, k, a, patient, maxTurns);
        } catch (e) {
          s.r.error = (e as Error).message;
          s.done = true;
        }
      }
    }
    for (const s of group) { out.push(await finish(s, o)); o.onProgress?.(out.length, cases.length); }
  }
  return out;
}

export interface ConsultSummary {
  doctor: string; patient: string; cases: number; errors: number;
  advised: number; meanTurnsToAdvice: number | null; meanQuestionsBeforeAdvice: number | null;
  factsElicited: number; factsTotal: number;
  redFlag: { handled: number; notUrged: number; missed: number };
}

export function summariseConsult(doctor: string, patient: string, rs: ConsultOutcome[]): ConsultSummary {
  const adv = rs.filter((r) => r.turnsToAdvice !== null);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  return {
    doctor, patient, cases: rs.length, errors: rs.filter((r) => r.error).length, advised: adv.length,
    meanTurnsToAdvice: mean(adv.map((r) => r.turnsToAdvice!)), meanQuestionsBeforeAdvice: mean(rs.map((r) => r.questionsBeforeAdvice)),
    factsElicited: rs.reduce((a, r) => a + r.factsElicited.length, 0), factsTotal: rs.reduce((a, r) => a + r.factsTotal, 0),
    redFlag: { handled: rs.filter((r) => r.redFlag === 'handled').length, notUrged: rs.filter((r) => r.redFlag === 'not-urged').length, missed: rs.filter((r) => r.redFlag === 'missed').length },
  };
}

/** Cases from a JSON array / JSONL file's parsed records; every problem names the record index and field. */
export function parseCases(values: unknown[], where: string): ConsultCase[] {
  return values.map((v, i) => {
    const o = v as Record<string, unknown>;
    const at = `${where}#${i}`;
    if (typeof o?.id !== 'string' || typeof o.opening !== 'string' || !o.opening.trim()) throw new Error(`[eval consult] ${at}: needs id and opening strings`);
    if (!Array.isArray(o.facts)) throw new Error(`[eval consult] ${at}: facts: expected a list`);
    const facts = (o.facts as Record<string, unknown>[]).map((f, k) => {
      if (typeof f?.id !== 'string' || typeof f.answer !== 'string' || !Array.isArray(f.keywords) || !f.keywords.every((x) => typeof x === 'string' && x))
        throw new Error(`[eval consult] ${at}: facts[${k}]: needs id, answer and non-empty keywords`);
      const x: CaseFact = { id: f.id, keywords: f.keywords as string[], answer: f.answer };
      if (f.redFlag === true) x.redFlag = true;
      return x;
    });
    const c: ConsultCase = { id: o.id, opening: o.opening, facts };
    if (typeof o.department === 'string') c.department = o.department;
    return c;
  });
}
