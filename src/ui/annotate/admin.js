// admin.js — the admin page: project table, then for the chosen project per-annotator progress, agreement and
// export downloads (fetched with the token, saved through a blob URL). Only ratios of the server's counts are
// computed here (bars, what is left); agreement figures come from src/annotate/agreement.ts through the API.
import { api, el } from './api.js';

const $ = (id) => document.getElementById(id);
const fmt = (x) => (x === null || x === undefined ? 'n/a' : x.toFixed(3));
let current = new URLSearchParams(location.search).get('project');

/** A labelled bar: `done of total` with the share filled. */
function bar(done, total, label) {
  const pct = total > 0 ? Math.min(100, Math.round((100 * done) / total)) : 0;
  return el('span', { class: 'bar', title: label ?? `${done} / ${total}` },
    el('span', { class: 'fill', style: `width:${pct}%` }), el('span', { class: 'bar-text' }, `${done} / ${total} (${pct}%)`));
}

/** What a project still needs, in words: saved rankings left, items not yet complete, and why none can complete. */
function leftText(p) {
  const need = p.counts.items * p.perItem;
  const left = Math.max(0, need - p.counts.done);
  const parts = [`还差 ${left} 份排序 rankings left · ${p.counts.items - p.counts.complete} 道题未完成 items not complete`];
  if (p.members.length < p.perItem)
    parts.push(`⚠ 每题需要 ${p.perItem} 人，但只有 ${p.members.length} 名成员：没有题目能完成 — add members or lower --per-item`);
  return parts.join(' · ');
}
const agreementWord = (x) => (x === null || x === undefined ? '尚无 not yet (needs items ranked by 2+ annotators)' : x >= 0.8 ? '高 high' : x >= 0.667 ? '尚可 tentative' : '低 low');

async function showProject(name) {
  current = name;
  const s = await api('GET', `/api/admin/projects/${encodeURIComponent(name)}/stats?top=30`);
  $('detail').hidden = false;
  $('pname').textContent = name;
  $('annotators').replaceChildren(...s.annotators.map((a) => el('tr', {}, el('td', {}, a.name),
    el('td', {}, a.progress.done), el('td', {}, a.progress.skipped), el('td', {}, a.progress.pending), el('td', {}, a.progress.available),
    el('td', {}, bar(a.progress.done, a.progress.done + a.progress.available + a.progress.pending)))));
  const g = s.agreement;
  $('alpha').textContent = fmt(g.alphaOrdinal);
  $('alpha-word').textContent = agreementWord(g.alphaOrdinal);
  $('tau').textContent = fmt(g.meanTau);
  $('compared').textContent = String(g.itemsCompared);
  $('agreement').textContent = `Krippendorff α（序数 ordinal）= ${fmt(g.alphaOrdinal)} · 平均 Kendall τ-b = ${fmt(g.meanTau)} · 比较了 ${g.itemsCompared} 道有两人以上标注的题目`;
  $('worst').replaceChildren(...g.mostDisagreement.map((it) => el('tr', {}, el('td', {}, it.itemId), el('td', {}, fmt(it.meanTau)),
    el('td', {}, it.pairs.map((p) => `${p.a}–${p.b}: ${fmt(p.tau)}`).join('; ')))));
}

async function download(format) {
  const res = await fetch(`/api/admin/projects/${encodeURIComponent(current)}/export?format=${format}`, { headers: { authorization: `Bearer ${localStorage.getItem('zj-annotate-token')}` } });
  if (!res.ok) { $('error').textContent = (await res.json()).error?.message ?? res.statusText; return; }
  const note = res.headers.get('x-export-notice');
  $('export-note').textContent = note ? decodeURIComponent(note) : '';
  const url = URL.createObjectURL(await res.blob());
  const a = el('a', { href: url, download: `${current}.${format === 'tsv' ? 'tsv' : format === 'pairs' ? 'pairs.jsonl' : 'jsonl'}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function main() {
  const r = await api('GET', '/api/admin/projects');
  $('projects').replaceChildren(...r.projects.map((p) => el('tr', {},
    el('td', {}, el('a', { href: `?project=${encodeURIComponent(p.name)}`, onclick: (ev) => { ev.preventDefault(); history.replaceState(null, '', `?project=${encodeURIComponent(p.name)}`); showProject(p.name).catch(err); } }, p.name)),
    el('td', {}, p.counts.items), el('td', {}, p.perItem), el('td', {}, p.counts.done), el('td', {}, p.counts.complete),
    el('td', {}, p.members.join(', ')), el('td', {}, bar(p.counts.complete, p.counts.items)), el('td', { class: 'left' }, leftText(p)))));
  if (current) await showProject(current);
}
const err = (e) => { $('error').textContent = e.status === 403 ? '需要管理员权限 Admins only' : e.message; };
document.querySelectorAll('button[data-format]').forEach((b) => b.addEventListener('click', () => download(b.dataset.format).catch(err)));
main().catch(err);
