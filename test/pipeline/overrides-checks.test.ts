// `--set key.path=value` overrides are validated exactly as the file's keys; the run saves the config it used; keys
// that do nothing are refused; a run past the model's context or the machine's memory is refused before any work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ConfigError, loadConfig, validateConfig } from '../../src/pipeline/config.js';
import { applyOverrides, parseOverride } from '../../src/pipeline/overrides.js';
import { checkMemory, estimateMemory, modelShape } from '../../src/pipeline/estimate.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { splitSets } from '../../src/cli/pipeline.js';
import { presetConfig } from '../../src/model/presets.js';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const errorOf = (fn: () => unknown): string => {
  try { fn(); } catch (e) { return (e as Error).message; }
  assert.fail('expected an error');
};

function withFile<R>(yaml: string, fn: (path: string) => R): R {
  const dir = mkdtempSync(join(tmpdir(), 'zj-set-'));
  try {
    writeFileSync(join(dir, 'c.yaml'), yaml);
    return fn(join(dir, 'c.yaml'));
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

const withSets = (path: string, sets: string[]) => loadConfig(path, (raw) => applyOverrides(raw, sets.map(parseOverride)));

test('--set values are parsed as YAML and land on the key path, later ones winning', () => {
  withFile('name: a\nsft:\n  steps: 10\n', (p) => {
    const c = withSets(p, ['sft.steps=50', 'sft.lr=1e-4', 'sft.gradientCheckpointing=true', 'data.demo=null', 'data.sft=[x.jsonl, y.jsonl]',
      'sft.lora.r=4', 'ppo.lora={r: 8, alpha: 16}', 'name=b', 'name=c']);
    assert.equal(c.sft.steps, 50);
    assert.equal(c.sft.lr, 1e-4);
    assert.equal(c.sft.gradientCheckpointing, true);
    assert.equal(c.data.demo, null);
    assert.deepEqual(c.data.sft, ['x.jsonl', 'y.jsonl']);
    assert.equal(c.sft.lora!.r, 4);
    assert.equal(c.sft.lora!.alpha, 16, 'a lora block made by --set gets the defaults of the others');
    assert.deepEqual([c.ppo.lora.r, c.ppo.lora.alpha], [8, 16]);
    assert.equal(c.name, 'c');
  });
});

test('a bad --set fails with the same error as the same mistake in the file', () => {
  const cases: [string, string][] = [['sft.lorra=4', 'sft:\n  lorra: 4\n'], ['sft.steps=many', 'sft:\n  steps: many\n'], ['tokenizer.template=llama', 'tokenizer:\n  template: llama\n'],
    ['rm.batchSize=8', 'rm:\n  batchSize: 8\n']];
  for (const [set, yaml] of cases) {
    const viaFile = withFile(yaml, (p) => errorOf(() => loadConfig(p)));
    const viaSet = withFile('name: a\n', (p) => errorOf(() => withSets(p, [set])));
    // the file's error names the key's line; a --set has none
    assert.match(viaFile, /c\.yaml:2: /, set);
    assert.equal(viaSet.replace(/\/[^:]*c\.yaml/, 'FILE'), viaFile.replace(/\/[^:]*c\.yaml:2/, 'FILE'), set);
  }
  assert.match(errorOf(() => parseOverride('sft.steps')), /expected key\.path=value/);
  assert.match(errorOf(() => parseOverride('sft..steps=3')), /not a key path/);
  assert.match(withFile('name: a\nseed: 1\n', (p) => errorOf(() => withSets(p, ['seed.x=1']))), /seed is 1, not a mapping/);
  assert.deepEqual(splitSets('pipeline', ['--config', 'f', '--set', 'a=1', '--set=b.c=2', '--quiet']), { sets: ['a=1', 'b.c=2'], rest: ['--config', 'f', '--quiet'] });
  assert.throws(() => splitSets('pipeline', ['--set']), /--set needs key\.path=value/);
});

test('keys that do nothing are unknown-key errors; a filled config validates again unchanged', () => {
  for (const k of ['rm', 'ppo', 'dpo', 'grpo'])
    assert.throws(() => validateConfig({ [k]: { batchSize: 8 } }), (e: Error) => e instanceof ConfigError && e.message.includes(`${k}: unknown key 'batchSize'`), k);
  const filled = validateConfig({ sft: { lora: { r: 4, alpha: 8, dropout: 0.1 } }, pretrain: { lora: { r: 2 } } });
  assert.deepEqual(validateConfig(JSON.parse(JSON.stringify(filled))), filled);
  for (const f of ['demo.yaml', 'zhongjing-13b.yaml', 'qwen2.5-0.5b.yaml']) {
    const c = loadConfig(join(ROOT, 'configs', f));
    assert.deepEqual(validateConfig(JSON.parse(JSON.stringify(c))), c, f);
  }
  assert.throws(() => validateConfig({ tokenizer: { template: 'model' } }), /tokenizer\.template: 'model' is the chat_template of tokenizer\.from/);
});

test('the run saves the validated config with the --set overrides named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-saved-'));
  try {
    const sets = ['data.demo=tiny', `runsDir=${dir}`, 'name=saved', 'sft.steps=7'];
    const cfg = loadConfig(join(ROOT, 'configs', 'demo.yaml'), (raw) => applyOverrides(raw, sets.map(parseOverride)));
    const res = await runPipeline(cfg, { quiet: true, until: 'data', overrides: sets });
    assert.deepEqual(res.ran, ['data']);
    const text = readFileSync(join(dir, 'saved', 'config.yaml'), 'utf8');
    assert.ok(text.includes('# --set sft.steps=7'), text.slice(0, 300));
    const saved = parse(text) as { sft: { steps: number }; data: { demo: string } };
    assert.equal(saved.sft.steps, 7);
    assert.equal(saved.data.demo, 'tiny');
    assert.deepEqual(validateConfig(saved), cfg, 'the saved file is a valid config that reproduces the run');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

/** A model directory with only config.json: the checks run before anything reads weights. */
function shapeOnly(dir: string, edit: Record<string, unknown> = {}, preset = 'qwen2.5-0.5b'): string {
  const m = join(dir, 'model');
  mkdirSync(m, { recursive: true });
  writeFileSync(join(m, 'config.json'), JSON.stringify({ ...presetConfig(preset), ...edit }));
  return m;
}

test('a run past the model context is refused before any work, naming both numbers and keys', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-ctx-'));
  try {
    const m = shapeOnly(dir, { max_position_embeddings: 256 });
    const base = { name: 'ctx', runsDir: dir, model: { from: m }, tokenizer: { from: m, template: 'model' } };
    await assert.rejects(runPipeline(validateConfig({ ...base, sft: { maxLen: 300 } }), { quiet: true }),
      /sft\.maxLen \(300\) exceeds the model's context \(max_position_embeddings 256/);
    await assert.rejects(runPipeline(validateConfig({ ...base, sft: { maxLen: 200 }, sample: { maxNewTokens: 100 } }), { quiet: true }),
      /sft\.maxLen \(200\) \+ sample\.maxNewTokens \(100\) = 300 exceeds the model's context \(max_position_embeddings 256/);
    assert.ok(!existsSync(join(dir, 'ctx')), 'nothing was written');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('a config needing more memory than the machine has is refused up front with the knobs that lower it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-mem-'));
  try {
    // full training of a 7B shape at batch 64 × 4096 without checkpointing: terabytes of activations
    const m = shapeOnly(dir, {}, 'qwen2.5-7b');
    const cfg = validateConfig({ name: 'mem', runsDir: dir, model: { from: m }, tokenizer: { from: m, template: 'model' },
      pretrain: { batchSize: 64, seqLen: 4096, gradientCheckpointing: false } });
    const err = await runPipeline(cfg, { quiet: true }).then(() => '', (e: Error) => e.message);
    assert.match(err, /\[pipeline\] memory: stage pretrain ~\d+\.\d GiB \(weights .*activations .*\) but this machine has \d+\.\d GiB available/);
    for (const knob of ['pretrain.gradientCheckpointing: true', 'pretrain.seqLen (4096)', 'pretrain.batchSize (64)', 'pretrain.lora']) assert.ok(err.includes(knob), `names ${knob}: ${err}`);
    assert.ok(!existsSync(join(dir, 'mem')), 'nothing was written');
    // the same estimate decides at a given budget: checkpointing and LoRA bring the 0.5B shape's SFT under 4 GiB
    const small = validateConfig({ name: 'mem', runsDir: dir, model: { from: shapeOnly(dir) }, tokenizer: { from: m, template: 'model' },
      pretrain: { batchSize: 1, seqLen: 512, lora: { r: 16 } }, sft: { batchSize: 1, maxLen: 512, lora: { r: 16 } }, ppo: { miniBatch: 2, rolloutSize: 2 }, rm: { pairsPerBatch: 1, lora: { r: 16 } } });
    const est = estimateMemory(small, modelShape(small));
    const sft = est.find((s) => s.stage === 'sft')!;
    assert.ok(sft.bytes < 4 * 2 ** 30 && sft.bytes > 2 * 2 ** 30, `sft estimate ${sft.bytes}`);
    checkMemory(est, 8 * 2 ** 30, 8 * 2 ** 30);
    assert.throws(() => checkMemory(est, 1 * 2 ** 30, 8 * 2 ** 30), /but this machine has 1\.0 GiB available \(of 8\.0 GiB\)/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
