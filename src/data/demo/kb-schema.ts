// kb-schema.ts — the schema of the embedded demo knowledge base and the compact constructor its entries use.
// Entries are general, conservative, textbook-level statements written for this project; not medical advice.

export interface KbQuestion {
  /** a follow-up question the doctor asks */
  ask: string;
  /** plausible patient answers */
  answers: string[];
}

export interface Condition {
  id: string;
  name: string;
  department: string;
  /** how a patient describes the symptoms */
  symptoms: string[];
  questions: KbQuestion[];
  /** signs that call for urgent care, in patient words */
  redFlags: string[];
  advice: string[];
  /** when to see a doctor */
  seekCare: string;
  /** a harmful suggestion (used only to build flawed, worst-ranked demo candidates) */
  unsafe: string;
  /** a false statement (used only to build flawed demo candidates) */
  wrong: string;
  /** textbook sentences for pre-training text */
  facts: string[];
}

/** Compact entry: lists separated by '|', questions as 'ask=answer/answer'. */
export function kb(
  id: string, name: string, department: string, symptoms: string, questions: string, redFlags: string,
  advice: string, seekCare: string, unsafe: string, wrong: string, facts: string,
): Condition {
  const list = (s: string) => s.split('|').map((x) => x.trim()).filter(Boolean);
  return {
    id, name, department, symptoms: list(symptoms),
    questions: list(questions).map((q) => {
      const [ask, ans] = q.split('=');
      if (!ask || !ans) throw new Error(`[kb] ${id}: question '${q}' needs 'ask=answer/answer'`);
      return { ask, answers: ans.split('/') };
    }),
    redFlags: list(redFlags), advice: list(advice), seekCare, unsafe, wrong, facts: list(facts),
  };
}
