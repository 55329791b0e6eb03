// kb.ts — the embedded demo knowledge base: every condition, with integrity checks. Grow it by adding entries to
// kb-internal.ts / kb-specialties.ts (or a new kb-*.ts listed here).
import { internalMedicine } from './kb-internal.js';
import { specialties } from './kb-specialties.js';
import type { Condition } from './kb-schema.js';

export type { Condition, KbQuestion } from './kb-schema.js';

export const conditions: readonly Condition[] = [...internalMedicine, ...specialties];

export function departments(): string[] {
  return [...new Set(conditions.map((c) => c.department))];
}

/** Problems in the knowledge base itself ([] when sound); run by the tests and by `data demo`. */
export function checkKb(kb: readonly Condition[] = conditions): string[] {
  const p: string[] = [];
  const ids = new Set<string>();
  for (const c of kb) {
    if (ids.has(c.id)) p.push(`${c.id}: duplicate id`);
    ids.add(c.id);
    if (c.symptoms.length < 3) p.push(`${c.id}: fewer than 3 symptoms`);
    if (c.questions.length < 2) p.push(`${c.id}: fewer than 2 questions`);
    if (c.redFlags.length < 1) p.push(`${c.id}: no red flags`);
    if (c.advice.length < 3) p.push(`${c.id}: fewer than 3 pieces of advice`);
    if (c.facts.length < 2) p.push(`${c.id}: fewer than 2 facts`);
    for (const q of c.questions) if (q.answers.length < 1) p.push(`${c.id}: question '${q.ask}' without answers`);
  }
  return p;
}
