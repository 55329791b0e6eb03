// cli.test.ts — `zhongjing tokenizer …` in-process: train → inspect → extend → encode (text and chat), help, and errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tokenizerCommand } from '../../src/cli/tokenizer.js';
import { UsageError } from '../../src/cli/args.js';
import { inlineCorpus } from './helpers.js';
import { tempDir } from '../helpers.js';

async function capture(argv: string[]): Promise<{ code: number; out: string }> {
  const log = console.log, err = process.stderr.write.bind(process.stderr);
  let out = '';
  console.log = (...a: unknown[]) => { out += a.join(' ') + '\n'; };
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try { return { code: await tokenizerCommand.run(argv), out }; } finally { console.log = log; process.stderr.write = err; }
}

test('tokenizer CLI: train, inspect, extend, encode text and chat; help on each; clear errors', async () => {
  const dir = tempDir('zj-cli-');
  writeFileSync(join(dir, 'a.txt'), inlineCorpus(1500, 21).join('\n'));
  writeFileSync(join(dir, 'b.txt'), inlineCorpus(1500, 22).filter((l) => /[\u4e00-\u9fff]/.test(l)).join('\n'));
  for (const sub of ['train', 'extend', 'encode', 'inspect']) {
    const r = await capture([sub, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, new RegExp(`usage: zhongjing tokenizer ${sub}`));
  }
  const tr = await capture(['train', '--out', join(dir, 'tok'), '--vocab-size', '500', join(dir, 'a.txt')]);
  assert.equal(tr.code, 0);
  assert.match(tr.out, /trained 500 tokens/);
  const ins = await capture(['inspect', '--tokenizer', join(dir, 'tok'), '--json']);
  const info = JSON.parse(ins.out);
  assert.equal(info.vocabSize, 500);
  assert.equal(info.llamaCppPre, 'qwen2');
  assert.equal(info.eos, '</s>');
  assert.equal(info.chatTemplate, 'ziya');
  const ex = await capture(['extend', '--base', join(dir, 'tok'), '--out', join(dir, 'ext'), '--new-tokens', '100', join(dir, 'b.txt')]);
  assert.equal(ex.code, 0);
  const m = /chars\/token .*: ([\d.]+) → ([\d.]+)/.exec(ex.out)!;
  assert.ok(Number(m[2]) > Number(m[1]), ex.out);
  const ext = JSON.parse(readFileSync(join(dir, 'ext', 'extension.json'), 'utf8'));
  assert.equal(ext.newIds[0], 500);
  assert.ok(Array.isArray(ext.sources['500']));
  const enc = await capture(['encode', '--tokenizer', join(dir, 'ext'), '--text', '患者头痛']);
  assert.ok(JSON.parse(enc.out).length > 0);
  writeFileSync(join(dir, 'm.json'), JSON.stringify([{ role: 'user', content: '我头痛' }, { role: 'assistant', content: '多久了？' }]));
  const chat = JSON.parse((await capture(['encode', '--tokenizer', join(dir, 'tok'), '--messages', join(dir, 'm.json')])).out);
  assert.equal(chat.text, '<human>:我头痛\n<bot>:多久了？</s>');
  assert.equal(chat.ids.length, chat.assistantMask.length);
  assert.ok(chat.assistantMask.includes(1) && chat.assistantMask[0] === 0);
  await assert.rejects(tokenizerCommand.run(['train', join(dir, 'a.txt')]), (e: Error) => e instanceof UsageError && /--out is required/.test(e.message));
  await assert.rejects(tokenizerCommand.run(['train', '--out', dir, join(dir, 'missing.txt')]), /no such file/);
  assert.equal(await tokenizerCommand.run(['frob']), 2, 'an unknown subcommand is a usage error (src/cli/subcommands.ts prints the valid ones)');
  await assert.rejects(tokenizerCommand.run(['encode', '--tokenizer', join(dir, 'nope'), '--text', 'x']), /does not exist/);
});
