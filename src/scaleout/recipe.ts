// recipe.ts — `zhongjing export recipe --engine llamafactory`: writes the export folder (data/, yaml/, deepspeed/,
// run.sh, slurm.sh, prepare_model.py, chat_template.jinja, README.md, export.json) from one pipeline config.
// Every YAML is checked against the v0.9.3 fact table before it is written; nothing is launched.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { atomicWrite, atomicWriteJson } from '../model/atomic.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { engineTemplate } from './chat-template.js';
import { exportData } from './data-export.js';
import { deepspeedConfig, ZERO_NAMES } from './deepspeed.js';
import { PREPARE_MODEL_PY, runSh, slurmSh, yamlName } from './launch.js';
import { checkLfYaml, LF_RELEASE } from './lf-keys.js';
import { exportReadme } from './readme.js';
import { DATA_DIR, dsFile, planStages } from './stage-yaml.js';

export interface RecipeOptions { out: string; model?: string; nodes?: number; gpus?: number; quiet?: boolean }

export interface RecipeResult { out: string; files: string[]; steps: string[]; notes: string[]; counts: Record<string, number>; trimmed: number }

export async function exportRecipe(cfgIn: PipelineConfig, o: RecipeOptions): Promise<RecipeResult> {
  const cfg: PipelineConfig = { ...cfgIn, scaleout: { ...cfgIn.scaleout, model: o.model ?? cfgIn.scaleout.model, nodes: o.nodes ?? cfgIn.scaleout.nodes, gpusPerNode: o.gpus ?? cfgIn.scaleout.gpusPerNode } };
  const template = engineTemplate(cfg.tokenizer.template);
  const plan = planStages(cfg); // config errors before anything is written
  for (const [i, s] of plan.steps.entries()) {
    const bad = checkLfYaml(s.yaml);
    if (bad.length) throw new Error(`[export recipe] ${yamlName(i, s.name)}: ${bad.join('; ')}`);
  }
  const out = resolve(o.out);
  for (const d of ['data', 'yaml', 'deepspeed']) rmSync(join(out, d), { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const files: string[] = [];
  const write = (rel: string, text: string, exec = false) => {
    mkdirSync(join(out, rel, '..'), { recursive: true });
    atomicWrite(join(out, rel), [text]);
    if (exec) chmodSync(join(out, rel), 0o755);
    files.push(rel);
  };
  const data = await exportData(cfg, join(out, DATA_DIR), join(out, '.zj-work'), o.quiet ?? false);
  plan.steps.forEach((s, i) => write(yamlName(i, s.name), `# ${s.name} (${s.kind === 'train' ? `llamafactory-cli train, stage ${String(s.yaml.stage)}` : 'llamafactory-cli export: merge the LoRA adapter'}) — LLaMA-Factory ${LF_RELEASE}\n` + stringify(s.yaml)));
  for (const z of ZERO_NAMES) write(dsFile(z), JSON.stringify(deepspeedConfig(z), null, 2) + '\n');
  const base = cfg.scaleout.model ?? cfg.model.from!;
  write('run.sh', runSh(plan, base, cfg.scaleout.nodes, cfg.scaleout.gpusPerNode), true);
  write('slurm.sh', slurmSh(cfg.name, cfg.scaleout.nodes, cfg.scaleout.gpusPerNode), true);
  write('prepare_model.py', PREPARE_MODEL_PY);
  write('chat_template.jinja', template);
  write('README.md', exportReadme(cfg, plan, data.counts, base));
  const result: RecipeResult = { out, files: [...files, 'export.json'], steps: plan.steps.map((s, i) => yamlName(i, s.name)), notes: plan.notes, counts: data.counts, trimmed: data.trimmed };
  atomicWriteJson(join(out, 'export.json'), { engine: 'llamafactory', release: LF_RELEASE, name: cfg.name, base, world: plan.world, ...result, out: undefined });
  files.push(...Object.keys(data.info).map((n) => `${DATA_DIR}/${n}.jsonl`), `${DATA_DIR}/dataset_info.json`);
  return result;
}
