// chat.js — the consultation page's logic: keeps the conversation (this tab's sessionStorage), sends it whole to
// /v1/chat/completions with stream: true, appends tokens as SSE chunks arrive, and exports the dialogue as JSON or
// text. Text is only ever put into the page as textContent. No framework, no build step.

const $ = (id) => document.getElementById(id);
const STORE = 'zj-chat-conversation';
const KEY = 'zj-chat-api-key';

/** @type {{role: 'user'|'assistant', content: string, urgent?: boolean}[]} */
let conversation = load();
let modelName = '';
let controller = null;

function load() {
  try { return JSON.parse(sessionStorage.getItem(STORE) || '[]'); } catch { return []; }
}
function save() {
  sessionStorage.setItem(STORE, JSON.stringify(conversation));
}

function bubble(m) {
  const div = document.createElement('div');
  div.className = `msg ${m.role}${m.urgent ? ' urgent' : ''}`;
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = m.role === 'user' ? '我 Patient' : m.role === 'assistant' ? '模型 Model (not a doctor)' : m.role === 'notice' ? '提示 Notice' : '错误 Error';
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = m.content;
  div.append(who, text);
  $('log').append(div);
  div.scrollIntoView({ block: 'end' });
  return text;
}

function render() {
  $('log').replaceChildren();
  for (const m of conversation) bubble(m);
}

function busy(on) {
  $('send').disabled = on;
  $('stop').hidden = !on;
  $('state').textContent = on ? '生成中… generating' : '';
}

function headers() {
  const h = { 'content-type': 'application/json' };
  const k = $('api-key').value.trim();
  if (k) h.authorization = `Bearer ${k}`;
  return h;
}

/** Yields the JSON (or '[DONE]') of each `data:` line of an SSE body. */
async function* sseEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      for (const line of event.split('\n')) if (line.startsWith('data: ')) yield line.slice(6);
    }
  }
}

async function ask(question) {
  conversation.push({ role: 'user', content: question });
  save();
  bubble(conversation[conversation.length - 1]);
  const answer = { role: 'assistant', content: '' };
  const text = bubble(answer);
  busy(true);
  controller = new AbortController();
  try {
    const body = {
      model: modelName || undefined, stream: true,
      messages: conversation.filter((m) => m.role !== 'error').map(({ role, content }) => ({ role, content })),
      temperature: Number($('temperature').value), max_tokens: Number($('max-tokens').value),
    };
    const r = await fetch('/v1/chat/completions', { method: 'POST', headers: headers(), body: JSON.stringify(body), signal: controller.signal });
    if (!r.ok) {
      const j = await r.json().catch(() => ({}));
      throw new Error(j.error?.message || `HTTP ${r.status}`);
    }
    for await (const data of sseEvents(r.body)) {
      if (data === '[DONE]') break;
      const j = JSON.parse(data);
      if (j.error) throw new Error(j.error.message);
      // the server left the oldest turns out of the model's view (src/serve/context-window.ts): say so, once per answer
      if (j.truncated_turns > 0 || j.reply_budget_shrunk) {
        const parts = [];
        if (j.truncated_turns > 0) parts.push(`对话较长，最早的 ${j.truncated_turns} 轮已不在模型的视野内（仍保留在本页和导出中）`);
        if (j.reply_budget_shrunk) parts.push('回答长度已被缩短以适应模型的上下文');
        const n = bubble({ role: 'notice', content: parts.join('；') + '。' });
        text.parentElement.before(n.parentElement);
      }
      const piece = j.choices?.[0]?.delta?.content;
      if (piece) {
        // the guard's urgent message is always the first content of an answer
        if (answer.content === '' && piece.startsWith('【紧急提示】')) { answer.urgent = true; text.parentElement.classList.add('urgent'); }
        answer.content += piece;
        text.textContent = answer.content;
        text.parentElement.scrollIntoView({ block: 'end' });
      }
    }
  } catch (e) {
    if (e.name !== 'AbortError') {
      text.parentElement.remove();
      bubble({ role: 'error', content: `出错了 Error: ${e.message}` });
      // the question stays in the box so it can be sent again; it is not part of the conversation
      conversation.pop();
      save();
      $('input').value = question;
      return;
    }
  } finally {
    busy(false);
    controller = null;
  }
  conversation.push(answer);
  save();
}

function download(name, type, text) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function stamp() {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

$('export-json').addEventListener('click', () => {
  const doc = {
    model: modelName, exported_at: new Date().toISOString(),
    notice: 'Generated by a research language model; not medical advice.',
    messages: conversation.map(({ role, content, urgent }) => ({ role, content, ...(urgent ? { urgent: true } : {}) })),
  };
  download(`consultation-${stamp()}.json`, 'application/json', JSON.stringify(doc, null, 2) + '\n');
});

$('export-text').addEventListener('click', () => {
  const lines = [`仲景问诊记录 · model ${modelName} · ${new Date().toISOString()}`, '（研究用模型生成，不是医疗建议 / not medical advice）', ''];
  for (const m of conversation) lines.push(`${m.role === 'user' ? '患者' : '模型'}：${m.content}`, '');
  download(`consultation-${stamp()}.txt`, 'text/plain', lines.join('\n'));
});

$('new-chat').addEventListener('click', () => {
  controller?.abort();
  conversation = [];
  save();
  render();
});

$('stop').addEventListener('click', () => controller?.abort());

$('ask').addEventListener('submit', (e) => {
  e.preventDefault();
  const q = $('input').value.trim();
  if (!q || controller) return;
  $('input').value = '';
  ask(q);
});

$('input').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('ask').requestSubmit();
  }
});

$('api-key').value = sessionStorage.getItem(KEY) || '';
$('api-key').addEventListener('change', () => sessionStorage.setItem(KEY, $('api-key').value.trim()));

async function init() {
  render();
  try {
    const h = await (await fetch('/health')).json();
    modelName = h.model || '';
    $('model').textContent = modelName ? `model: ${modelName}` : '';
    $('auth').hidden = !h.authRequired;
    if (h.limits?.maxTokens) $('max-tokens').max = String(h.limits.maxTokens);
  } catch {
    $('model').textContent = 'server unreachable';
  }
  document.body.dataset.ready = '1';
}
init();
