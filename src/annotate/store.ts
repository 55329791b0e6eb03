// store.ts — every read and write of the annotation database: users and tokens, projects and members, items,
// lazy assignment to N annotators, saves (one transaction each, history kept for undo), progress, done annotations.
// No HTTP and no statistics here (server.ts, agreement.ts).
import type { RankingCandidate, RankingRecord } from '../data/ranking-format.js';
import { openDb, type Db } from './db.js';
import { hashToken, newToken } from './tokens.js';
import type { ItemView, Submission } from './submission.js';

export type Role = 'admin' | 'annotator';
export interface User { id: number; name: string; role: Role }
export interface Project { id: number; name: string; perItem: number; allowTies: boolean }
export interface Progress { done: number; skipped: number; pending: number; available: number }

/** Thrown for a missing project/user/item; the server maps it to 404, the CLI prints it. */
export class NotFound extends Error {}

const now = () => new Date().toISOString();
const NAME_RE = /^[\p{L}\p{N}_.@-]{1,64}$/u;

export interface StoredItem extends ItemView { rowId: number; meta?: Record<string, unknown> }

export interface DoneAnnotation {
  item: StoredItem;
  annotator: string;
  ranking: string[][];
  rewrites: { id: string; of: string; text: string }[];
  comment: string;
  savedAt: string;
}

export class Store {
  readonly db: Db;
  constructor(path: string) {
    this.db = openDb(path);
  }
  close(): void {
    this.db.close();
  }

  // ── users ────────────────────────────────────────────────────────────────────────────────────────────────
  addUser(name: string, role: Role): { user: User; token: string } {
    if (!NAME_RE.test(name)) throw new Error(`[annotate/store] user name '${name}' must be 1–64 letters, digits or _.@-`);
    if (this.db.prepare('SELECT 1 FROM users WHERE name = ?').get(name)) throw new Error(`[annotate/store] user '${name}' already exists (use \`annotate user token ${name}\` for a new token)`);
    const token = newToken();
    const r = this.db.prepare('INSERT INTO users (name, role, token_hash, created_at) VALUES (?, ?, ?, ?)').run(name, role, hashToken(token), now());
    return { user: { id: Number(r.lastInsertRowid), name, role }, token };
  }

  /** Issues a new token; the old one stops working at once. */
  rotateToken(name: string): string {
    const token = newToken();
    const r = this.db.prepare('UPDATE users SET token_hash = ? WHERE name = ?').run(hashToken(token), name);
    if (r.changes === 0) throw new NotFound(`[annotate/store] no user '${name}'`);
    return token;
  }

  userByToken(token: string): User | undefined {
    return this.db.prepare('SELECT id, name, role FROM users WHERE token_hash = ?').get(hashToken(token)) as User | undefined;
  }

  user(name: string): User {
    const u = this.db.prepare('SELECT id, name, role FROM users WHERE name = ?').get(name) as User | undefined;
    if (!u) throw new NotFound(`[annotate/store] no user '${name}'`);
    return u;
  }

  users(): User[] {
    return this.db.prepare('SELECT id, name, role FROM users ORDER BY name').all() as User[];
  }

  // ── projects ─────────────────────────────────────────────────────────────────────────────────────────────
  project(name: string): Project {
    const p = this.db.prepare('SELECT id, name, per_item AS perItem, allow_ties AS allowTies FROM projects WHERE name = ?').get(name) as
      (Omit<Project, 'allowTies'> & { allowTies: number }) | undefined;
    if (!p) throw new NotFound(`[annotate/store] no project '${name}'`);
    return { ...p, allowTies: p.allowTies === 1 };
  }

  /** The project, or undefined when there is none by that name (nothing is created). */
  findProject(name: string): Project | undefined {
    try { return this.project(name); } catch (e) { if (e instanceof NotFound) return undefined; throw e; }
  }

  /** Throws for a bad project name or per-item count, before anything is read or written. */
  checkProjectSpec(name: string, perItem?: number): void {
    if (!NAME_RE.test(name)) throw new Error(`[annotate/store] project name '${name}' must be 1–64 letters, digits or _.@-`);
    if (perItem !== undefined && (!Number.isInteger(perItem) || perItem < 1)) throw new Error(`[annotate/store] --per-item must be a positive integer, got ${perItem}`);
  }

  /** One transaction: create or update the project, then insert the items; a failure anywhere leaves both untouched. */
  importProject(name: string, perItem: number | undefined, allowTies: boolean | undefined, records: { record: RankingRecord; origin: string }[]): { project: Project; count: number } {
    return this.db.transaction(() => {
      const project = this.ensureProject(name, perItem, allowTies);
      const count = this.insertItems(project, records);
      return { project, count };
    }).immediate();
  }

  /** Creates the project or updates per-item / ties of an existing one. */
  ensureProject(name: string, perItem?: number, allowTies?: boolean): Project {
    this.checkProjectSpec(name, perItem);
    const have = this.db.prepare('SELECT id FROM projects WHERE name = ?').get(name);
    if (!have) this.db.prepare('INSERT INTO projects (name, per_item, allow_ties, created_at) VALUES (?, ?, ?, ?)').run(name, perItem ?? 1, allowTies === false ? 0 : 1, now());
    else {
      if (perItem !== undefined) this.db.prepare('UPDATE projects SET per_item = ? WHERE name = ?').run(perItem, name);
      if (allowTies !== undefined) this.db.prepare('UPDATE projects SET allow_ties = ? WHERE name = ?').run(allowTies ? 1 : 0, name);
    }
    return this.project(name);
  }

  projects(): Project[] {
    return (this.db.prepare('SELECT name FROM projects ORDER BY name').all() as { name: string }[]).map((r) => this.project(r.name));
  }

  /** Admins see every project; annotators those they are members of. */
  projectsFor(u: User): Project[] {
    if (u.role === 'admin') return this.projects();
    return (this.db.prepare('SELECT p.name FROM projects p JOIN members m ON m.project_id = p.id WHERE m.user_id = ? ORDER BY p.name').all(u.id) as { name: string }[])
      .map((r) => this.project(r.name));
  }

  addMember(project: string, user: string): void {
    const p = this.project(project), u = this.user(user);
    this.db.prepare('INSERT OR IGNORE INTO members (project_id, user_id) VALUES (?, ?)').run(p.id, u.id);
  }

  isMember(p: Project, u: User): boolean {
    return !!this.db.prepare('SELECT 1 FROM members WHERE project_id = ? AND user_id = ?').get(p.id, u.id);
  }

  members(p: Project): User[] {
    return this.db.prepare('SELECT u.id, u.name, u.role FROM users u JOIN members m ON m.user_id = u.id WHERE m.project_id = ? ORDER BY u.name').all(p.id) as User[];
  }

  // ── items ────────────────────────────────────────────────────────────────────────────────────────────────
  existingIds(p: Project): Set<string> {
    return new Set((this.db.prepare('SELECT ext_id FROM items WHERE project_id = ?').all(p.id) as { ext_id: string }[]).map((r) => r.ext_id));
  }

  /** All or nothing: one transaction for the whole import. */
  insertItems(p: Project, records: { record: RankingRecord; origin: string }[]): number {
    const insItem = this.db.prepare('INSERT INTO items (project_id, ext_id, prompt, history, meta, origin) VALUES (?, ?, ?, ?, ?, ?)');
    const insCand = this.db.prepare('INSERT INTO candidates (item_id, pos, cand_id, text, source, rewrite_of) VALUES (?, ?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const { record: r, origin } of records) {
        const id = Number(insItem.run(p.id, r.id, r.prompt, JSON.stringify(r.history), r.meta ? JSON.stringify(r.meta) : null, origin).lastInsertRowid);
        r.candidates.forEach((c, i) => insCand.run(id, i, c.id, c.text, c.source, c.rewriteOf ?? null));
      }
    }).immediate();
    return records.length;
  }

  private rowToItem(row: { id: number; ext_id: string; prompt: string; history: string; meta: string | null }, p: Project): StoredItem {
    const cands = this.db.prepare('SELECT cand_id, text, source, rewrite_of FROM candidates WHERE item_id = ? ORDER BY pos').all(row.id) as
      { cand_id: string; text: string; source: string; rewrite_of: string | null }[];
    const it: StoredItem = {
      rowId: row.id, extId: row.ext_id, prompt: row.prompt, history: JSON.parse(row.history) as [string, string][], allowTies: p.allowTies,
      candidates: cands.map((c) => {
        const o: RankingCandidate = { id: c.cand_id, text: c.text, source: c.source };
        if (c.rewrite_of !== null) o.rewriteOf = c.rewrite_of;
        return o;
      }),
    };
    if (row.meta !== null) it.meta = JSON.parse(row.meta) as Record<string, unknown>;
    return it;
  }

  item(p: Project, extId: string): StoredItem {
    const row = this.db.prepare('SELECT id, ext_id, prompt, history, meta FROM items WHERE project_id = ? AND ext_id = ?').get(p.id, extId) as
      { id: number; ext_id: string; prompt: string; history: string; meta: string | null } | undefined;
    if (!row) throw new NotFound(`[annotate/store] no item '${extId}' in project '${p.name}'`);
    return this.rowToItem(row, p);
  }

  itemCount(p: Project): number {
    return (this.db.prepare('SELECT count(*) AS n FROM items WHERE project_id = ?').get(p.id) as { n: number }).n;
  }

  // ── assignment and saving ────────────────────────────────────────────────────────────────────────────────
  /** The status of u's assignment to the item, or undefined when u was never given it. */
  assignment(p: Project, u: User, extId: string): { status: string; note: string } | undefined {
    return this.db.prepare(`SELECT a.status, a.note FROM assignments a JOIN items i ON i.id = a.item_id
      WHERE i.project_id = ? AND i.ext_id = ? AND a.user_id = ?`).get(p.id, extId, u.id) as { status: string; note: string } | undefined;
  }

  /**
   * u's next item: a pending assignment, else a new assignment to the item with the fewest annotators that still
   * needs one (fewer than per_item) and that u has not seen. Immediate transaction: two annotators racing for the
   * last slot cannot both get it.
   */
  next(p: Project, u: User): StoredItem | undefined {
    return this.db.transaction(() => {
      const pending = this.db.prepare(`SELECT i.ext_id FROM assignments a JOIN items i ON i.id = a.item_id
        WHERE i.project_id = ? AND a.user_id = ? AND a.status = 'pending' ORDER BY a.assigned_at, i.id LIMIT 1`).get(p.id, u.id) as { ext_id: string } | undefined;
      if (pending) return this.item(p, pending.ext_id);
      const free = this.db.prepare(`SELECT i.id, i.ext_id FROM items i
        WHERE i.project_id = ? AND i.assigned < ? AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.item_id = i.id AND a.user_id = ?)
        ORDER BY i.assigned, i.id LIMIT 1`).get(p.id, p.perItem, u.id) as { id: number; ext_id: string } | undefined;
      if (!free) return undefined;
      const t = now();
      this.db.prepare("INSERT INTO assignments (item_id, user_id, status, assigned_at, updated_at) VALUES (?, ?, 'pending', ?, ?)").run(free.id, u.id, t, t);
      this.db.prepare('UPDATE items SET assigned = assigned + 1 WHERE id = ?').run(free.id);
      return this.item(p, free.ext_id);
    }).immediate();
  }

  /** Stores one validated submission; the assignment must exist (403 otherwise, decided by the caller). */
  save(it: StoredItem, u: User, sub: Submission): { annotationId: number } {
    return this.db.transaction(() => {
      const t = now();
      const r = this.db.prepare('INSERT INTO annotations (item_id, user_id, ranking, rewrites, comment, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(it.rowId, u.id, JSON.stringify(sub.ranking), JSON.stringify(sub.rewrites), sub.comment, t);
      const before = this.db.prepare('SELECT status FROM assignments WHERE item_id = ? AND user_id = ?').get(it.rowId, u.id) as { status: string } | undefined;
      if (!before) throw new Error(`[annotate/store] '${it.extId}' is not assigned to ${u.name}`);
      // saving a skipped item (opened again by its address) takes back the slot the skip freed
      if (before.status === 'skipped') this.db.prepare('UPDATE items SET assigned = assigned + 1 WHERE id = ?').run(it.rowId);
      this.db.prepare("UPDATE assignments SET status = 'done', note = '', updated_at = ? WHERE item_id = ? AND user_id = ?").run(t, it.rowId, u.id);
      return { annotationId: Number(r.lastInsertRowid) };
    }).immediate();
  }

  /** A skip frees the item's slot, so another annotator can take it. */
  skip(it: StoredItem, u: User, note: string): void {
    this.db.transaction(() => {
      const r = this.db.prepare("UPDATE assignments SET status = 'skipped', note = ?, updated_at = ? WHERE item_id = ? AND user_id = ? AND status != 'skipped'").run(note, now(), it.rowId, u.id);
      if (r.changes) this.db.prepare('UPDATE items SET assigned = assigned - 1 WHERE id = ?').run(it.rowId);
    }).immediate();
  }

  /** Reopens u's most recently finished (saved or skipped) item; its saved ranking stays as the starting point. */
  undo(p: Project, u: User): string | undefined {
    return this.db.transaction(() => {
      const last = this.db.prepare(`SELECT a.item_id, a.status, i.ext_id FROM assignments a JOIN items i ON i.id = a.item_id
        WHERE i.project_id = ? AND a.user_id = ? AND a.status IN ('done', 'skipped') ORDER BY a.updated_at DESC, a.item_id DESC LIMIT 1`).get(p.id, u.id) as
        { item_id: number; status: string; ext_id: string } | undefined;
      if (!last) return undefined;
      // an undone skip takes its slot back (it may briefly exceed per-item if someone else took the slot meanwhile)
      if (last.status === 'skipped') this.db.prepare('UPDATE items SET assigned = assigned + 1 WHERE id = ?').run(last.item_id);
      this.db.prepare("UPDATE assignments SET status = 'pending', updated_at = ? WHERE item_id = ? AND user_id = ?").run(now(), last.item_id, u.id);
      return last.ext_id;
    }).immediate();
  }

  /** u's latest saved annotation of the item (also after undo reopened it), or undefined. */
  latest(it: StoredItem, u: User): { ranking: string[][]; rewrites: { id: string; of: string; text: string }[]; comment: string; savedAt: string } | undefined {
    const r = this.db.prepare('SELECT ranking, rewrites, comment, created_at FROM annotations WHERE item_id = ? AND user_id = ? ORDER BY id DESC LIMIT 1').get(it.rowId, u.id) as
      { ranking: string; rewrites: string; comment: string; created_at: string } | undefined;
    if (!r) return undefined;
    return { ranking: JSON.parse(r.ranking), rewrites: JSON.parse(r.rewrites), comment: r.comment, savedAt: r.created_at };
  }

  progress(p: Project, u: User): Progress {
    const rows = this.db.prepare(`SELECT a.status, count(*) AS n FROM assignments a JOIN items i ON i.id = a.item_id
      WHERE i.project_id = ? AND a.user_id = ? GROUP BY a.status`).all(p.id, u.id) as { status: string; n: number }[];
    const by = Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
    // open items minus the open items u already holds: two index counts instead of a probe per item
    const open = (this.db.prepare('SELECT count(*) AS n FROM items WHERE project_id = ? AND assigned < ?').get(p.id, p.perItem) as { n: number }).n;
    const mine = (this.db.prepare(`SELECT count(*) AS n FROM assignments a JOIN items i ON i.id = a.item_id
      WHERE a.user_id = ? AND i.project_id = ? AND i.assigned < ?`).get(u.id, p.id, p.perItem) as { n: number }).n;
    const available = open - mine;
    return { done: by.done ?? 0, skipped: by.skipped ?? 0, pending: by.pending ?? 0, available };
  }

  /** Every current saved annotation of the project (assignment status done), oldest item first. */
  doneAnnotations(p: Project): DoneAnnotation[] {
    const rows = this.db.prepare(`SELECT i.ext_id, u.name, an.ranking, an.rewrites, an.comment, an.created_at
      FROM assignments a JOIN items i ON i.id = a.item_id JOIN users u ON u.id = a.user_id
      JOIN annotations an ON an.id = (SELECT max(id) FROM annotations x WHERE x.item_id = a.item_id AND x.user_id = a.user_id)
      WHERE i.project_id = ? AND a.status = 'done' ORDER BY i.id, u.name`).all(p.id) as
      { ext_id: string; name: string; ranking: string; rewrites: string; comment: string; created_at: string }[];
    const cache = new Map<string, StoredItem>();
    return rows.map((r) => {
      let it = cache.get(r.ext_id);
      if (!it) { it = this.item(p, r.ext_id); cache.set(r.ext_id, it); }
      return { item: it, annotator: r.name, ranking: JSON.parse(r.ranking), rewrites: JSON.parse(r.rewrites), comment: r.comment, savedAt: r.created_at };
    });
  }

  counts(p: Project): { items: number; annotations: number; done: number; skipped: number; pending: number; complete: number } {
    const q = (sql: string) => (this.db.prepare(sql).get(p.id) as { n: number }).n;
    return {
      items: this.itemCount(p),
      annotations: q('SELECT count(*) AS n FROM annotations an JOIN items i ON i.id = an.item_id WHERE i.project_id = ?'),
      done: q("SELECT count(*) AS n FROM assignments a JOIN items i ON i.id = a.item_id WHERE i.project_id = ? AND a.status = 'done'"),
      skipped: q("SELECT count(*) AS n FROM assignments a JOIN items i ON i.id = a.item_id WHERE i.project_id = ? AND a.status = 'skipped'"),
      pending: q("SELECT count(*) AS n FROM assignments a JOIN items i ON i.id = a.item_id WHERE i.project_id = ? AND a.status = 'pending'"),
      complete: (this.db.prepare(`SELECT count(*) AS n FROM items i WHERE i.project_id = ?
        AND (SELECT count(*) FROM assignments a WHERE a.item_id = i.id AND a.status = 'done') >= ?`).get(p.id, p.perItem) as { n: number }).n,
    };
  }
}
