// Config keys that cannot act are refused, never ignored: the renamed scaleout.pretrainLora (→ pretrain.lora), the BPE
// size beside tokenizer.from, the preset and its sizes beside model.from, tokenizer.extend without a pretrained
// tokenizer and model. Errors from a file name file:line:key; a config the pipeline saved (defaults filled) loads again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError, keyLine, loadConfig, validateConfig } from '../../src/pipeline/config.js';
import { applyOverrides, parseOverride } from '../../src/pipeline/overrides.js';

const withFile = (text: string, f: (path: string) => void) => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-cfgkeys-'));
  try { const p = join(dir, 'c.yaml'); writeFileSync(p, text); f(p); } finally { rmSync(dir, { recursive: true, force: true }); }
};
const FROM = 'tokenizer:\n  from: models/m\n  template: model\nmodel:\n  from: models/m\n';

test('scaleout.pretrainLora is refused naming pretrain.lora, at its line', () => {
  withFile(`name: x\nscaleout:\n  model: Qwen/Qwen2.5-0.5B\n  pretrainLora: {r: 8}\n`, (p) => {
    assert.throws(() => loadConfig(p), (e: Error) => e instanceof ConfigError && e.message === `[config] ${p}:4: scaleout.pretrainLora: renamed to pretrain.lora (one key for this machine and the scale-out export); move the block there`);
  });
  // the new key is the one both engines read
  const c = validateConfig({ pretrain: { lora: { r: 8 } } });
  assert.equal(c.pretrain.lora!.r, 8);
  assert.equal('pretrainLora' in c.scaleout, false);
});

test('tokenizer.vocabSize beside tokenizer.from is refused naming both keys', () => {
  withFile(`${FROM.replace('  template: model\n', '  template: model\n  vocabSize: 4096\n')}`, (p) => {
    assert.throws(() => loadConfig(p), (e: Error) => e.message.startsWith(`[config] ${p}:4: tokenizer.vocabSize: sizes a BPE trained here, but tokenizer.from (models/m) is set`));
  });
  // without from it sizes the BPE (2048 when left out); with from it is null
  assert.equal(validateConfig({}).tokenizer.vocabSize, 2048);
  assert.equal(validateConfig({ tokenizer: { vocabSize: 512 } }).tokenizer.vocabSize, 512);
  assert.equal(validateConfig({ tokenizer: { from: 'm' }, model: { from: 'm' } }).tokenizer.vocabSize, null);
});

test('model.preset and the preset sizes beside model.from are refused naming both keys', () => {
  for (const [key, value] of [['preset', 'tiny'], ['hiddenSize', 64], ['layers', 2], ['heads', 2], ['kvHeads', 1], ['intermediateSize', 99], ['maxPositions', 512]] as const) {
    withFile(`${FROM}  ${key}: ${value}\n`, (p) => {
      assert.throws(() => loadConfig(p), (e: Error) => e.message.startsWith(`[config] ${p}:6: model.${key}: shapes a model built from scratch, but model.from (models/m) is set`), key);
    });
  }
  // a --set of the same key has no line in the file
  withFile(FROM, (p) => {
    assert.throws(() => loadConfig(p, (raw) => applyOverrides(raw, [parseOverride('model.layers=4')])), (e: Error) => e.message.startsWith(`[config] ${p}: model.layers: shapes a model`));
  });
  assert.equal(validateConfig({}).model.preset, 'tiny');
  assert.equal(validateConfig(FROM_OBJ()).model.preset, null);
});

const FROM_OBJ = () => ({ tokenizer: { from: 'models/m', template: 'model' }, model: { from: 'models/m' } });

test('a config with from, saved with its defaults filled, loads again to the same config', () => {
  const c = validateConfig({ ...FROM_OBJ(), tokenizer: { ...FROM_OBJ().tokenizer, extend: { tokens: 50 } } });
  assert.deepEqual(c.tokenizer.extend, { tokens: 50, from: 'pretrain', minFrequency: 2 });
  withFile(stringify(c), (p) => assert.deepEqual(loadConfig(p), c));
  const d = validateConfig({});
  withFile(stringify(d), (p) => assert.deepEqual(loadConfig(p), d));
});

test('tokenizer.extend needs a pretrained tokenizer and model; model.from needs tokenizer.from', () => {
  assert.throws(() => validateConfig({ tokenizer: { extend: { tokens: 10 } } }), /tokenizer\.extend: adds tokens to a pretrained tokenizer: set tokenizer\.from/);
  assert.throws(() => validateConfig({ tokenizer: { from: 'm', extend: { tokens: 10 } } }), /tokenizer\.extend: resizes a pretrained model's embeddings: set model\.from/);
  assert.throws(() => validateConfig({ tokenizer: { from: 'm', extend: { tokens: 0 } }, model: { from: 'm' } }), /tokenizer\.extend\.tokens: must be >= 1/);
  assert.throws(() => validateConfig({ model: { from: 'models/m' } }), /model\.from: a pretrained model reads its own tokenizer's ids: set tokenizer\.from \(usually models\/m too\)/);
});

test('keyLine finds nested keys and nothing for keys not written', () => {
  const text = 'a: 1\nb:\n  c:\n    d: 2\n  e: [1]\n';
  assert.equal(keyLine(text, 'a'), 1);
  assert.equal(keyLine(text, 'b.c.d'), 4);
  assert.equal(keyLine(text, 'b.e'), 5);
  assert.equal(keyLine(text, 'b.x'), null);
  assert.equal(keyLine(text, 'a.z'), null);
});
