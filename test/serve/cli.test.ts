// cli.test.ts — `zhongjing serve` as a user runs it: a child process on a free port answers /health and an
// authorised chat request, stops cleanly on SIGTERM; a missing or broken model directory fails with a clear message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonOf, post, start, tinyModel, user } from './helpers.js';

test('zhongjing serve: starts on a free port, serves, stops on SIGTERM with exit code 0', { timeout: 60_000 }, async () => {
  const model = await tinyModel();
  const child = spawn(process.execPath, ['bin/zhongjing.js', 'serve', '--model', model.dir, '--port', '0', '--api-key', 'k-1', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    child.stdout.setEncoding('utf8');
    const url = await new Promise<string>((ok, fail) => {
      child.stdout.on('data', (d: string) => {
        out += d;
        const m = /page (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
        if (m) ok(m[1]!);
      });
      child.once('exit', (code) => fail(new Error(`serve exited early (${code}): ${out}`)));
    });
    assert.match(out, /tiny \(LlamaForCausalLM/);
    assert.equal((await jsonOf(fetch(`${url}/health`))).status, 'ok');
    assert.equal((await post(url, { messages: [user('咳嗽')], max_tokens: 3 })).status, 401);
    const j = await jsonOf(post(url, { messages: [user('咳嗽')], max_tokens: 3 }, { authorization: 'Bearer k-1' }));
    assert.equal(j.object, 'chat.completion');
    const code = await new Promise<number | null>((ok) => { child.once('exit', ok); child.kill('SIGTERM'); });
    assert.equal(code, 0);
    assert.match(out, /serve: stopped/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    model.remove();
  }
});

test('a model directory that does not load fails start-up with the loader\'s message, and no worker is left', async () => {
  await assert.rejects(start('/nonexistent/zj-model'), /\[serve engine\] the model did not load: .*no such directory/);
  const model = await tinyModel();
  try {
    writeFileSync(join(model.dir, 'config.json'), '{"architectures": ["GPT2LMHeadModel"]}');
    await assert.rejects(start(model.dir), /\[serve engine\] the model did not load/);
  } finally {
    model.remove();
  }
});
