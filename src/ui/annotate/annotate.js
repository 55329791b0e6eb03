// annotate.js — state and behaviour of the ranking workspace. The ranking is a list of groups (best first; a
// group of several ids is a tie). Keys: 1..K pick the next answer, `=` ties the next pick with the previous one,
// Backspace/U undo, Enter submits. Cards can be dragged onto a rank (tie) or between ranks (new rank).
// Validation is the server's: the page only keeps Submit disabled until every answer has a rank.
import { api, el, token } from './api.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const project = params.get('project') ?? '';
const base = `/api/projects/${encodeURIComponent(project)}`;

let item = null;         // {id, prompt, history, candidates, allowTies}
let groups = [];         // string[][]
let rewrites = [];       // {id, of, text}
let tieNext = false;
let undoStack = [];      // snapshots of {groups, rewrites, tieNext}
let editing = null;      // id of the candidate being rewritten

const snapshot = () => JSON.stringify({ groups, rewrites, tieNext });
function remember() { undoStack.push(snapshot()); }
const allIds = () => [...item.candidates.map((c) => c.id), ...rewrites.map((w) => w.id)];
const ranked = () => new Set(groups.flat());
const keyOf = (id) => {
  const i = item.candidates.findIndex((c) => c.id === id);
  if (i >= 0) return String(i + 1);
  const w = rewrites.find((x) => x.id === id);
  return `R${keyOf(w.of)}`;
};
const complete = () => item && allIds().every((id) => ranked().has(id));

function place(id, at, join) {
  // at: group index; join: add to that group (tie) instead of inserting a new group before it
  const from = groups.findIndex((g) => g.includes(id));
  // removing a card that was alone in its rank shifts every later rank up by one
  if (at !== undefined && from >= 0 && from < at && groups[from].length === 1) at--;
  groups = groups.map((g) => g.filter((x) => x !== id)).filter((g) => g.length);
  if (at === undefined) groups.push([id]);
  else if (join) { at = Math.min(at, groups.length - 1); if (at < 0) groups.push([id]); else groups[at].push(id); }
  else groups.splice(Math.min(at, groups.length), 0, [id]);
}

function pick(n) {
  const c = item.candidates[n - 1];
  if (!c || ranked().has(c.id)) return;
  remember();
  if (tieNext && groups.length && item.allowTies) groups[groups.length - 1].push(c.id);
  else groups.push([c.id]);
  tieNext = false;
  render();
}

async function undo() {
  const prev = undoStack.pop();
  if (prev) {
    ({ groups, rewrites, tieNext } = JSON.parse(prev));
    render();
    return;
  }
  // nothing to undo on this item: reopen the previous one (its saved ranking is the starting point)
  const r = await api('POST', `${base}/undo`);
  if (r.item) await load(r.item);
  else $('error').textContent = '没有可撤销的操作 Nothing to undo';
}

function dragSource(node, id) {
  node.setAttribute('draggable', 'true');
  node.addEventListener('dragstart', (ev) => ev.dataTransfer.setData('text/plain', id));
}
function dropTarget(node, onDrop) {
  node.addEventListener('dragover', (ev) => { ev.preventDefault(); node.classList.add('drop-over'); });
  node.addEventListener('dragleave', () => node.classList.remove('drop-over'));
  node.addEventListener('drop', (ev) => {
    ev.preventDefault();
    node.classList.remove('drop-over');
    const id = ev.dataTransfer.getData('text/plain');
    if (!allIds().includes(id)) return;
    remember();
    onDrop(id);
    render();
  });
}

function chip(id) {
  const c = el('span', { class: `chip${id.startsWith('rw-') ? ' rw' : ''}`, 'data-id': id }, keyOf(id));
  dragSource(c, id);
  return c;
}

function renderRanking() {
  const rows = [];
  const gap = (at) => { const g = el('div', { class: 'gap' }); dropTarget(g, (id) => place(id, at, false)); return g; };
  rows.push(gap(0));
  groups.forEach((g, i) => {
    const row = el('div', { class: 'row', 'data-rank': i + 1 }, el('span', { class: 'pos' }, `第 ${i + 1} 名`), ...g.map(chip),
      g.length > 1 ? el('span', { class: 'tie-mark' }, '并列 tie') : null);
    dropTarget(row, (id) => place(id, i, true));
    rows.push(row, gap(i + 1));
  });
  $('ranking').replaceChildren(...rows);
  const left = allIds().filter((id) => !ranked().has(id));
  $('pool').replaceChildren(...left.map(chip));
  $('tie-hint').hidden = !tieNext;
}

function card(c, i) {
  const isRanked = ranked().has(c.id);
  const rank = groups.findIndex((g) => g.includes(c.id));
  const head = el('div', { class: 'head' }, el('span', { class: 'key' }, String(i + 1)),
    el('span', { class: 'status' }, c.source ? `来源 ${c.source}` : ''),
    isRanked ? el('span', { class: 'badge' }, `第 ${rank + 1} 名`) : null,
    el('span', { class: 'spacer', style: 'flex:1' }),
    el('button', { class: 'rewrite-btn', 'data-id': c.id, onclick: () => { editing = c.id; render(); } }, '改写 Rewrite'));
  const body = editing === c.id
    ? el('div', {}, el('textarea', { class: 'rewrite-text', rows: 8 }, rewrites.find((w) => w.of === c.id)?.text ?? c.text),
      el('div', { class: 'actions' },
        el('button', { class: 'primary save-rewrite', onclick: (ev) => saveRewrite(c.id, ev.target.closest('.cand').querySelector('textarea').value) }, '保存改写 Save rewrite'),
        el('button', { onclick: () => { editing = null; render(); } }, '取消 Cancel')))
    : el('div', { class: 'text' }, c.text);
  const n = el('div', { class: `cand${isRanked ? ' ranked' : ''}`, 'data-id': c.id }, head, body);
  if (editing !== c.id) dragSource(n, c.id);
  return n;
}

function rewriteCard(w) {
  const n = el('div', { class: `cand rewrite${ranked().has(w.id) ? ' ranked' : ''}`, 'data-id': w.id },
    el('div', { class: 'head' }, el('span', { class: 'key' }, keyOf(w.id)), el('span', { class: 'status' }, `改写自 ${keyOf(w.of)} · rewrite of ${keyOf(w.of)}`),
      el('span', { style: 'flex:1' }), el('button', { onclick: () => { remember(); rewrites = rewrites.filter((x) => x !== w); groups = groups.map((g) => g.filter((x) => x !== w.id)).filter((g) => g.length); render(); } }, '删除 Remove')),
    el('div', { class: 'text' }, w.text));
  dragSource(n, w.id);
  return n;
}

function saveRewrite(of, text) {
  if (!text.trim()) return;
  remember();
  const id = `rw-${of}`;
  rewrites = rewrites.filter((w) => w.of !== of).concat([{ id, of, text }]);
  // the expert's own answer is the best one: it takes the top rank on its own
  groups = groups.map((g) => g.filter((x) => x !== id)).filter((g) => g.length);
  groups.unshift([id]);
  editing = null;
  render();
}

function render() {
  $('cands').replaceChildren(...item.candidates.map(card), ...rewrites.map(rewriteCard));
  renderRanking();
  $('submit').disabled = !complete();
}

function renderItem(data) {
  item = data.item;
  $('item-id').textContent = `# ${item.id}`;
  const turns = [];
  for (const [p, d] of item.history) {
    turns.push(el('div', { class: 'turn patient' }, el('span', { class: 'who' }, '患者 Patient'), p));
    turns.push(el('div', { class: 'turn doctor' }, el('span', { class: 'who' }, '医生 Doctor'), d));
  }
  turns.push(el('div', { class: 'turn patient prompt', id: 'prompt' }, el('span', { class: 'who' }, '患者（待回答）Patient — to answer'), item.prompt));
  $('history').replaceChildren(...turns);
  const s = data.saved;
  groups = s ? s.ranking : [];
  rewrites = s ? s.rewrites : [];
  $('comment').value = s ? s.comment : '';
  $('saved').textContent = s ? `已保存 saved ${new Date(s.savedAt).toLocaleString()}` : '';
  tieNext = false;
  undoStack = [];
  editing = null;
  $('error').textContent = '';
  render();
}

function showProgress(g) {
  const total = g.done + g.skipped + g.pending + g.available;
  $('progress').textContent = `进度 ${g.done} / ${total} 已完成 · 跳过 ${g.skipped}`;
}

async function load(itemId) {
  const data = itemId ? await api('GET', `${base}/items/${encodeURIComponent(itemId)}`) : await api('GET', `${base}/next`);
  showProgress(data.progress);
  if (!data.item) {
    item = null;
    document.querySelector('main').hidden = true;
    $('done').hidden = false;
    return;
  }
  document.querySelector('main').hidden = false;
  $('done').hidden = true;
  const url = new URL(location.href);
  url.searchParams.set('item', data.item.id);
  history.replaceState(null, '', url);
  renderItem(data);
}

async function submit() {
  if (!complete()) return;
  $('submit').disabled = true;
  try {
    const r = await api('PUT', `${base}/items/${encodeURIComponent(item.id)}/annotation`, { ranking: groups, rewrites, comment: $('comment').value });
    showProgress(r.progress);
    await load();
  } catch (e) {
    $('error').textContent = `${e.message}`;
    $('submit').disabled = false;
  }
}

async function skip() {
  await api('POST', `${base}/items/${encodeURIComponent(item.id)}/skip`, { comment: $('comment').value });
  await load();
}

document.addEventListener('keydown', (ev) => {
  if (!item || ev.target.closest?.('textarea, input')) return;
  if (ev.key >= '1' && ev.key <= '9') pick(Number(ev.key));
  else if (ev.key === '=') { if (groups.length && item.allowTies) { remember(); tieNext = true; renderRanking(); } }
  else if (ev.key === 'Backspace' || ev.key === 'u' || ev.key === 'U' || (ev.key === 'z' && (ev.ctrlKey || ev.metaKey))) undo().catch(showError);
  else if (ev.key === 'Enter') submit();
  else return;
  ev.preventDefault();
});
const showError = (e) => { $('error').textContent = e.message; };
$('submit').addEventListener('click', () => submit());
$('undo').addEventListener('click', () => undo().catch(showError));
$('skip').addEventListener('click', () => skip().catch(showError));
dropTarget($('pool'), (id) => { groups = groups.map((g) => g.filter((x) => x !== id)).filter((g) => g.length); });

$('project').textContent = project;
if (!token.get()) location.href = '/';
api('GET', '/api/rule').then((r) => { $('rule').textContent = r.text; }).catch(showError);
load(params.get('item')).catch(showError);
