// report-browser.test.ts — the HTML report in real headless Chromium (/usr/bin/chromium via playwright-core): the page
// loads with every outside request refused, each stacked bar's segments fill its width in proportion to the counts,
// and the failure segment is drawn. Skips only when no Chromium is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyReport, renderReportHtml } from '../../src/eval/report.js';
import { resultOf } from '../../src/eval/pairwise.js';
import type { Outcome, PairVerdict } from '../../src/eval/types.js';

const CHROMIUM = '/usr/bin/chromium';

test('report renders in Chromium: bars proportional to counts, failures visible, no outside requests', {
  skip: existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}: the browser check of the report is skipped`,
  timeout: 60_000,
}, async () => {
  const { chromium } = await import('playwright-core');
  const outcomes: Outcome[] = [...Array(6).fill('win'), ...Array(3).fill('tie'), 'loss', 'unparseable', 'missing'];
  const vs: PairVerdict[] = outcomes.map((o, i) => ({ itemId: `i${i}`, outcomes: { ability: o, safety: i < 2 ? 'loss' : 'tie' } }));
  const rep = emptyReport('browser check');
  rep.pairwise.push(resultOf('final', 'sft', 'demo', ['ability', 'safety'], vs));
  const dir = mkdtempSync(join(tmpdir(), 'zj-eval-html-'));
  const file = join(dir, 'r.html');
  writeFileSync(file, renderReportHtml(rep));
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  try {
    const page = await browser.newPage();
    const outside: string[] = [];
    await page.route('**/*', (route) => {
      const u = route.request().url();
      if (u.startsWith('file://')) return route.continue();
      outside.push(u);
      return route.abort();
    });
    await page.goto('file://' + file);
    assert.deepEqual(outside, [], 'self-contained');
    const bars = await page.$$eval('svg.bar', (svgs) => svgs.map((s) => ({
      width: s.getBoundingClientRect().width,
      segs: [...s.querySelectorAll('rect.seg')].map((r) => ({ o: r.getAttribute('data-outcome'), n: Number(r.getAttribute('data-count')), w: r.getBoundingClientRect().width })),
    })));
    assert.equal(bars.length, 2);
    const ab = bars[0]!;
    assert.deepEqual(ab.segs.map((s) => [s.o, s.n]), [['win', 6], ['tie', 3], ['loss', 1], ['unparseable', 1], ['missing', 1]]);
    const sum = ab.segs.reduce((a, s) => a + s.w, 0);
    assert.ok(Math.abs(sum - ab.width) < 1, `segments fill the bar (${sum} of ${ab.width})`);
    for (const s of ab.segs) assert.ok(Math.abs(s.w - (s.n / 12) * ab.width) < 1, `${s.o} width is proportional`);
    const visible = await page.isVisible('rect.seg[data-outcome="unparseable"]');
    assert.ok(visible);
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
