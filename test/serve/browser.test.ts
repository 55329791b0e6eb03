// browser.test.ts — the consultation page in real headless Chromium (Debian's /usr/bin/chromium via playwright-core,
// never a downloaded browser): the safety notice shows, a typed question streams its answer in several DOM updates,
// a follow-up is sent with the whole conversation, an emergency gets the urgent message first, the dialogue survives a
// reload and exports as JSON and text; no request leaves the server. Skips only where no chromium is found.
import { test } from 'node:test';
import { findChromium } from '../helpers.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { URGENT_HEADER } from '../../src/serve/guard.js';
import { start, tinyModel } from './helpers.js';

const chromiumPath = findChromium();

test('consultation page in Chromium: streamed answer, follow-up keeps the context, urgent message, reload, export', {
  skip: chromiumPath ? false : 'no chromium found (/usr/bin/chromium or `chromium` on PATH); install it with `apt-get install -y chromium`',
  timeout: 90_000,
}, async () => {
  const { chromium } = await import('playwright-core');
  const model = await tinyModel({ maxPositions: 512 });
  const profile = mkdtempSync(join(tmpdir(), 'zj-chromium-'));
  const s = await start(model.dir);
  let ctx: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath!, headless: true, acceptDownloads: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    ctx.setDefaultTimeout(20_000);
    const page = ctx.pages()[0] ?? await ctx.newPage();
    const foreign: string[] = [], pageErrors: string[] = [], bodies: { messages: { role: string; content: string }[] }[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(s.url)) foreign.push(r.url());
      if (r.url().endsWith('/v1/chat/completions')) bodies.push(JSON.parse(r.postData() ?? '{}'));
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));

    await page.goto(`${s.url}/`);
    await page.waitForSelector('body[data-ready="1"]');
    assert.match(await page.textContent('#notice') ?? '', /不是医生/);
    assert.match(await page.textContent('#model') ?? '', /tiny/);
    await page.fill('#max-tokens', '24');
    await page.fill('#temperature', '0');
    // every text node the page puts into an answer, in order: several growing prefixes = tokens were streamed
    // (a string: the test compiles without the DOM library)
    await page.evaluate(`
      window.snaps = [];
      new MutationObserver((records) => {
        for (const r of records) for (const n of r.addedNodes)
          if (n.nodeType === 3 && n.parentElement?.closest('.msg.assistant')) window.snaps.push(n.data);
      }).observe(document.getElementById('log'), { childList: true, subtree: true });
    `);

    const answers = () => page.$$eval('.msg.assistant .text', (xs) => xs.map((x) => x.textContent ?? ''));
    const idle = () => page.waitForSelector('#send:not([disabled])');

    await page.fill('#input', '医生您好，我咳嗽三天了，晚上更厉害');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#send[disabled]');
    await idle();
    const first = (await answers())[0]!;
    assert.ok(first.length > 0, 'an answer arrived');
    const snaps = await page.evaluate('window.snaps') as string[];
    const growing = [...new Set(snaps.filter((x) => x.length > 0))];
    assert.ok(growing.length >= 3, `the answer should appear in several steps, saw ${growing.length}: ${JSON.stringify(growing)}`);
    for (const p of growing) assert.ok(first.startsWith(p), 'each streamed state is a prefix of the final answer');
    assert.match(first, /不是医生/, 'the standing disclaimer ends the answer');

    // the follow-up carries the whole conversation
    await page.fill('#input', '需要吃什么药吗？');
    await page.click('#send');
    await page.waitForSelector('.msg.assistant >> nth=1');
    await idle();
    assert.equal(bodies.length, 2);
    assert.deepEqual(bodies[1]!.messages.map((m) => m.role), ['user', 'assistant', 'user']);
    assert.equal(bodies[1]!.messages[0]!.content, '医生您好，我咳嗽三天了，晚上更厉害');
    assert.equal(bodies[1]!.messages[1]!.content, first);
    assert.equal(bodies[1]!.messages[2]!.content, '需要吃什么药吗？');
    assert.equal((await page.$$('.msg.user')).length, 2);

    // an emergency: the urgent message comes first and the answer is marked
    await page.fill('#input', '我突然喘不上气，嘴唇发紫');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.msg.assistant.urgent');
    await idle();
    const third = (await answers())[2]!;
    assert.ok(third.startsWith(URGENT_HEADER), third);
    assert.equal(bodies[2]!.messages.length, 5);

    // the conversation survives a reload (this tab's storage)
    await page.reload();
    await page.waitForSelector('body[data-ready="1"]');
    assert.equal((await page.$$('.msg')).length, 6);
    assert.equal((await answers())[0], first);

    // export: JSON with every turn, and text
    const [dj] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
    const doc = JSON.parse(readFileSync((await dj.path())!, 'utf8'));
    assert.equal(doc.model, 'tiny');
    assert.deepEqual(doc.messages.map((m: { role: string }) => m.role), ['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
    assert.equal(doc.messages[1].content, first);
    assert.equal(doc.messages[5].urgent, true);
    const [dt] = await Promise.all([page.waitForEvent('download'), page.click('#export-text')]);
    const txt = readFileSync((await dt.path())!, 'utf8');
    assert.match(txt, /患者：医生您好，我咳嗽三天了/);
    assert.match(txt, /模型：【紧急提示】/);

    // a new conversation starts empty
    await page.click('#new-chat');
    assert.equal((await page.$$('.msg')).length, 0);
    assert.deepEqual(foreign, [], 'no request leaves the server (no CDN)');
    assert.deepEqual(pageErrors, []);
  } finally {
    await ctx?.close();
    await s.close();
    model.remove();
    rmSync(profile, { recursive: true, force: true });
  }
});
