// helpers.ts — shared by the serving tests: a tiny random model directory built once per test file (tokenizer
// trained in the test, random weights), a server on 127.0.0.1, and small HTTP/SSE clients over real sockets.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyModelDir, type TinyModelOptions } from '../../src/model/tiny-model.js';
import { serveModel, type ServeOptions, type Serving } from '../../src/serve/server.js';

export interface TinyDir { dir: string; remove(): void }

export async function tinyModel(opts: TinyModelOptions = {}): Promise<TinyDir> {
  const root = mkdtempSync(join(tmpdir(), 'zj-serve-'));
  const dir = join(root, 'tiny');
  await writeTinyModelDir(dir, opts);
  return { dir, remove: () => rmSync(root, { recursive: true, force: true }) };
}

export function start(dir: string, opts: Partial<ServeOptions> = {}): Promise<Serving> {
  return serveModel({ modelDir: dir, host: '127.0.0.1', port: 0, ...opts });
}

export function post(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body), ...(signal ? { signal } : {}),
  });
}

/** The `data:` payloads of an SSE body, in order (raw strings, so '[DONE]' stays visible). */
export async function sseData(r: Response): Promise<string[]> {
  const text = await r.text();
  const out: string[] = [];
  for (const event of text.split('\n\n')) {
    if (!event.trim()) continue;
    const lines = event.split('\n');
    if (!lines.every((l) => l.startsWith('data: '))) throw new Error(`not an SSE data event: ${JSON.stringify(event)}`);
    out.push(lines.map((l) => l.slice(6)).join('\n'));
  }
  return out;
}

/** Waits until `cond` holds, polling; throws after `timeoutMs`. */
export async function until(cond: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const user = (content: string) => ({ role: 'user', content });

/** A response body as loosely typed JSON: the tests assert its shape field by field. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function jsonOf(r: Response | Promise<Response>): Promise<any> {
  return (await r).json();
}
