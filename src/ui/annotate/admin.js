// admin.js — the admin page: project table, then for the chosen project per-annotator progress, agreement and
// export downloads (fetched with the token, saved through a blob URL). No figures are computed here.
import { api, el } from './api.js';

const $ = (id) => document.getElementById(id);
const fmt = (x) => (x === null || x === undefined ? 'n/a' : x.toFixed(3));
let current = new URLSearchParams(location.search).get('project');

async function showProject(name) {
  current = name;
  const s = await api('GET', `/api/admin/projects/${encodeURIComponent(name)}/stats?top=30`);
  $('detail').hidden = false;
  $('pname').textContent = name;
  $('annotators').replaceChildren(...s.annotators.map((a) => el('tr', {}, el('td', {}, a.name), el('td', {}, a.progress.done),
    el('td', {}, a.progress.skipped), el('td', {}, a.progress.pending), el('td', {}, a.progress.available))));
  const g = s.agreement;
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
    el('td', {}, p.counts.items), el('td', {}, p.perItem), el('td', {}, p.counts.done), el('td', {}, p.counts.complete), el('td', {}, p.members.join(', ')))));
  if (current) await showProject(current);
}
const err = (e) => { $('error').textContent = e.status === 403 ? '需要管理员权限 Admins only' : e.message; };
document.querySelectorAll('button[data-format]').forEach((b) => b.addEventListener('click', () => download(b.dataset.format).catch(err)));
main().catch(err);
