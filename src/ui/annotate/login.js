// login.js — the start page: checks a token against /api/me, remembers it, lists the user's projects with progress.
// It decides nothing about access: the server answers 401/403 whatever the page shows.
import { api, token, el } from './api.js';

const $ = (id) => document.getElementById(id);

async function show() {
  const me = await api('GET', '/api/me');
  $('login-panel').hidden = true;
  $('projects-panel').hidden = false;
  $('logout').hidden = false;
  $('who').textContent = `${me.user.name} (${me.user.role === 'admin' ? '管理员 admin' : '标注员 annotator'})`;
  $('admin-link').hidden = me.user.role !== 'admin';
  const rows = me.projects.map((p) => {
    const g = p.progress;
    const total = g.done + g.skipped + g.pending + g.available;
    return el('tr', {},
      el('td', {}, p.name),
      el('td', {}, `已完成 ${g.done} / ${total}（跳过 ${g.skipped}）`),
      el('td', {}, el('a', { href: `/annotate.html?project=${encodeURIComponent(p.name)}`, class: 'open-project', 'data-project': p.name }, '开始标注 Annotate')));
  });
  $('projects').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 3 }, '还没有分配项目 No projects yet'))]));
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  token.set($('token').value.trim());
  try {
    await show();
  } catch (e) {
    token.clear();
    $('login-error').textContent = e.status === 401 ? '令牌无效 Invalid token' : e.message;
  }
});
$('logout').addEventListener('click', () => { token.clear(); location.href = '/'; });

if (token.get()) show().catch(() => token.clear());
