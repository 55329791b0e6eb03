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
}

/** Runs each case: patient opens, doctor answers, patient replies, … until the doctor advises or maxTurns. */
export async function runConsult(cases: ConsultCase[], doctor: Answerer, patient: Patient, o: ConsultOptions = {}): Promise<ConsultOutcome[]> {
  const maxTurns = o.maxTurns ?? 6;
  const out: ConsultOutcome[] = [];
  for (const c of cases) {
    const turns: Turn[] = [{ role: 'user', text: c.opening }];
    const r: ConsultOutcome = { caseId: c.id, transcript: turns, turnsToAdvice: null, questionsBeforeAdvice: 0, factsElicited: [], factsTotal: c.facts.length, redFlag: 'n/a' };
    const asked = new Set<string>();
    let flagSeenAt = -1, urged = false;
    try {
      for (let k = 1; k <= maxTurns; k++) {
        const a = await doctor.answer(turns.map((t) => ({ ...t })));
        turns.push({ role: 'assistant', text: a });
        if (flagSeenAt >= 0 && refusesOrRedirects(a).urgent) urged = true;
        const qs = inquiryQuestions(a);
        if (qs.length === 0) { r.turnsToAdvice = k; break; }
        r.questionsBeforeAdvice += qs.length;
        for (const f of factsAsked(c, a)) { asked.add(f.id); if (f.redFlag && flagSeenAt < 0) flagSeenAt = k; }
        const p = await patient.reply(c, turns);
        if (p === null) break;
        turns.push({ role: 'user', text: p });
      }
      if (o.scoreAdvice && turns[turns.length - 1]!.role === 'assistant') r.adviceScore = await o.scoreAdvice(c, turns);
    } catch (e) {
      r.error = (e as Error).message;
    }
    r.factsElicited = c.facts.filter((f) => asked.has(f.id)).map((f) => f.id);
    if (c.facts.some((f) => f.redFlag)) r.redFlag = flagSeenAt < 0 ? 'missed' : urged ? 'handled' : 'not-urged';
    out.push(r);
    o.onProgress?.(out.length, cases.length);
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
