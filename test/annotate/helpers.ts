// helpers.ts — fixtures for the annotation tests: temp folders, small candidate-set files written on the fly
// (made-up text, no copied data), a store with users, and JSON fetch against a server on 127.0.0.1.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RankingRecord } from '../../src/data/ranking-format.js';

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'zj-annotate-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** n unranked candidate sets with K answers each, in our ranking format. */
export function candidateSets(n: number, K = 4, prefix = 'q'): RankingRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    history: i % 2 ? [[`第${i}例：咳嗽两周了`, '有没有发热或者咳痰？']] as [string, string][] : [],
    prompt: `第${i}例：晚上咳得更厉害，需要做什么检查？`,
    candidates: Array.from({ length: K }, (_, k) => ({ id: `c${k}`, text: `回答${k}：第${i}例的建议（示例文本 ${k}）`, source: `demo-model-${k}` })),
    ranking: [],
  }));
}

export function writeJsonl(path: string, rows: unknown[]): string {
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return path;
}

export async function call(base: string, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown = text;
  try { json = JSON.parse(text); } catch { /* static files and TSV are not JSON */ }
  return { status: res.status, json };
}
