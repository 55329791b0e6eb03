// db.ts — opens the annotation database (better-sqlite3): WAL, foreign keys, full fsync on commit, and the
// ordered list of schema migrations recorded in `migrations`. Queries live in store.ts; nothing here knows HTTP.
import Database from 'better-sqlite3';

export type Db = Database.Database;

/** Append-only: a released migration is never edited, a change is a new entry. */
const migrations: { version: number; name: string; sql: string }[] = [
  {
    version: 1, name: 'initial',
    sql: `
CREATE TABLE users (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'annotator')),
  token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
CREATE TABLE projects (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  per_item INTEGER NOT NULL CHECK (per_item >= 1), allow_ties INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL);
CREATE TABLE members (
  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (project_id, user_id));
CREATE TABLE items (
  id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  ext_id TEXT NOT NULL, prompt TEXT NOT NULL, history TEXT NOT NULL, meta TEXT, origin TEXT NOT NULL,
  UNIQUE (project_id, ext_id));
CREATE TABLE candidates (
  item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE, pos INTEGER NOT NULL,
  cand_id TEXT NOT NULL, text TEXT NOT NULL, source TEXT NOT NULL, rewrite_of TEXT,
  PRIMARY KEY (item_id, pos), UNIQUE (item_id, cand_id));
CREATE TABLE assignments (
  item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'skipped')),
  note TEXT NOT NULL DEFAULT '', assigned_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (item_id, user_id));
CREATE INDEX assignments_by_user ON assignments (user_id, status, item_id);
CREATE TABLE annotations (
  id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL, user_id INTEGER NOT NULL,
  ranking TEXT NOT NULL, rewrites TEXT NOT NULL, comment TEXT NOT NULL, created_at TEXT NOT NULL,
  FOREIGN KEY (item_id, user_id) REFERENCES assignments (item_id, user_id) ON DELETE CASCADE);
CREATE INDEX annotations_by_assignment ON annotations (item_id, user_id, id);
`,
  },
  {
    // handing out work counted assignments per item with a subquery over every item: O(items) per request.
    // A maintained counter (skipped assignments do not hold a slot) and an index make it one index probe.
    version: 2, name: 'items.assigned counter',
    sql: `
ALTER TABLE items ADD COLUMN assigned INTEGER NOT NULL DEFAULT 0;
UPDATE items SET assigned = (SELECT count(*) FROM assignments a WHERE a.item_id = items.id AND a.status != 'skipped');
CREATE INDEX items_open ON items (project_id, assigned, id);
`,
  },
];

export const schemaVersion = migrations[migrations.length - 1]!.version;

export function openDb(path: string): Db {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    // FULL: a save the client saw accepted survives a power cut too, not only a killed process
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // the CLI (import, user add) may write while a server holds the file
    db.pragma('busy_timeout = 5000');
    migrate(db);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const have = new Set((db.prepare('SELECT version FROM migrations').all() as { version: number }[]).map((r) => r.version));
  const newest = Math.max(0, ...have);
  if (newest > schemaVersion)
    throw new Error(`[annotate/db] database schema version ${newest} is newer than this program's ${schemaVersion}; upgrade zhongjing`);
  for (const m of migrations) {
    if (have.has(m.version)) continue;
    // each migration and its record commit together: a crash leaves either both or neither
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    }).immediate();
  }
}
