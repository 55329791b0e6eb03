// server.ts — the annotation web app: JSON API (annotator: next item, view, save, skip, undo; admin: progress,
// agreement, export) behind per-user bearer tokens, plus the static pages of src/ui/annotate. Built on the shared
// HTTP layer (src/http); storage is store.ts. No HTML is generated here.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Context } from 'hono';
import { bearerAuth, createApp, HttpError, listen, readJsonObject, requireJson, serveFolder, type Listening, type Timeouts } from '../http/index.js';
import { agreementReport } from './agreement.js';
import { exportFormats, exportText, type ExportFormat } from './export.js';
import { checkSubmission } from './submission.js';
import { NotFound, Store, type Project, type StoredItem, type User } from './store.js';

type AppEnv = { Variables: { principal: User } };

/** The pages: src/ui/annotate, found relative to this file whether it runs from dist/src or src. */
export function defaultUiDir(): string {
  for (const rel of ['../../../src/ui/annotate/', '../ui/annotate/']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('[annotate/server] cannot find the pages folder src/ui/annotate');
}

export interface AnnotateAppOptions {
  /** the annotation rule shown beside the answers; read on each request so edits show without a restart */
  ruleFile?: string;
  uiDir?: string;
  maxBodyBytes?: number;
  /** the bound address: requests must name it or a loopback name in Host (DNS-rebinding defence) */
  host?: string;
  /** more Host names to accept ('*' = any) */
  allowedHosts?: string[];
}

function itemDto(it: StoredItem) {
  return { id: it.extId, prompt: it.prompt, history: it.history, candidates: it.candidates, allowTies: it.allowTies, meta: it.meta ?? {} };
}

export function createAnnotateApp(store: Store, opts: AnnotateAppOptions = {}) {
  const uiDir = opts.uiDir ?? defaultUiDir();
  const ruleFile = opts.ruleFile ?? `${uiDir}/rule.md`;
  const app = createApp<AppEnv>({
    maxBodyBytes: opts.maxBodyBytes ?? 256 * 1024,
    hosts: { ...(opts.host ? { bound: opts.host } : {}), ...(opts.allowedHosts ? { allowed: opts.allowedHosts } : {}) },
  });

  const who = (c: Context<AppEnv>) => c.get('principal');
  /** The project if u may work in it: admins everywhere, annotators where they are members; 403 otherwise. */
  const projectFor = (c: Context<AppEnv>): Project => {
    const u = who(c), name = c.req.param('project') ?? '';
    let p: Project;
    try {
      p = store.project(name);
    } catch (e) {
      // an annotator learns nothing about projects that are not theirs, not even whether they exist
      if (e instanceof NotFound && u.role === 'admin') throw new HttpError(404, `[annotate] no project '${name}'`);
      if (e instanceof NotFound) throw new HttpError(403, `[annotate] ${u.name} is not a member of project '${name}'`);
      throw e;
    }
    if (u.role !== 'admin' && !store.isMember(p, u)) throw new HttpError(403, `[annotate] ${u.name} is not a member of project '${name}'`);
    return p;
  };
  /** The item if it is assigned to u (admins may read any item); 403 otherwise. */
  const itemFor = (c: Context<AppEnv>, p: Project, write: boolean): { it: StoredItem; status: string | undefined } => {
    const u = who(c), id = c.req.param('item') ?? '';
    const a = store.assignment(p, u, id);
    if (!a && (write || u.role !== 'admin')) throw new HttpError(403, `[annotate] item '${id}' is not assigned to ${u.name}`);
    try {
      return { it: store.item(p, id), status: a?.status };
    } catch (e) {
      if (e instanceof NotFound) throw new HttpError(404, `[annotate] no item '${id}' in project '${p.name}'`);
      throw e;
    }
  };

  app.get('/api/health', (c) => c.json({ ok: true }));
  app.get('/api/rule', async (c) => {
    try {
      return c.json({ text: await readFile(ruleFile, 'utf8') });
    } catch (e) {
      throw new HttpError(500, `[annotate] cannot read the rule file ${ruleFile}: ${(e as Error).message}`);
    }
  });

  app.use('/api/*', bearerAuth((t) => store.userByToken(t)));
  app.on(['POST', 'PUT', 'PATCH'], '/api/*', requireJson());
  app.use('/api/admin/*', async (c, next) => {
    const u = who(c);
    if (u.role !== 'admin') throw new HttpError(403, `[annotate] ${u.name} is an annotator; the admin pages need the admin role`);
    await next();
  });

  app.get('/api/me', (c) => {
    const u = who(c);
    return c.json({ user: { name: u.name, role: u.role }, projects: store.projectsFor(u).map((p) => ({ name: p.name, perItem: p.perItem, allowTies: p.allowTies, items: store.itemCount(p), progress: store.progress(p, u) })) });
  });

  app.get('/api/projects/:project/next', (c) => {
    const p = projectFor(c), u = who(c);
    const it = store.next(p, u);
    return c.json({ item: it ? itemDto(it) : null, saved: it ? store.latest(it, u) ?? null : null, progress: store.progress(p, u) });
  });

  app.get('/api/projects/:project/items/:item', (c) => {
    const p = projectFor(c), u = who(c);
    const { it, status } = itemFor(c, p, false);
    return c.json({ item: itemDto(it), status: status ?? null, saved: store.latest(it, u) ?? null, progress: store.progress(p, u) });
  });

  app.put('/api/projects/:project/items/:item/annotation', async (c) => {
    const p = projectFor(c), u = who(c);
    const { it } = itemFor(c, p, true);
    const body = await readJsonObject(c);
    const r = checkSubmission(it, body);
    if (!r.ok) throw new HttpError(400, `[annotate] invalid ranking for '${it.extId}': ${r.reasons.join('; ')}`, { reasons: r.reasons });
    const { annotationId } = store.save(it, u, r.sub);
    return c.json({ saved: true, annotationId, progress: store.progress(p, u) });
  });

  app.post('/api/projects/:project/items/:item/skip', async (c) => {
    const p = projectFor(c), u = who(c);
    const { it } = itemFor(c, p, true);
    const body = c.req.header('content-length') === '0' ? {} : await readJsonObject(c).catch((e: unknown) => {
      if (e instanceof HttpError && e.status === 413) throw e;
      return {} as Record<string, unknown>;
    });
    const note = typeof body.comment === 'string' ? body.comment.slice(0, 20000) : '';
    store.skip(it, u, note);
    return c.json({ skipped: true, progress: store.progress(p, u) });
  });

  app.post('/api/projects/:project/undo', (c) => {
    const p = projectFor(c), u = who(c);
    return c.json({ item: store.undo(p, u) ?? null, progress: store.progress(p, u) });
  });

  app.get('/api/admin/projects', (c) => c.json({ projects: store.projects().map((p) => ({ ...p, counts: store.counts(p), members: store.members(p).map((m) => m.name) })) }));

  app.get('/api/admin/projects/:project/stats', (c) => {
    const p = projectFor(c);
    const top = Math.max(1, Math.min(500, Number(c.req.query('top') ?? 20) || 20));
    const done = store.doneAnnotations(p);
    const rep = agreementReport(done.map((a) => ({ itemId: a.item.extId, annotator: a.annotator, ranking: a.ranking, baseIds: new Set(a.item.candidates.map((x) => x.id)) })));
    const names = new Set([...store.members(p).map((m) => m.name), ...done.map((a) => a.annotator)]);
    return c.json({
      project: p, counts: store.counts(p),
      annotators: [...names].sort().map((n) => ({ name: n, progress: store.progress(p, store.user(n)) })),
      agreement: { alphaOrdinal: rep.alphaOrdinal, meanTau: rep.meanTau, itemsCompared: rep.itemsCompared, mostDisagreement: rep.items.slice(0, top) },
    });
  });

  app.get('/api/admin/projects/:project/export', (c) => {
    const p = projectFor(c);
    const fmt = (c.req.query('format') ?? 'ranking') as ExportFormat;
    if (!exportFormats.includes(fmt)) throw new HttpError(400, `[annotate] format must be one of ${exportFormats.join('|')}, got '${fmt}'`);
    const out = exportText(store, p, fmt);
    const headers: Record<string, string> = {
      'content-type': fmt === 'tsv' ? 'text/tab-separated-values; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      'content-disposition': `attachment; filename="${p.name}.${fmt === 'tsv' ? 'tsv' : fmt === 'pairs' ? 'pairs.jsonl' : 'jsonl'}"`,
    };
    if (out.notice) headers['x-export-notice'] = encodeURIComponent(out.notice);
    return c.body(out.text, 200, headers);
  });

  app.use('*', serveFolder(uiDir, '/'));
  return app;
}

export interface ServeOptions extends AnnotateAppOptions {
  db: string;
  port?: number;
  timeouts?: Partial<Timeouts>;
}

/** Opens the database and listens; close() stops the server gracefully and then closes the database. */
export async function serveAnnotate(opts: ServeOptions): Promise<Listening & { store: Store }> {
  const store = new Store(opts.db);
  try {
    const app = createAnnotateApp(store, opts);
    const l = await listen(app.fetch, { host: opts.host ?? '127.0.0.1', port: opts.port ?? 0, ...(opts.timeouts ? { timeouts: opts.timeouts } : {}) });
    return {
      ...l, store,
      async close(graceMs?: number) {
        await l.close(graceMs);
        if (store.db.open) store.close();
      },
    };
  } catch (e) {
    store.close();
    throw e;
  }
}
