// browser.test.ts — end to end in real headless Chromium (Debian's /usr/bin/chromium via playwright-core, never a
// downloaded browser): log in with a token, rewrite an answer, rank with the keyboard including a tie, undo, drag, submit,
// reload and see it persisted, export over HTTP and load the export with the data layer. Skips only without chromium.
import { test } from 'node:test';
import { findChromium } from '../helpers.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveAnnotate } from '../../src/annotate/server.js';
import { importFile } from '../../src/annotate/import.js';
import { loadFile } from '../../src/data/load.js';
import type { PreferenceSet } from '../../src/data/types.js';
import { candidateSets, tempDir, writeJsonl } from './helpers.js';


const chromiumPath = findChromium();

test('annotate in Chromium: login, rewrite, keyboard ranking with a tie, undo, reload, export', {
  skip: chromiumPath ? false : 'no chromium found (/usr/bin/chromium or `chromium` on PATH); install it with `apt-get install -y chromium`',
  timeout: 90_000,
}, async () => {
  const { chromium } = await import('playwright-core');
  const t = tempDir();
  const profile = mkdtempSync(join(tmpdir(), 'zj-chromium-'));
  const s = await serveAnnotate({ db: join(t.dir, 'a.db'), host: '127.0.0.1', port: 0 });
  let ctx: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
  try {
    const p = s.store.ensureProject('e2e', 1);
    await importFile(s.store, writeJsonl(join(t.dir, 'in.jsonl'), candidateSets(2)), p);
    const doc = s.store.addUser('doc', 'annotator').token;
    s.store.addMember('e2e', 'doc');
    const admin = s.store.addUser('boss', 'admin').token;

    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath!, headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    ctx.setDefaultTimeout(15_000);
    const page = ctx.pages()[0] ?? await ctx.newPage();
    const foreign: string[] = [], pageErrors: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith(s.url)) foreign.push(r.url()); });
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // log in with the token; the project list links to the workspace
    await page.goto(`${s.url}/`);
    await page.fill('#token', 'zj_wrong');
    await page.click('#login');
    await page.waitForSelector('#login-error:has-text("Invalid token")');
    await page.fill('#token', doc);
    await page.click('#login');
    await page.click('a.open-project[data-project="e2e"]');
    await page.waitForSelector('.cand[data-id="c3"]');
    assert.equal(await page.locator('#cands .cand').count(), 4);
    assert.match(await page.textContent('#rule') ?? '', /安全 Safety/);
    assert.equal((await page.textContent('#item-id'))?.trim(), '# q0');

    // rewrite answer 3: it becomes its own top-ranked candidate
    await page.click('.cand[data-id="c2"] .rewrite-btn');
    await page.fill('.cand[data-id="c2"] textarea.rewrite-text', '医生改写：夜间咳嗽加重建议先查血常规和胸片，若有气促请尽快就医。');
    await page.click('.cand[data-id="c2"] .save-rewrite');
    await page.waitForSelector('.cand[data-id="rw-c2"]');

    // keyboard: 2, then "=" 4 (tie with 2), then 1, then a wrong 4th pick undone with Backspace, then 3
    await page.click('#item-id'); // somewhere neutral: keys typed into a textarea are text, not ranks
    for (const k of ['2', '=', '4', '1', '3', 'Backspace', '3']) await page.keyboard.press(k);
    const rows = () => page.$$eval('#ranking .row', (rs) => rs.map((r) => [...r.querySelectorAll('.chip')].map((c) => c.getAttribute('data-id'))));
    assert.deepEqual(await rows(), [['rw-c2'], ['c1', 'c3'], ['c0'], ['c2']]);
    assert.equal(await page.locator('#pool .chip').count(), 0);
    await page.fill('#comment', '回答3有误导，已改写');
    await page.click('#item-id'); // somewhere neutral: keys typed into a textarea are text, not ranks
    await page.keyboard.press('Enter');
    await page.waitForSelector('#item-id:has-text("q1")');
    assert.match(await page.textContent('#progress') ?? '', /进度 1 \/ 2/);

    // drag: a card onto the empty ranking opens rank 1; a card dropped on that row ties with it; onto a gap, a new rank
    await page.waitForSelector('.cand[data-id="c3"]');
    await page.dragAndDrop('.cand[data-id="c3"]', '#ranking .gap');
    await page.dragAndDrop('.cand[data-id="c1"]', '#ranking .row[data-rank="1"]');
    await page.dragAndDrop('.cand[data-id="c0"]', '#ranking .gap >> nth=0');
    assert.deepEqual(await rows(), [['c0'], ['c3', 'c1']]);

    // reload the saved item: ranking, rewrite and comment come back from the database
    await page.goto(`${s.url}/annotate.html?project=e2e&item=q0`);
    await page.waitForSelector('.cand[data-id="rw-c2"]');
    assert.deepEqual(await rows(), [['rw-c2'], ['c1', 'c3'], ['c0'], ['c2']]);
    assert.equal(await page.inputValue('#comment'), '回答3有误导，已改写');
    assert.match(await page.textContent('.cand[data-id="rw-c2"]') ?? '', /医生改写/);

    // the annotator's browser cannot open admin data
    await page.goto(`${s.url}/admin.html`);
    await page.waitForSelector('#error:has-text("Admins only")');

    assert.deepEqual(foreign, [], 'every request goes to our server (no CDN)');
    assert.deepEqual(pageErrors, []);

    // export over HTTP as the admin and read it back with the data layer's loader
    const res = await fetch(`${s.url}/api/admin/projects/e2e/export?format=ranking`, { headers: { authorization: `Bearer ${admin}` } });
    assert.equal(res.status, 200);
    const out = join(t.dir, 'export.jsonl');
    writeFileSync(out, await res.text());
    const { records, report } = await loadFile(out, { onError: 'fail' });
    assert.equal(report.rejected, 0);
    assert.equal(records.length, 1);
    const r = records[0] as PreferenceSet;
    assert.equal(r.kind, 'preference');
    assert.deepEqual(r.ranking, [['rw-c2'], ['c1', 'c3'], ['c0'], ['c2']]);
    assert.deepEqual(r.candidates.find((c) => c.id === 'rw-c2'), { id: 'rw-c2', text: '医生改写：夜间咳嗽加重建议先查血常规和胸片，若有气促请尽快就医。', source: 'rewrite', rewriteOf: 'c2' });
    assert.equal(r.annotator, 'doc');
    assert.equal(r.comment, '回答3有误导，已改写');

    // the admin page, logged in as the admin: progress per annotator and the agreement line
    await page.goto(`${s.url}/`);
    // a string, not a function: the test is compiled without the DOM types
    await page.evaluate(`localStorage.setItem('zj-annotate-token', ${JSON.stringify(admin)})`);
    await page.goto(`${s.url}/admin.html?project=e2e`);
    await page.waitForSelector('#annotators tr');
    assert.deepEqual(await page.$$eval('#annotators tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent))), [['doc', '1']]);
    assert.match(await page.textContent('#agreement') ?? '', /Krippendorff α（序数 ordinal）= n\/a .* 比较了 0 道/);
    assert.deepEqual(pageErrors, []);
  } finally {
    if (ctx) await ctx.close();
    await s.close();
    rmSync(profile, { recursive: true, force: true });
    t.cleanup();
  }
});
