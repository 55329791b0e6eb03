// import-lf.ts — `zhongjing import llamafactory DIR`: what an engine run wrote, laid out as our run folders
// (runs/<name>/<stage>/model, train/metrics.jsonl, done.json; `final` = the PPO model) so eval, serve, chat,
// annotate import and the report use them unchanged. A LoRA output becomes its base's files + adapters/<stage>/;
// a full checkpoint is used as it is; value_head.safetensors (TRL's v_head.summary.* names, as ours) is carried.
// Weights are symlinked, not copied. Nothing is converted: loadModelDir checks every tensor when it opens a stage.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { atomicWrite, atomicWriteJson } from '../model/atomic.js';
import { ADAPTERS_FILE } from '../model/model-dir.js';
import { VALUE_HEAD_FILE } from '../model/value-head.js';
import { readAllResults, readTrainerLog } from './trainer-log.js';

const STAGE_OF: Record<string, string> = { pt: 'pretrain', sft: 'sft', rm: 'rm', ppo: 'ppo', dpo: 'dpo', kto: 'kto' };
const TOKENIZER = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model', 'generation_config.json'];

export interface ImportedStage { stage: string; from: string; kind: 'lora' | 'full'; base?: string; valueHead: boolean; logRows: number }
export interface ImportResult { out: string; stages: ImportedStage[]; skipped: string[]; final: string }

const isAdapter = (d: string) => existsSync(join(d, 'adapter_config.json'));
const isFull = (d: string) => existsSync(join(d, 'config.json')) && (existsSync(join(d, 'model.safetensors')) || existsSync(join(d, 'model.safetensors.index.json')));

/** Why `d` is not a usable engine output, or null. */
function missing(d: string): string | null {
  if (!existsSync(d)) return `${d} does not exist`;
  if (isAdapter(d)) return existsSync(join(d, 'adapter_model.safetensors')) ? null : `${d}: adapter_config.json without adapter_model.safetensors`;
  if (isFull(d)) return null;
  return `${d}: neither a PEFT adapter (adapter_config.json + adapter_model.safetensors) nor a full checkpoint (config.json + model.safetensors[.index.json])`;
}

function linkWeights(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) {
    const src = resolve(from, f);
    if (/\.safetensors$/.test(f) && f !== VALUE_HEAD_FILE) symlinkSync(src, join(to, f));
    else if (f === 'config.json' || f === 'model.safetensors.index.json' || TOKENIZER.includes(f)) copyFileSync(src, join(to, f));
  }
}

interface TrainStep { stage: string; out: string; base: string }

/** The train steps of an export (yaml/*.yaml with a `stage`), in order. */
function exportSteps(dir: string): TrainStep[] {
  const yd = join(dir, 'yaml');
  if (!existsSync(yd)) throw new Error(`[import] ${dir}: not a zhongjing export of a LLaMA-Factory run: yaml/ is missing (and export.json: ${existsSync(join(dir, 'export.json')) ? 'present' : 'missing'})`);
  const steps: TrainStep[] = [];
  for (const f of readdirSync(yd).filter((x) => x.endsWith('.yaml')).sort()) {
    const y = parse(readFileSync(join(yd, f), 'utf8')) as Record<string, unknown>;
    if (typeof y.stage !== 'string') continue;
    if (typeof y.output_dir !== 'string' || typeof y.model_name_or_path !== 'string') throw new Error(`[import] ${join(yd, f)}: output_dir / model_name_or_path missing`);
    steps.push({ stage: y.stage, out: y.output_dir, base: y.model_name_or_path });
  }
  if (!steps.length) throw new Error(`[import] ${yd}: no stage YAMLs`);
  return steps;
}

export function importLlamaFactory(dirIn: string, outIn: string): ImportResult {
  const dir = resolve(dirIn), out = resolve(outIn);
  const steps = exportSteps(dir);
  const stages: ImportedStage[] = [], skipped: string[] = [];
  for (const s of steps) {
    const from = join(dir, s.out);
    if (!existsSync(from)) { skipped.push(`${s.stage}: ${s.out} not written yet`); continue; }
    const why = missing(from);
    if (why) throw new Error(`[import] ${why}`);
    const ours = STAGE_OF[s.stage]!;
    const sd = join(out, ours), md = join(sd, 'model');
    rmSync(sd, { recursive: true, force: true });
    const rec: ImportedStage = { stage: ours, from, kind: isAdapter(from) ? 'lora' : 'full', valueHead: existsSync(join(from, VALUE_HEAD_FILE)), logRows: 0 };
    if (rec.kind === 'lora') {
      const base = resolve(dir, s.base);
      if (!isFull(base)) throw new Error(`[import] ${from} is a LoRA adapter over ${s.base}, which is not a full checkpoint here (${missing(base) ?? 'missing'}): run the merge steps, or the prepare step for model/base`);
      linkWeights(base, md);
      const ad = join(md, 'adapters', ours);
      mkdirSync(ad, { recursive: true });
      for (const f of ['adapter_config.json', 'adapter_model.safetensors']) copyFileSync(join(from, f), join(ad, f));
      for (const f of TOKENIZER) if (existsSync(join(from, f))) copyFileSync(join(from, f), join(md, f));
      atomicWriteJson(join(md, ADAPTERS_FILE), { adapters: [{ name: ours, enabled: true }] });
      rec.base = base;
    } else linkWeights(from, md);
    if (rec.valueHead) copyFileSync(join(from, VALUE_HEAD_FILE), join(md, VALUE_HEAD_FILE));
    const log = join(from, 'trainer_log.jsonl');
    if (existsSync(log)) {
      const rows = readTrainerLog(log);
      mkdirSync(join(sd, 'train'), { recursive: true });
      atomicWrite(join(sd, 'train', 'metrics.jsonl'), [rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '')]);
      rec.logRows = rows.length;
    }
    atomicWriteJson(join(sd, 'done.json'), {
      stage: ours, finishedAt: new Date().toISOString(), engine: 'llamafactory', importedFrom: from, kind: rec.kind,
      results: readAllResults(join(from, 'all_results.json')),
    });
    stages.push(rec);
  }
  if (!stages.length) throw new Error(`[import] ${dir}: no stage output found (${skipped.join('; ')})`);
  const last = stages.find((s) => s.stage === 'ppo') ?? stages.at(-1)!;
  const final = join(out, 'final');
  rmSync(final, { recursive: true, force: true });
  symlinkSync(join(out, last.stage, 'model'), final);
  return { out, stages, skipped, final };
}
