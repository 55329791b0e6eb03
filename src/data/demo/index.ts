// index.ts — the demo corpus as files (`zhongjing data demo --out DIR`) and its self-validation: every file loads
// through our own readers with zero rejections, consultations ask before advising, emergencies are flagged,
// rankings obey the ranking format and put the safe, professional, fluent answer first.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadFile } from '../load.js';
import { asksQuestion, detectRedFlags, refusesOrRedirects } from '../medical-rules.js';
import { validateRanking } from '../ranking-format.js';
import { toLine } from '../writers.js';
import { checkKb, conditions } from './kb.js';
import { generateDemo, sizePresets, type DemoCorpus, type DemoSizes } from './generate.js';

export { generateDemo, sizePresets, rankByFlaws, type DemoCorpus, type DemoSizes } from './generate.js';
export { conditions, departments, checkKb } from './kb.js';

export const demoFiles = {
  pretrain: 'pretrain.jsonl',
  qa: 'qa.jsonl',
  consultations: 'consultations.jsonl',
  safety: 'safety.jsonl',
  rankings: 'rankings.jsonl',
  kb: 'kb.json',
  manifest: 'manifest.json',
} as const;

/** Problems in a generated corpus ([] when it is sound). */
export function validateDemo(d: DemoCorpus): string[] {
  const p = checkKb();
  d.consultations.forEach((c, i) => {
    const doc = c.turns.filter((t) => t.role === 'assistant');
    if (doc.length < 2) p.push(`consultations[${i}]: the doctor never asks before advising`);
    doc.slice(0, -1).forEach((t, j) => { if (!asksQuestion(t.text)) p.push(`consultations[${i}]: doctor turn ${j} asks nothing: ${t.text}`); });
    const last = doc[doc.length - 1]!;
    if (!refusesOrRedirects(last.text).redirects) p.push(`consultations[${i}]: the advice never says when to seek care`);
  });
  d.safety.forEach((c, i) => {
    if (c.meta.extra?.category === 'emergency') {
      if (!detectRedFlags(c.turns[0]!.text).urgent) p.push(`safety[${i}]: emergency prompt not flagged: ${c.turns[0]!.text}`);
      if (!refusesOrRedirects(c.turns[1]!.text).urgent) p.push(`safety[${i}]: emergency answer is not urgent`);
    } else if (!refusesOrRedirects(c.turns[1]!.text).redirects) p.push(`safety[${i}]: safe answer does not redirect to care`);
  });
  d.rankings.forEach((r, i) => {
    for (const e of validateRanking(r)) p.push(`rankings[${i}].${e.field}: ${e.reason}`);
    const src = (id: string) => r.candidates.find((c) => c.id === id)?.source;
    if (!r.ranking[0]?.every((id) => src(id) === 'demo:good')) p.push(`rankings[${i}]: best group is not the good answer`);
    if (r.ranking[r.ranking.length - 1]?.some((id) => src(id) !== 'demo:unsafe')) p.push(`rankings[${i}]: worst group is not the unsafe answer`);
  });
  return p;
}

/** Writes the corpus as JSONL files in our formats and reads them back through the loaders. */
export async function writeDemo(dir: string, seed: number, sizes: DemoSizes = sizePresets.small): Promise<{ files: Record<string, number>; problems: string[] }> {
  const d = generateDemo(seed, sizes);
  const problems = validateDemo(d);
  await mkdir(dir, { recursive: true });
  const lines = (xs: string[]) => (xs.length ? xs.join('\n') + '\n' : '');
  await writeFile(join(dir, demoFiles.pretrain), lines(d.pretrain.map((r, i) => toLine(r, 'jsonl', i))));
  await writeFile(join(dir, demoFiles.qa), lines(d.qa.map((r, i) => toLine(r, 'alpaca', i))));
  await writeFile(join(dir, demoFiles.consultations), lines(d.consultations.map((r, i) => toLine(r, 'alpaca', i))));
  await writeFile(join(dir, demoFiles.safety), lines(d.safety.map((r, i) => toLine(r, 'alpaca', i))));
  await writeFile(join(dir, demoFiles.rankings), lines(d.rankings.map((r) => JSON.stringify(r))));
  await writeFile(join(dir, demoFiles.kb), JSON.stringify(conditions, null, 1) + '\n');
  const files: Record<string, number> = {};
  for (const k of ['pretrain', 'qa', 'consultations', 'safety', 'rankings'] as const) {
    const f = join(dir, demoFiles[k]);
    const { report } = await loadFile(f, { onError: 'skip' });
    files[demoFiles[k]] = report.recordsOut;
    for (const pr of report.problems) problems.push(`${pr.file}:${pr.line}: ${pr.field}: ${pr.reason}`);
    if (report.recordsOut !== d[k].length) problems.push(`${f}: wrote ${d[k].length} records, read back ${report.recordsOut}`);
  }
  await writeFile(join(dir, demoFiles.manifest), JSON.stringify({ seed, sizes, files, conditions: conditions.length }, null, 1) + '\n');
  return { files, problems };
}
