// browser-long.test.ts — a 30-turn consultation on the page in headless Chromium against a 160-token model: every
// turn gets an answer (never an error bubble), the page shows a notice once earlier turns leave the model's view,
// and the page keeps the whole conversation. Skips only where no chromium is found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findChromium } from '../helpers.js';
import { start, tinyModel } from './helpers.js';

const chromiumPath = findChromium();

test('page: 30 turns on a 160-token context never error, and say when earlier turns are left out', {
  skip: chromiumPath ? false : 'no chromium found (/usr/bin/chromium or `chromium` on PATH); install it with `apt-get install -y chromium`',
  timeout: 120_000,
}, async () => {
  const { chromium } = await import('playwright-core');
  const model = await tinyModel({ maxPositions: 160 });
  const profile = mkdtempSync(join(tmpdir(), 'zj-chromium-'));
  const s = await start(model.dir);
  let ctx: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath!, headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    ctx.setDefaultTimeout(20_000);
    const page = ctx.pages()[0] ?? await ctx.newPage();
    await page.goto(`${s.url}/`);
    await page.waitForSelector('body[data-ready="1"]');
    await page.fill('#max-tokens', '8');
    await page.fill('#temperature', '0');
    for (let i = 0; i < 30; i++) {
      await page.fill('#input', `咳嗽第${i + 1}天，还有点发烧`);
      await page.click('#send');
      await page.waitForSelector(`.msg.assistant >> nth=${i}`);
      await page.waitForSelector('#send:not([disabled])');
      assert.equal((await page.$$('.msg.error')).length, 0, `turn ${i + 1}: ${await page.textContent('#log')}`);
    }
    assert.equal((await page.$$('.msg.assistant')).length, 30);
    assert.equal((await page.$$('.msg.user')).length, 30, 'the page keeps every turn');
    const notices = await page.$$eval('.msg.notice .text', (xs) => xs.map((x) => x.textContent ?? ''));
    assert.ok(notices.length > 0 && /最早的 \d+ 轮/.test(notices.at(-1)!), `a truncation notice: ${JSON.stringify(notices)}`);
  } finally {
    await ctx?.close();
    await s.close();
    model.remove();
    rmSync(profile, { recursive: true, force: true });
  }
});
