// export.ts — stage `export`: runs/<name>/final (the model the safety gate serves) and its GGUF.
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type RunContext, input, markDone, readSummary, resetStage, stageDir } from '../context.js';
import { loadModelDir, saveModelDir } from '../../model/model-dir.js';
import { exportModelDirToGguf } from '../../model/gguf-export.js';
import type { EvalResults } from './eval.js';

export async function runExport(ctx: RunContext): Promise<Record<string, unknown>> {
  // the eval stage's safety gate decides which model is served; without an eval (or a gate), the RL model
  const gate = (readSummary(ctx, 'eval') as unknown as EvalResults | null)?.heldOut?.gate;
  const from = gate?.chosen === 'sft' ? 'sft' : 'ppo';
  const src = input(ctx, from, 'model', 'export');
  const dir = resetStage(ctx, 'export');
  const final = stageDir(ctx, 'final');
  const md = loadModelDir(src);
  const merged = md.adapters.filter((a) => a.enabled).map((a) => a.name);
  for (const a of md.adapters) (a.enabled ? a.merge() : a.detach());
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  saveModelDir(tmp, md.model, { architecture: md.architecture, eosTokenIds: md.eosTokenIds, padTokenId: md.padTokenId,
    generation: md.generation, valueHead: md.valueHead, tokenizerFrom: md.dir });
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  let gguf: string | null = null;
  if (ctx.cfg.export.gguf) {
    gguf = join(dir, `model-${ctx.cfg.export.gguf}.gguf`);
    exportModelDirToGguf(final, gguf, ctx.cfg.export.gguf);
  }
  const summary = { final, from, gate: gate?.reason ?? null, merged, gguf };
  if (from === 'sft') ctx.log(`[export] final is the SFT model: ${gate!.reason}`);
  markDone(ctx, 'export', summary);
  return summary;
}
