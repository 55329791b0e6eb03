// data.ts — stage `data`: the embedded demo corpus (or the user's files through the data layer's loaders) split
// by dialogue into train and dev, written as the run's own JSONL files for the later stages.
import { join } from 'node:path';
import type { RunContext } from '../context.js';
import { markDone, resetStage, writeJsonl } from '../context.js';
import { generateDemo, sizePresets, rankingToPreferenceSet, loadFile, splitRecords } from '../../data/index.js';
import type { Conversation, PreferenceSet } from '../../data/index.js';

export interface StageData {
  pretrain: { text: string }[];
  train: Conversation[];
  dev: Conversation[];
  rankings: PreferenceSet[];
}

export const DATA_FILES = { pretrain: 'pretrain.jsonl', train: 'sft-train.jsonl', dev: 'sft-dev.jsonl', rankings: 'rankings.jsonl' } as const;

export async function runData(ctx: RunContext): Promise<Record<string, unknown>> {
  const dir = resetStage(ctx, 'data');
  const { cfg } = ctx;
  const pretrain: { text: string }[] = [];
  const convs: Conversation[] = [];
  const rankings: PreferenceSet[] = [];
  const reports: { file: string; recordsIn: number; recordsOut: number; rejected: number }[] = [];
  if (cfg.data.demo) {
    const d = generateDemo(cfg.seed, sizePresets[cfg.data.demo]);
    for (const t of d.pretrain) pretrain.push({ text: t.text });
    convs.push(...d.qa, ...d.consultations, ...d.safety);
    rankings.push(...d.rankings.map(rankingToPreferenceSet));
  }
  const load = async (files: string[], role: string) => {
    for (const f of files) {
      const { records, report } = await loadFile(f);
      reports.push({ file: f, recordsIn: report.recordsIn, recordsOut: report.recordsOut, rejected: report.rejected });
      for (const r of records) {
        if (r.kind === 'text') pretrain.push({ text: r.text });
        else if (r.kind === 'conversation') {
          if (role === 'pretrain') pretrain.push({ text: r.turns.map((t) => t.text).join('\n') });
          else convs.push(r);
        } else if (r.kind === 'preference') rankings.push(r);
        else throw new Error(`[data] ${f}: multiple-choice records cannot train a model (use them with \`zhongjing eval mcq\`)`);
      }
    }
  };
  await load(cfg.data.pretrain, 'pretrain');
  await load(cfg.data.sft, 'sft');
  await load(cfg.data.rankings, 'rankings');
  const usable = convs.filter((c) => c.turns.some((t) => t.role === 'assistant'));
  const { train, dev } = splitRecords(usable, cfg.data.devFraction, cfg.seed);
  writeJsonl(join(dir, DATA_FILES.pretrain), pretrain);
  writeJsonl(join(dir, DATA_FILES.train), train);
  writeJsonl(join(dir, DATA_FILES.dev), dev);
  writeJsonl(join(dir, DATA_FILES.rankings), rankings);
  const summary = {
    pretrainDocs: pretrain.length, trainDialogues: train.length, devDialogues: dev.length, rankingSets: rankings.length,
    withoutAnswer: convs.length - usable.length, files: reports, source: cfg.data.demo ? `demo corpus (${cfg.data.demo}, seed ${cfg.seed})` : 'files',
  };
  markDone(ctx, 'data', summary);
  return summary;
}
