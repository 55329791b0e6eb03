// The pipeline report's drawing helpers: round axis ticks (4–6 labelled), a CJK font stack, and in real Chromium
// (when installed) Chinese text that renders with glyphs rather than missing-glyph boxes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineChart, niceTicks, page, CJK_FONTS } from '../../src/pipeline/report.js';
import { findChromium } from '../helpers.js';

test('niceTicks: 4–6 round values whose span covers the range', () => {
  assert.deepEqual(niceTicks(1, 300), [0, 100, 200, 300]);
  assert.deepEqual(niceTicks(0.03, 7.59), [0, 2, 4, 6, 8]);
  for (const [lo, hi] of [[1, 96], [-3.95, -1.95], [1, 12], [0.5, 0.987], [0, 1], [1, 192]] as const) {
    const t = niceTicks(lo, hi);
    assert.ok(t.length >= 4 && t.length <= 6, `${lo}..${hi}: ${t}`);
    assert.ok(t[0]! <= lo + 1e-9 && t.at(-1)! >= hi - 1e-9, `${t} covers ${lo}..${hi}`);
    const step = t[1]! - t[0]!;
    assert.ok(/^(1|2|2\.5|5)0*$|^0\.0*(1|2|25|5)$/.test(String(+step.toPrecision(6))), `round step ${step}`);
  }
});

test('line charts label several ticks on both axes; pages name CJK fonts', () => {
  const svg = lineChart('loss', [{ name: 'train', points: [[1, 7.5], [100, 3], [300, 1]] }]);
  const labels = [...svg.matchAll(/<text[^>]*>([^<]+)<\/text>/g)].map((m) => m[1]);
  assert.ok(labels.length >= 9, `tick labels: ${labels}`);
  assert.ok(!labels.includes('1.00'), 'the x axis does not start at a fractional label');
  const html = page('t', []);
  for (const f of ['Noto Sans CJK SC', 'WenQuanYi Zen Hei', 'PingFang SC', 'Microsoft YaHei']) assert.ok(html.includes(f) && CJK_FONTS.includes(f), f);
});

const chromium = findChromium();
test('Chinese text in the report renders with real glyphs (not missing-glyph boxes)', {
  skip: chromium ? false : 'no Chromium installed: the glyph check is skipped', timeout: 60_000,
}, async () => {
  const { chromium: pw } = await import('playwright-core');
  const dir = mkdtempSync(join(tmpdir(), 'zj-cjk-'));
  const file = join(dir, 'r.html');
  // U+E000 is a private-use code point no font draws: it is what a missing glyph looks like
  writeFileSync(file, page('t', [{ title: 's', html: '<span id="zh">患者胸痛出汗</span><br><span id="box">\uE000\uE001\uE002\uE003\uE004\uE005</span>' }]));
  const browser = await pw.launch({ executablePath: chromium });
  try {
    const p = await browser.newPage();
    await p.goto('file://' + file);
    const shot = async (id: string) => (await p.locator(`#${id}`).screenshot()).toString('base64');
    const [zh, box] = [await shot('zh'), await shot('box')];
    assert.notEqual(zh, box, 'the CJK string renders like a string of missing glyphs: install a CJK font (fonts-wqy-zenhei or fonts-noto-cjk)');
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true });
  }
});
