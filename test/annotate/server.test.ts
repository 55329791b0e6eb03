// server.test.ts — the annotation server over a real socket on 127.0.0.1: 401 for missing/bad tokens, 403 for
// other projects, unassigned items and admin routes, 400 with reasons for invalid rankings, 413 for big bodies,
// static pages with the right content types and no escape from the pages folder, save → view → undo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serveAnnotate } from '../../src/annotate/server.js';
import { importFile } from '../../src/annotate/import.js';
import { call, candidateSets, tempDir, writeJsonl } from './helpers.js';

test('annotation server: authentication, authorisation, validation, static files', async () => {
  const t = tempDir();
  const s = await serveAnnotate({ db: join(t.dir, 'a.db'), host: '127.0.0.1', port: 0 });
  try {
    const st = s.store;
    const pa = st.ensureProject('pa', 1, false); // ties off
    const pb = st.ensureProject('pb', 1);
    await importFile(st, writeJsonl(join(t.dir, 'a.jsonl'), candidateSets(3, 4, 'a')), pa);
    await importFile(st, writeJsonl(join(t.dir, 'b.jsonl'), candidateSets(2, 4, 'b')), pb);
    const alice = st.addUser('alice', 'annotator').token;
    const bob = st.addUser('bob', 'annotator').token;
    const root = st.addUser('root', 'admin').token;
    st.addMember('pa', 'alice');
    st.addMember('pb', 'bob');
    const u = s.url;

    // 401: no token, malformed header, unknown token
    assert.equal((await call(u, 'GET', '/api/me')).status, 401);
    assert.equal((await call(u, 'GET', '/api/me', 'zj_not-a-real-token')).status, 401);
    const r401 = await fetch(`${u}/api/me`, { headers: { authorization: 'Basic abc' } });
    assert.equal(r401.status, 401);
    assert.match(((await r401.json()) as { error: { message: string } }).error.message, /^\[auth\]/);

    const me = await call(u, 'GET', '/api/me', alice);
    assert.equal(me.status, 200);
    assert.deepEqual(me.json.projects.map((p: { name: string }) => p.name), ['pa']);

    // 403: another project (existing or not: no hint either way), admin routes
    assert.equal((await call(u, 'GET', '/api/projects/pb/next', alice)).status, 403);
    assert.equal((await call(u, 'GET', '/api/projects/nope/next', alice)).status, 403);
    assert.equal((await call(u, 'GET', '/api/projects/pb/items/b0', alice)).status, 403);
    assert.equal((await call(u, 'PUT', '/api/projects/pb/items/b0/annotation', alice, { ranking: [['c0'], ['c1'], ['c2'], ['c3']] })).status, 403);
    assert.equal((await call(u, 'GET', '/api/admin/projects', alice)).status, 403);
    assert.equal((await call(u, 'GET', '/api/admin/projects/pa/stats', alice)).status, 403);
    assert.equal((await call(u, 'GET', '/api/admin/projects/pa/export', alice)).status, 403);
    // an item of her own project that was not handed to her
    assert.equal((await call(u, 'PUT', '/api/projects/pa/items/a2/annotation', alice, { ranking: [['c0'], ['c1'], ['c2'], ['c3']] })).status, 403);

    const next = await call(u, 'GET', '/api/projects/pa/next', alice);
    assert.equal(next.status, 200);
    const id = next.json.item.id as string;
    assert.equal(id, 'a0');
    const put = (body: unknown) => call(u, 'PUT', `/api/projects/pa/items/${id}/annotation`, alice, body);

    // 400s with reasons
    const cases: [unknown, RegExp][] = [
      [{ ranks: { c0: 1, c1: 1, c2: 2, c3: 3 } }, /ties are off in this project/],
      [{ ranking: [['c0', 'c1'], ['c2'], ['c3']] }, /ties are off/],
      [{ ranking: [['c0'], ['c1'], ['c2'], ['c9']] }, /unknown candidate id 'c9'/],
      [{ ranks: { c0: 1, c1: 2, c2: 3, c3: 5 } }, /rank 5 out of range 1\.\.4/],
      [{ ranks: { c0: 0, c1: 2, c2: 3, c3: 4 } }, /rank 0 out of range/],
      [{ ranking: [['c0'], ['c1'], ['c2']] }, /candidates not ranked: c3/],
      [{ ranking: [['c0'], ['c0'], ['c1'], ['c2'], ['c3']] }, /5 groups but only K = 4/],
      [{ ranking: [['c0'], ['c1'], ['c0'], ['c2']] }, /ranked more than once/],
      [{ ranking: [['c0'], ['rw'], ['c1'], ['c2'], ['c3']], rewrites: [{ id: 'rw', of: 'c0', text: '改写' }] }, /rewrite 'rw' must be in the top group/],
      [{ ranking: [['rw'], ['c0'], ['c1'], ['c2'], ['c3']], rewrites: [{ id: 'rw', of: 'c7', text: '改写' }] }, /unknown candidate id "c7"/],
      [{ ranking: [['c0'], ['c1'], ['c2'], ['c3']], extra: 1 }, /extra: unknown field/],
      [{}, /ranking: missing/],
      ['{not json', /not valid JSON/],
    ];
    for (const [body, re] of cases) {
      const r = await put(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.json.error.message, re, JSON.stringify(body));
    }
    // too big
    const big = await put({ ranking: [['c0'], ['c1'], ['c2'], ['c3']], comment: 'x'.repeat(300_000) });
    assert.equal(big.status, 413);

    // a valid save, visible on reload, reopened by undo
    const ok = await put({ ranking: [['rw-c1'], ['c0'], ['c1'], ['c2'], ['c3']], rewrites: [{ id: 'rw-c1', of: 'c1', text: '更安全的回答' }], comment: '好' });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(ok.json.progress.done, 1);
    const view = await call(u, 'GET', `/api/projects/pa/items/${id}`, alice);
    assert.equal(view.json.status, 'done');
    assert.deepEqual(view.json.saved.ranking, [['rw-c1'], ['c0'], ['c1'], ['c2'], ['c3']]);
    assert.equal(view.json.saved.rewrites[0].text, '更安全的回答');
    const undo = await call(u, 'POST', '/api/projects/pa/undo', alice);
    assert.equal(undo.json.item, id);
    assert.equal((await call(u, 'GET', '/api/projects/pa/next', alice)).json.item.id, id, 'undo reopens the item first');

    // the admin sees every project, and the stats
    assert.equal((await call(u, 'GET', '/api/admin/projects', root)).status, 200);
    const stats = await call(u, 'GET', '/api/admin/projects/pa/stats', root);
    assert.equal(stats.status, 200);
    assert.equal(stats.json.annotators[0].name, 'alice');
    assert.equal((await call(u, 'GET', '/api/admin/projects/nope/stats', root)).status, 404);
    assert.equal((await call(u, 'GET', '/api/admin/projects/pa/export?format=xml', root)).status, 400);
    // bob, member of pb only, still cannot see pa's items
    assert.equal((await call(u, 'GET', `/api/projects/pa/items/${id}`, bob)).status, 403);

    // static pages, served by us with their types; nothing outside the folder
    for (const [path, type] of [['/', 'text/html'], ['/annotate.html', 'text/html'], ['/annotate.js', 'text/javascript'], ['/style.css', 'text/css'], ['/rule.md', 'text/markdown']]) {
      const r = await fetch(u + path);
      assert.equal(r.status, 200, path);
      assert.ok(r.headers.get('content-type')!.startsWith(type!), `${path}: ${r.headers.get('content-type')}`);
      await r.arrayBuffer();
    }
    for (const path of ['/../package.json', '/%2e%2e/%2e%2e/package.json', '/..%2f..%2fpackage.json', '/nope.html']) {
      const r = await fetch(u + path);
      assert.equal(r.status, 404, path);
      await r.arrayBuffer();
    }
    const rule = await call(u, 'GET', '/api/rule');
    assert.match(rule.json.text, /安全 Safety/);
  } finally {
    await s.close();
    t.cleanup();
  }
});

test('annotation server: skip frees the slot, two annotators, agreement over HTTP', async () => {
  const t = tempDir();
  const s = await serveAnnotate({ db: join(t.dir, 'a.db'), host: '127.0.0.1', port: 0 });
  try {
    const st = s.store;
    const p = st.ensureProject('pc', 2);
    await importFile(st, writeJsonl(join(t.dir, 'c.jsonl'), candidateSets(2, 3, 'k')), p);
    const tok: Record<string, string> = {};
    for (const n of ['ann', 'ben', 'cai']) { tok[n] = st.addUser(n, 'annotator').token; st.addMember('pc', n); }
    const root = st.addUser('root', 'admin').token;
    const u = s.url;
    const rank = async (who: string, ranking: string[][]) => {
      const n = await call(u, 'GET', '/api/projects/pc/next', tok[who]);
      const r = await call(u, 'PUT', `/api/projects/pc/items/${n.json.item.id}/annotation`, tok[who], { ranking });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return n.json.item.id as string;
    };
    // k0 goes to ann and ben (fewest annotators first); ben skips it, so cai can take the freed slot
    assert.equal(await rank('ann', [['c0'], ['c1'], ['c2']]), 'k0');
    const b = await call(u, 'GET', '/api/projects/pc/next', tok.ben);
    assert.equal(b.json.item.id, 'k1', 'the least-annotated item comes first');
    assert.equal((await call(u, 'POST', '/api/projects/pc/items/k1/skip', tok.ben, { comment: '看不懂' })).status, 200);
    assert.equal(await rank('ben', [['c2'], ['c1'], ['c0']]), 'k0');
    assert.equal(await rank('cai', [['c0'], ['c1', 'c2']]), 'k1');
    assert.equal(await rank('ann', [['c0'], ['c2'], ['c1']]), 'k1');
    assert.equal((await call(u, 'GET', '/api/projects/pc/next', tok.ben)).json.item, null, 'ben skipped k1 and saw k0: nothing left for him');

    const stats = await call(u, 'GET', '/api/admin/projects/pc/stats', root);
    assert.equal(stats.status, 200);
    assert.deepEqual(stats.json.annotators.map((a: { name: string; progress: { done: number; skipped: number } }) => [a.name, a.progress.done, a.progress.skipped]),
      [['ann', 2, 0], ['ben', 1, 1], ['cai', 1, 0]]);
    assert.equal(stats.json.counts.complete, 2);
    // k0: ann vs ben reversed → τ-b = −1. k1: ann {c0 > c2 > c1} vs cai {c0 > (c1 = c2)}: n0 = 3, n1 = 0, n2 = 1,
    // C = 2 (c0 over both), the (c1, c2) pair tied for cai → τ-b = 2 / √(3·2)
    const worst = stats.json.agreement.mostDisagreement as { itemId: string; meanTau: number }[];
    assert.deepEqual(worst.map((w) => w.itemId), ['k0', 'k1']);
    assert.equal(worst[0]!.meanTau, -1);
    assert.ok(Math.abs(worst[1]!.meanTau - 2 / Math.sqrt(6)) < 1e-12);
    assert.equal(stats.json.agreement.itemsCompared, 2);
    assert.equal(typeof stats.json.agreement.alphaOrdinal, 'number');

    // ben saves the item he skipped, by its address: it counts again, and the slot counter stays exact
    assert.equal((await call(u, 'PUT', '/api/projects/pc/items/k1/annotation', tok.ben, { ranking: [['c1'], ['c0'], ['c2']] })).status, 200);
    const drift = st.db.prepare("SELECT count(*) AS n FROM items i WHERE assigned != (SELECT count(*) FROM assignments a WHERE a.item_id = i.id AND a.status != 'skipped')").get() as { n: number };
    assert.equal(drift.n, 0, JSON.stringify(st.db.prepare("SELECT i.ext_id, i.assigned, a.user_id, a.status FROM items i JOIN assignments a ON a.item_id = i.id").all()));
  } finally {
    await s.close();
    t.cleanup();
  }
});
