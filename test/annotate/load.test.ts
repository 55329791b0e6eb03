// load.test.ts — many annotators saving at once against `zhongjing annotate serve` in a child process on
// 127.0.0.1: every accepted save is in the database and the counts match, no request fails, no item gets more than
// N annotators; then the server is killed (SIGKILL) mid-load and still every save it acknowledged is on disk.
// ~10 s of load by default, 60 s under ZJ_SLOW_TESTS=1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Store } from '../../src/annotate/store.js';
import { candidateSets, tempDir } from './helpers.js';

const BIN = fileURLToPath(new URL('../../../bin/zhongjing.js', import.meta.url));
const SLOW = process.env.ZJ_SLOW_TESTS === '1';
const LOAD_MS = SLOW ? 60_000 : 10_000;
const ANNOTATORS = 24;
const PER_ITEM = 2;

function startServer(db: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, 'annotate', 'serve', '--db', db, '--host', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((ok, fail) => {
    let out = '', started = false;
    // a server that never says it listens must not outlive the test
    const t = setTimeout(() => { child.kill('SIGKILL'); fail(new Error(`[load.test] server did not start in 20 s:\n${out}`)); }, 20_000);
    // keep reading both pipes for the whole run so the child never blocks on a full pipe
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m && !started) { started = true; clearTimeout(t); ok({ child, url: m[1]! }); }
    });
    child.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
    child.once('exit', (code) => { clearTimeout(t); if (!started) fail(new Error(`[load.test] server exited (${code}) before listening:\n${out}`)); });
  });
}

const exited = (c: ChildProcess) => new Promise<number | null>((ok) => (c.exitCode !== null || c.signalCode !== null ? ok(c.exitCode) : c.once('exit', (code) => ok(code))));

interface Accepted { item: string; user: string; ranking: string[][] }

/** One annotator: next → save until told to stop or out of work. Counts every non-2xx as a failure. */
async function annotator(url: string, project: string, name: string, token: string, until: () => boolean, accepted: Accepted[], failures: string[], seed: number) {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  while (!until()) {
    let item: { id: string; candidates: { id: string }[] } | null;
    try {
      const r = await fetch(`${url}/api/projects/${project}/next`, { headers: h });
      if (r.status !== 200) { failures.push(`next ${r.status} ${await r.text()}`); return; }
      item = ((await r.json()) as { item: typeof item }).item;
    } catch (e) {
      failures.push(`next: ${(e as Error).message}`);
      return;
    }
    if (!item) return;
    // a random order, with a tie now and then
    const ids = item.candidates.map((c) => c.id).sort(() => rnd() - 0.5);
    const ranking: string[][] = [];
    for (const id of ids) {
      if (ranking.length && rnd() < 0.2) ranking[ranking.length - 1]!.push(id);
      else ranking.push([id]);
    }
    try {
      const r = await fetch(`${url}/api/projects/${project}/items/${item.id}/annotation`, { method: 'PUT', headers: h, body: JSON.stringify({ ranking, comment: `${name} ${item.id}` }) });
      const body = await r.text();
      if (r.status === 200) accepted.push({ item: item.id, user: name, ranking });
      else failures.push(`save ${r.status} ${body}`);
    } catch (e) {
      failures.push(`save: ${(e as Error).message}`);
      return;
    }
  }
}

function setup(dir: string, items: number): { db: string; tokens: Map<string, string> } {
  const db = join(dir, 'load.db');
  const st = new Store(db);
  try {
    const p = st.ensureProject('load', PER_ITEM);
    st.insertItems(p, candidateSets(items).map((record) => ({ record, origin: 'test' })));
    const tokens = new Map<string, string>();
    for (let i = 0; i < ANNOTATORS; i++) {
      const name = `doc${i}`;
      tokens.set(name, st.addUser(name, 'annotator').token);
      st.addMember('load', name);
    }
    return { db, tokens };
  } finally {
    st.close();
  }
}

/** Every accepted save is the latest annotation of its (item, annotator), with the same ranking. */
function checkDb(db: string, accepted: Accepted[]) {
  const st = new Store(db);
  try {
    const p = st.project('load');
    const rows = st.db.prepare(`SELECT i.ext_id AS item, u.name AS user, an.ranking FROM annotations an JOIN items i ON i.id = an.item_id JOIN users u ON u.id = an.user_id`).all() as { item: string; user: string; ranking: string }[];
    const inDb = new Map(rows.map((r) => [`${r.item}|${r.user}`, r.ranking]));
    assert.equal(rows.length, inDb.size, 'one save per (item, annotator) was made, so one row each');
    for (const a of accepted) assert.equal(inDb.get(`${a.item}|${a.user}`), JSON.stringify(a.ranking), `accepted save ${a.item} by ${a.user} missing or different`);
    const maxPerItem = (st.db.prepare(`SELECT max(n) AS m FROM (SELECT count(*) AS n FROM assignments WHERE status != 'skipped' GROUP BY item_id)`).get() as { m: number }).m;
    assert.ok(maxPerItem <= PER_ITEM, `an item was given to ${maxPerItem} annotators (limit ${PER_ITEM})`);
    const drift = st.db.prepare("SELECT count(*) AS n FROM items i WHERE assigned != (SELECT count(*) FROM assignments a WHERE a.item_id = i.id AND a.status != 'skipped')").get() as { n: number };
    assert.equal(drift.n, 0, 'items.assigned matches the assignments');
    return { rows: rows.length, counts: st.counts(p) };
  } finally {
    st.close();
  }
}

test(`concurrency: ${ANNOTATORS} annotators saving for ${LOAD_MS / 1000} s; nothing lost, nothing fails`, { timeout: LOAD_MS + 60_000 }, async () => {
  const t = tempDir();
  let child: ChildProcess | undefined;
  try {
    const { db, tokens } = setup(t.dir, SLOW ? 40_000 : 6_000);
    const s = await startServer(db);
    child = s.child;
    const accepted: Accepted[] = [], failures: string[] = [];
    const end = Date.now() + LOAD_MS;
    await Promise.all([...tokens].map(([name, tok], i) => annotator(s.url, 'load', name, tok, () => Date.now() > end, accepted, failures, i + 1)));
    assert.deepEqual(failures, [], 'no request may fail under load');
    assert.ok(accepted.length > 50, `only ${accepted.length} saves in ${LOAD_MS} ms`);
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0, 'graceful stop');
    child = undefined;
    const r = checkDb(db, accepted);
    assert.equal(r.rows, accepted.length, 'rows in the database = accepted saves');
    assert.equal(r.counts.done, accepted.length);
    console.log(`# load: ${accepted.length} saves by ${ANNOTATORS} annotators in ${LOAD_MS / 1000} s (${(accepted.length / (LOAD_MS / 1000)).toFixed(0)}/s), 0 failures`);
  } finally {
    if (child) { child.kill('SIGKILL'); await exited(child); }
    t.cleanup();
  }
});

test('durability: SIGKILL mid-load loses no acknowledged save', { timeout: 60_000 }, async () => {
  const t = tempDir();
  let child: ChildProcess | undefined;
  try {
    const { db, tokens } = setup(t.dir, 3_000);
    const s = await startServer(db);
    child = s.child;
    const accepted: Accepted[] = [], failures: string[] = [];
    let killed = false;
    const killer = new Promise<void>((ok) => setTimeout(() => { killed = true; child!.kill('SIGKILL'); ok(); }, 2_000));
    await Promise.all([killer, ...[...tokens].map(([name, tok], i) => annotator(s.url, 'load', name, tok, () => killed, accepted, failures, 100 + i))]);
    await exited(child);
    child = undefined;
    assert.ok(accepted.length > 10, `only ${accepted.length} saves before the kill`);
    // requests in flight at the kill fail; only what was acknowledged must survive
    const r = checkDb(db, accepted);
    assert.ok(r.rows >= accepted.length && r.rows <= accepted.length + ANNOTATORS, `${r.rows} rows for ${accepted.length} acknowledged saves`);
  } finally {
    if (child) { child.kill('SIGKILL'); await exited(child); }
    t.cleanup();
  }
});
