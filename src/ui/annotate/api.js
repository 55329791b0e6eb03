// api.js — the pages' one way to the server: the token kept in this browser (localStorage) and fetch() with
// `Authorization: Bearer`. A 401 sends the user back to the login page. No other state lives here.
const KEY = 'zj-annotate-token';

export const token = {
  get: () => localStorage.getItem(KEY),
  set: (t) => localStorage.setItem(KEY, t),
  clear: () => localStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, message, reasons) {
    super(message);
    this.status = status;
    this.reasons = reasons ?? [];
  }
}

export async function api(method, path, body) {
  const headers = { authorization: `Bearer ${token.get() ?? ''}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    if (res.status === 401 && !location.pathname.endsWith('/index.html') && location.pathname !== '/') {
      location.href = '/?expired=1';
    }
    throw new ApiError(res.status, data.error?.message ?? `${res.status} ${res.statusText}`, data.error?.reasons);
  }
  return data;
}

/** Element helper: el('div', {class: 'x'}, 'text', child…); text is always set as text, never parsed as HTML. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
