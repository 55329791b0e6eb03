// recipe.ts — `zhongjing export recipe --engine llamafactory`: writes the export folder (data/, yaml/, deepspeed/,
// run.sh, slurm.sh, prepare_model.py, chat_template.jinja, README.md, export.json; with tokenizer.extend also
// tokenizer/ and extend_vocab.py) from one pipeline config.
// Every YAML is checked against the v0.9.3 fact table before it is written; nothing is launched. The chat template
// is ours (chat_template.jinja written into the base) or, for tokenizer.template `model`, a v0.9.3 template name.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { atomicWrite, atomicWriteJson } from '../model/atomic.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { engineTemplate } from './chat-template.js';
import { exportData } from './data-export.js';
import { deepspeedConfig, ZERO_NAMES } from './deepspeed.js';
import { PREPARE_MODEL_PY, runSh, slurmSh, yamlName } from './launch.js';
import { checkLfYaml, LF_RELEASE } from './lf-keys.js';
import { chooseLfTemplate, type LfTemplateChoice } from './lf-templates.js';
import { exportReadme } from './readme.js';
import { DATA_DIR, dsFile, planStages } from './stage-yaml.js';
import { EXTEND_VOCAB_PY, exportExtendedTokenizer, TOKENIZER_DIR } from './vocab-extend.js';

export interface RecipeOptions { out: string; model?: string; nodes?: number; gpus?: number; quiet?: boolean }

export interface RecipeResult {
  out: string; files: string[]; steps: string[]; notes: string[]; counts: Record<string, number>; trimmed: number;
  /** the chat template the engine uses: `chat_template.jinja` (ours) or a LLaMA-Factory template name */
  template: { engine: string; why: string };
}

/** The model's own chat_template (tokenizer_config.json beside tokenizer.from) and the file it came from. */
function modelChatTemplate(from: string): { text: string | null; file: string } {
  const dir = existsSync(from) && statSync(from).isDirectory() ? from : dirname(from);
  const file = join(dir, 'tokenizer_config.json');
  if (!existsSync(file)) return { text: null, file };
  const raw = (JSON.parse(readFileSync(file, 'utf8')) as { chat_template?: unknown }).chat_template;
  // HF also stores a list of named templates; the unnamed / 'default' one is the chat format
  if (Array.isArray(raw)) {
    const d = (raw as { name?: string; template?: string }[]).find((t) => t.name === 'default');
    return { text: typeof d?.template === 'string' ? d.template : null, file };
  }
  return { text: typeof raw === 'string' ? raw : null, file };
}

/** The engine's template for tokenizer.template `model`: scaleout.template, or the family of the model's own. */
export function recipeTemplate(cfg: PipelineConfig): LfTemplateChoice | null {
  if (cfg.tokenizer.template !== 'model') {
    if (cfg.scaleout.template !== null)
      throw new Error(`[export recipe] scaleout.template: names the engine's template for tokenizer.template 'model'; with '${cfg.tokenizer.template}' the export writes ours (chat_template.jinja): remove scaleout.template`);
    return null;
  }
  const t = modelChatTemplate(cfg.tokenizer.from!);
  return chooseLfTemplate(t.text, t.file, cfg.scaleout.template);
}

export async function exportRecipe(cfgIn: PipelineConfig, o: RecipeOptions): Promise<RecipeResult> {
  const cfg: PipelineConfig = { ...cfgIn, scaleout: { ...cfgIn.scaleout, model: o.model ?? cfgIn.scaleout.model, nodes: o.nodes ?? cfgIn.scaleout.nodes, gpusPerNode: o.gpus ?? cfgIn.scaleout.gpusPerNode } };
  const lf = recipeTemplate(cfg);
  const template = lf ? null : engineTemplate(cfg.tokenizer.template);
  const plan = planStages(cfg, lf?.name ?? null); // config errors before anything is written
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
  rmSync(join(out, TOKENIZER_DIR), { recursive: true, force: true });
  const tokFiles: string[] = [];
  const data = await exportData(cfg, join(out, DATA_DIR), join(out, '.zj-work'), o.quiet ?? false,
    cfg.tokenizer.extend ? async (ctx) => { tokFiles.push(...await exportExtendedTokenizer(ctx, join(out, TOKENIZER_DIR))); } : undefined);
  files.push(...tokFiles);
  plan.steps.forEach((s, i) => write(yamlName(i, s.name), `# ${s.name} (${s.kind === 'train' ? `llamafactory-cli train, stage ${String(s.yaml.stage)}` : 'llamafactory-cli export: merge the LoRA adapter'}) — LLaMA-Factory ${LF_RELEASE}\n` + stringify(s.yaml)));
  for (const z of ZERO_NAMES) write(dsFile(z), JSON.stringify(deepspeedConfig(z), null, 2) + '\n');
  const base = cfg.scaleout.model ?? cfg.model.from!;
  write('run.sh', runSh(plan, base, cfg.scaleout.nodes, cfg.scaleout.gpusPerNode, template === null ? null : 'chat_template.jinja', !!cfg.tokenizer.extend), true);
  write('slurm.sh', slurmSh(cfg.name, cfg.scaleout.nodes, cfg.scaleout.gpusPerNode), true);
  write('prepare_model.py', PREPARE_MODEL_PY);
  if (cfg.tokenizer.extend) write('extend_vocab.py', EXTEND_VOCAB_PY);
  if (template !== null) write('chat_template.jinja', template);
  const chosen = lf ? { engine: lf.name, why: `${lf.family}: ${lf.why}` } : { engine: 'chat_template.jinja', why: `tokenizer.template ${cfg.tokenizer.template}` };
  write('README.md', exportReadme(cfg, plan, data.counts, base, chosen));
  const result: RecipeResult = { out, files: [...files, 'export.json'], steps: plan.steps.map((s, i) => yamlName(i, s.name)), notes: plan.notes, counts: data.counts, trimmed: data.trimmed, template: chosen };
  atomicWriteJson(join(out, 'export.json'), { engine: 'llamafactory', release: LF_RELEASE, name: cfg.name, base, world: plan.world, ...result, out: undefined });
  files.push(...Object.keys(data.info).map((n) => `${DATA_DIR}/${n}.jsonl`), `${DATA_DIR}/dataset_info.json`);
  return result;
}
