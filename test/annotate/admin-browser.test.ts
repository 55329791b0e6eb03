// admin-browser.test.ts — the admin page in headless Chromium: per-project progress and what is left (with the
// "fewer members than --per-item" warning that explains 0 items complete), per-annotator bars, and the agreement
// figures (α, τ-b) as the server computed them. Skips only without chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findChromium } from '../helpers.js';
import { serveAnnotate } from '../../src/annotate/server.js';
import { importFile } from '../../src/annotate/import.js';
import { candidateSets, tempDir, writeJsonl } from './helpers.js';

const chromiumPath = findChromium();

test('admin page in Chromium: progress per project and annotator, what is left, agreement at a glance', {
  skip: chromiumPath ? false : 'no chromium found (/usr/bin/chromium or `chromium` on PATH); install it with `apt-get install -y chromium`',
  timeout: 90_000,
}, async () => {
  const { chromium } = await import('playwright-core');
  const t = tempDir();
  const profile = mkdtempSync(join(tmpdir(), 'zj-chromium-'));
  const s = await serveAnnotate({ db: join(t.dir, 'a.db'), host: '127.0.0.1', port: 0 });
  let ctx: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
  try {
    // project "pair": 3 items, 2 per item, two annotators who rank every item identically → τ-b = α = 1
    const p = s.store.ensureProject('pair', 2);
    await importFile(s.store, writeJsonl(join(t.dir, 'in.jsonl'), candidateSets(3)), p);
    for (const n of ['ann', 'bob']) { s.store.addUser(n, 'annotator'); s.store.addMember('pair', n); }
    for (const n of ['ann', 'bob']) {
      const u = s.store.user(n);
      for (let i = 0; i < 2; i++) {
        const it = s.store.next(p, u)!;
        s.store.save(it, u, { ranking: [['c0'], ['c1'], ['c2'], ['c3']], rewrites: [], comment: '' });
      }
    }
    // project "solo": per item 2 but only one member — nothing can ever complete, and the page must say why
    const q = s.store.ensureProject('solo', 2);
    await importFile(s.store, writeJsonl(join(t.dir, 'in2.jsonl'), candidateSets(2, 4, 's')), q);
    s.store.addMember('solo', 'ann');
    const admin = s.store.addUser('boss', 'admin').token;

    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath!, headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    ctx.setDefaultTimeout(15_000);
    const page = ctx.pages()[0] ?? await ctx.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${s.url}/`);
    await page.evaluate(`localStorage.setItem('zj-annotate-token', ${JSON.stringify(admin)})`);
    await page.goto(`${s.url}/admin.html?project=pair`);
    await page.waitForSelector('#projects tr >> nth=1');
    const rows = await page.$$eval('#projects tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
    const pair = rows.find((r) => r.startsWith('pair'))!, solo = rows.find((r) => r.startsWith('solo'))!;
    // pair: 4 rankings saved of 3 × 2 → 2 left; complete = items both ranked (the store spreads items, so ask it)
    const complete = s.store.counts(p).complete;
    assert.ok(complete >= 1);
    assert.ok(pair.includes(`${complete} / 3 (${Math.round((100 * complete) / 3)}%)`), pair);
    assert.match(pair, /还差 2 份排序/, pair);
    assert.doesNotMatch(pair, /⚠/);
    assert.match(solo, /0 \/ 2 \(0%\)/, solo);
    assert.match(solo, /⚠ 每题需要 2 人，但只有 1 名成员/, solo);
    // per annotator: 2 done of 3 they could do
    await page.waitForSelector('#annotators tr >> nth=1');
    const ann = await page.$$eval('#annotators tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
    assert.equal(ann.length, 2);
    for (const a of ann) assert.match(a, /2 \/ 3 \(67%\)/, a);
    assert.equal((await page.textContent('#alpha'))?.trim(), '1.000');
    assert.equal((await page.textContent('#tau'))?.trim(), '1.000');
    assert.equal((await page.textContent('#compared'))?.trim(), String(complete));
    assert.match(await page.textContent('#alpha-word') ?? '', /high/);
    assert.deepEqual(pageErrors, []);
  } finally {
    await ctx?.close();
    await s.close();
    t.cleanup();
    rmSync(profile, { recursive: true, force: true });
  }
});
