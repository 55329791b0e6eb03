// report.ts — the pipeline's self-contained HTML report: per-stage summaries, loss / accuracy / reward / KL curves
// as inline SVG, win/tie/loss bars of the final model against the SFT model, and sample consultations after each
// stage. No scripts, no external assets.

export interface Series { name: string; points: [number, number][] }

const esc = (s: unknown) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c'];
/** fonts with CJK glyphs on Linux, macOS and Windows: without one, Chinese text renders as boxes */
export const CJK_FONTS = '"Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Zen Hei","WenQuanYi Micro Hei","PingFang SC","Microsoft YaHei"';

/**
 * 4–6 round tick values (1, 2, 2.5 or 5 times a power of ten apart) whose span covers [lo, hi]: the axis is drawn from
 * the first tick to the last, so every end is labelled with a round number.
 */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) return [lo];
  const mag = 10 ** Math.floor(Math.log10((hi - lo) / (target - 1)));
  let best: number[] = [];
  for (const m of [0.5, 1, 2, 2.5, 5, 10]) {
    const step = m * mag, first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
    const t = Array.from({ length: last - first + 1 }, (_, i) => +((first + i) * step).toPrecision(12));
    if (t.length >= 4 && t.length <= 6) return t;
    if (!best.length || Math.abs(t.length - target) < Math.abs(best.length - target)) best = t;
  }
  return best;
}

export function lineChart(title: string, series: Series[], w = 420, h = 220): string {
  const pts = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  if (pts.length === 0) return `<figure><figcaption>${esc(title)}</figcaption><p class="muted">no data</p></figure>`;
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  const xt = niceTicks(x0, x1), yt = niceTicks(y0, y1);
  [x0, x1, y0, y1] = [xt[0]!, xt.at(-1)!, yt[0]!, yt.at(-1)!];
  const L = 48, R = 10, T = 10, B = 28;
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (w - L - R), sy = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (h - T - B);
  const lines = series.map((s, i) => {
    const d = s.points.filter(([, y]) => Number.isFinite(y)).map(([x, y], j) => `${j ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    return `<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5"/>`;
  }).join('');
  const fmt = (v: number) => (Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? String(+v.toFixed(2)) : String(+v.toPrecision(2)));
  const axes = `<line x1="${L}" y1="${h - B}" x2="${w - R}" y2="${h - B}" stroke="#999"/><line x1="${L}" y1="${T}" x2="${L}" y2="${h - B}" stroke="#999"/>` +
    yt.map((v) => `<line x1="${L - 3}" y1="${sy(v).toFixed(1)}" x2="${L}" y2="${sy(v).toFixed(1)}" stroke="#999"/><text x="${L - 5}" y="${(sy(v) + 3).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`).join('') +
    xt.map((v) => `<line x1="${sx(v).toFixed(1)}" y1="${h - B}" x2="${sx(v).toFixed(1)}" y2="${h - B + 3}" stroke="#999"/><text x="${sx(v).toFixed(1)}" y="${h - B + 13}" text-anchor="middle">${fmt(v)}</text>`).join('') +
    `<text x="${w - R}" y="${h - 2}" text-anchor="end">step</text>`;
  const legend = series.map((s, i) => `<span style="color:${COLORS[i % COLORS.length]}">■ ${esc(s.name)}</span>`).join(' ');
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" font-size="10">${axes}${lines}</svg><div class="legend">${legend}</div></figure>`;
}

export function stackedBar(label: string, counts: Record<string, number>): string {
  const keys = ['win', 'tie', 'loss', 'unparseable', 'error', 'missing'];
  const colors: Record<string, string> = { win: '#16a34a', tie: '#a3a3a3', loss: '#dc2626', unparseable: '#f59e0b', error: '#7c3aed', missing: '#0ea5e9' };
  const total = keys.reduce((s, k) => s + (counts[k] ?? 0), 0) || 1;
  const segs = keys.filter((k) => counts[k]).map((k) => `<div style="width:${((100 * counts[k]!) / total).toFixed(2)}%;background:${colors[k]}" title="${k} ${counts[k]}">${k} ${counts[k]}</div>`).join('');
  return `<div class="barrow"><span class="barlabel">${esc(label)}</span><div class="bar">${segs}</div></div>`;
}

export function table(rows: Record<string, unknown>[], cols?: string[]): string {
  if (rows.length === 0) return '<p class="muted">none</p>';
  const c = cols ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : v === null || v === undefined ? '–' : typeof v === 'object' ? esc(JSON.stringify(v)) : esc(v));
  return `<div class="scroll"><table><tr>${c.map((k) => `<th>${esc(k)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${c.map((k) => `<td>${cell(r[k])}</td>`).join('')}</tr>`).join('')}</table></div>`;
}

export function page(title: string, sections: { title: string; html: string }[]): string {
  return `<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{font:14px/1.5 system-ui,-apple-system,${CJK_FONTS},sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#111}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:2em}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
figure{display:inline-block;margin:0 1em 1em 0}figcaption{font-weight:600}.legend{font-size:12px}.muted{color:#777}
.barrow{display:flex;align-items:center;margin:4px 0}.barlabel{width:220px}.bar{display:flex;flex:1;height:22px;font-size:11px;color:#fff}
.bar div{overflow:hidden;white-space:nowrap;padding-left:4px;line-height:22px}.note{background:#fff7ed;border:1px solid #fed7aa;padding:8px}
.dialog{white-space:pre-wrap;background:#f8fafc;border:1px solid #e2e8f0;padding:6px;margin:4px 0}
</style></head><body><h1>${esc(title)}</h1>
<p class="note">zhongjing is a research tool, not a doctor. The models trained here are tiny demonstrations; nothing they say is medical advice.</p>
${sections.map((s) => `<h2>${esc(s.title)}</h2>${s.html}`).join('\n')}</body></html>`;
}

export { esc };
