// files.test.ts — tokenizer.json / tokenizer_config.json: invalid files fail naming the field; config round trips.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainByteLevelBpe } from '../../src/tokenizer/train.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configToJson, loadTokenizer, parseTokenizerConfig, tokenizerFromJson, tokenizerToJson } from '../../src/tokenizer/tokenizer-json.js';
import { tempDir } from '../helpers.js';

async function good(): Promise<Record<string, any>> {
  const tok = await trainByteLevelBpe(['abc abc abd abd 中文 中文'], { vocabSize: 262, specialTokens: ['</s>'] });
  return tokenizerToJson(tok) as Record<string, any>;
}

test('invalid tokenizer.json: the error names the field', async () => {
  const cases: [string, (j: Record<string, any>) => void, RegExp][] = [
    ['no model', (j) => { delete j.model; }, /\[tokenizer\.json\] model: expected an object/],
    ['WordPiece', (j) => { j.model.type = 'WordPiece'; }, /model\.type: only BPE/],
    ['vocab id', (j) => { j.model.vocab.a = 'x'; }, /model\.vocab\["a"\]: expected a non-negative integer/],
    ['duplicate id', (j) => { j.model.vocab.zz = 0; }, /model\.vocab\["zz"\]: id 0 is also used/],
    ['merge shape', (j) => { j.model.merges[1] = 'a b c'; }, /model\.merges\[1\]: expected "left right"/],
    ['merge token', (j) => { j.model.merges[0] = ['nope', 'W']; }, /model\.merges\[0\]: 'nope' is not in the vocabulary/],
    ['merged token', (j) => { j.model.merges.push(['a', 'a']); }, new RegExp(`model\\.merges\\[\\d+\\]: merged token 'aa' is not in the vocabulary`)],
    ['added token', (j) => { j.added_tokens[0].content = 7; }, /added_tokens\[0\]\.content: expected a non-empty string/],
    ['pre-tokenizer', (j) => { j.pre_tokenizer.pretokenizers[0].type = 'Whitespace'; }, /pre_tokenizer\.pretokenizers\[0\]\.type: unsupported pre-tokenizer 'Whitespace'/],
    ['split behavior', (j) => { j.pre_tokenizer.pretokenizers[0].behavior = 'Removed'; }, /pre_tokenizer\.pretokenizers\[0\]\.behavior/],
    ['decoder', (j) => { j.decoder = { type: 'WordPiece' }; }, /decoder\.type: unsupported decoder/],
    ['normalizer', (j) => { j.normalizer = { type: 'Sequence', normalizers: [{ type: 'Precompiled' }] }; }, /normalizer\.normalizers\[0\]\.type/],
    ['byte table', (j) => { delete j.model.vocab['Ā']; }, /model\.vocab: byte-level vocabulary lacks the token for byte 0x0/],
  ];
  for (const [name, mutate, re] of cases) {
    const j = await good();
    mutate(j);
    assert.throws(() => tokenizerFromJson(j), re, name);
  }
});

test('tokenizer_config.json: token fields as strings or objects, named chat templates, round trip, bad fields named', async () => {
  const c = parseTokenizerConfig({ bos_token: { content: '<s>', lstrip: false }, eos_token: '</s>', pad_token: null,
    chat_template: [{ name: 'default', template: 'A' }, { name: 'rag', template: 'B' }], model_max_length: 2048, custom: 1 });
  assert.equal(c.bosToken, '<s>');
  assert.equal(c.eosToken, '</s>');
  assert.equal(c.chatTemplate, 'A');
  assert.equal(c.chatTemplates.rag, 'B');
  assert.throws(() => parseTokenizerConfig({ eos_token: 5 }), /\[tokenizer_config\.json\] eos_token: expected a string/);
  assert.throws(() => parseTokenizerConfig({ chat_template: [{ name: 'x' }] }), /chat_template\[0\]/);
  const j = await good();
  const tok = tokenizerFromJson(j, { eos_token: '</s>', chat_template: '{{ messages }}', custom: 1 });
  const cfg = configToJson(tok);
  assert.equal(cfg.eos_token, '</s>');
  assert.equal(cfg.chat_template, '{{ messages }}');
  assert.equal(cfg.custom, 1);
  assert.deepEqual((cfg.added_tokens_decoder as Record<string, { content: string }>)['0']!.content, '</s>');
  assert.throws(() => tokenizerFromJson(j, { added_tokens_decoder: { 0: { content: '<other>' } } }), /added_tokens_decoder\["0"\]\.content/);
});

test('a chat template beside the config (chat_template.jinja) is picked up when tokenizer_config.json has none', async () => {
  const dir = tempDir('zj-files-');
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(await good()));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '</s>' }));
  writeFileSync(join(dir, 'chat_template.jinja'), '{{ messages[0].content }}');
  assert.equal((await loadTokenizer(dir)).config.chatTemplate, '{{ messages[0].content }}');
  writeFileSync(join(dir, 'tokenizer.json'), '{ not json');
  await assert.rejects(loadTokenizer(dir), /\[tokenizer\.json\] .*not valid JSON/);
});
