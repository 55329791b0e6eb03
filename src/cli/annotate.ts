// annotate.ts — `zhongjing annotate serve|import|export|user add|token|list|member add|stats`: the expert ranking tool from the shell.
// Thin: parsing and printing only; the work is in src/annotate/.
import { existsSync, writeFileSync, renameSync } from 'node:fs';
import type { Command } from './command.js';
import { UsageError, type FlagSpecs } from './args.js';
import { flagLeaf, groupCommand, type Leaf } from './subcommands.js';
import { Store, type Role } from '../annotate/store.js';
import { importIntoProject, readCandidateSets } from '../annotate/import.js';
import { exportFormats, exportText, type ExportFormat } from '../annotate/export.js';
import { agreementReport } from '../annotate/agreement.js';
import { serveAnnotate } from '../annotate/server.js';

const dbFlag = { db: { type: 'string', help: 'the annotation database (SQLite; `import`, `user add` and `serve` create it)' } } as const;

interface Spec { usage: string; summary: string; flags: FlagSpecs; positional?: boolean; run(f: Record<string, unknown>, pos: string[]): Promise<number> }
interface SpecGroup { summary: string; subcommands: Record<string, Spec> }

const sub: Record<string, Spec | SpecGroup> = {
  serve: {
    usage: 'zhongjing annotate serve --db FILE [--port N] [--host 127.0.0.1] [--rule FILE]',
    summary: 'Runs the ranking web app until Ctrl-C. Log in with a token from `annotate user add`.',
    flags: {
      ...dbFlag,
      port: { type: 'number', help: 'TCP port (0 = any free port)', default: 8080 },
      host: { type: 'string', help: 'address to bind; keep 127.0.0.1 unless a proxy with TLS is in front', default: '127.0.0.1' },
      rule: { type: 'string', help: 'annotation rule shown to annotators (markdown/plain text; default: the shipped src/ui/annotate/rule.md)' },
      'allowed-hosts': { type: 'string', help: "comma-separated Host names to accept besides the bound address and loopback names (e.g. the proxy's name; '*' = any)" },
    },
    async run(f) {
      const allowedHosts = String(f['allowed-hosts'] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
      const s = await serveAnnotate({
        db: need(f, 'db'), host: f.host as string, port: f.port as number, ...(f.rule ? { ruleFile: f.rule as string } : {}),
        ...(allowedHosts.length ? { allowedHosts } : {}),
      });
      console.log(`annotate: listening on ${s.url} (db ${f.db}); Ctrl-C stops`);
      await new Promise<void>((done) => {
        const stop = () => { process.off('SIGINT', stop); process.off('SIGTERM', stop); done(); };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await s.close();
      console.log('annotate: stopped');
      return 0;
    },
  },
  import: {
    usage: 'zhongjing annotate import FILE --db FILE --project NAME [--per-item N] [--no-ties]',
    summary: 'Imports unranked candidate sets (our ranking format with ranking: [], or the labelling tool\'s {id: {query, history, response_0..}} JSON). All or nothing.',
    flags: {
      ...dbFlag,
      project: { type: 'string', help: 'project to add the items to (created if missing)' },
      'per-item': { type: 'number', help: 'how many annotators rank each item (default 1 for a new project)' },
      'no-ties': { type: 'boolean', help: 'forbid ties in this project' },
    },
    positional: true,
    async run(f, pos) {
      if (pos.length !== 1) throw new UsageError('[annotate import] expected exactly one FILE');
      // a new database is only created for a file that imports: check it before opening one
      if (!existsSync(need(f, 'db'))) await readCandidateSets(pos[0]!);
      return withStore(f, async (st) => {
        const { project: p, count: n } = await importIntoProject(st, pos[0]!, { name: need(f, 'project'), perItem: f['per-item'] as number | undefined, allowTies: f['no-ties'] ? false : undefined });
        console.log(`annotate import: ${n} item(s) into '${p.name}' (now ${st.itemCount(p)}; each ranked by ${p.perItem} annotator(s); ties ${p.allowTies ? 'allowed' : 'off'})`);
        return 0;
      }, true);
    },
  },
  export: {
    usage: 'zhongjing annotate export --db FILE --project NAME --out FILE [--format ranking|pairs|tsv]',
    summary: 'Writes the saved rankings: our ranking format, preference pairs for rm/dpo, or the original tool\'s TSV (lossy).',
    flags: {
      ...dbFlag,
      project: { type: 'string', help: 'project to export' },
      out: { type: 'string', help: 'output file (written to FILE.tmp, then renamed)' },
      format: { type: 'string', help: 'ranking (JSONL, lossless) | pairs (JSONL chosen/rejected) | tsv', choices: exportFormats, default: 'ranking' },
    },
    async run(f) {
      return withStore(f, async (st) => {
        const out = need(f, 'out');
        const r = exportText(st, st.project(need(f, 'project')), f.format as ExportFormat);
        writeFileSync(`${out}.tmp`, r.text);
        renameSync(`${out}.tmp`, out);
        if (r.notice) console.error(r.notice);
        console.log(`annotate export: ${r.count} ${f.format === 'pairs' ? 'pair' : 'record'}(s) → ${out}`);
        return 0;
      });
    },
  },
  user: {
    summary: 'accounts: add one (its token printed once; only a hash is stored), issue a new token, list them',
    subcommands: {
      add: {
        usage: 'zhongjing annotate user add NAME --role admin|annotator [--project P,Q] --db FILE',
        summary: 'Creates an account and prints its token once (only a hash is stored).',
        flags: {
          ...dbFlag,
          role: { type: 'string', help: 'role of a new account', choices: ['admin', 'annotator'], default: 'annotator' },
          project: { type: 'string', help: 'comma-separated projects the new account joins' },
        },
        positional: true,
        async run(f, pos) {
          const name = oneName('user add', pos);
          return withStore(f, async (st) => {
            const { token } = st.addUser(name, f.role as Role);
            for (const p of String(f.project ?? '').split(',').filter(Boolean)) st.addMember(st.ensureProject(p).name, name);
            console.error(`annotate user: created ${f.role} '${name}'; the token below is shown once, keep it secret`);
            console.log(token);
            return 0;
          }, true);
        },
      },
      token: {
        usage: 'zhongjing annotate user token NAME --db FILE',
        summary: 'Issues a new token for an account (the old one stops working).',
        flags: { ...dbFlag },
        positional: true,
        async run(f, pos) {
          const name = oneName('user token', pos);
          return withStore(f, async (st) => { console.log(st.rotateToken(name)); return 0; });
        },
      },
      list: {
        usage: 'zhongjing annotate user list --db FILE',
        summary: 'Lists accounts: name, role, projects.',
        flags: { ...dbFlag },
        async run(f) {
          return withStore(f, async (st) => {
            for (const u of st.users()) console.log(`${u.name}\t${u.role}\t${st.projectsFor(u).map((p) => p.name).join(',')}`);
            return 0;
          });
        },
      },
    },
  },
  member: {
    summary: 'project membership: add annotators to a project',
    subcommands: {
      add: {
        usage: 'zhongjing annotate member add NAME... --project P --db FILE',
        summary: 'Adds annotators to a project; items are handed out to N of its members as they ask for work.',
        flags: { ...dbFlag, project: { type: 'string', help: 'project to join' } },
        positional: true,
        async run(f, pos) {
          if (pos.length < 1) throw new UsageError('[annotate member add] expected NAME...');
          return withStore(f, async (st) => {
            const p = st.project(need(f, 'project'));
            for (const n of pos) st.addMember(p.name, n);
            console.log(`annotate member: ${p.name} now has ${st.members(p).map((m) => m.name).join(', ')}`);
            return 0;
          });
        },
      },
    },
  },
  stats: {
    usage: 'zhongjing annotate stats --db FILE --project NAME [--top N]',
    summary: 'Progress and agreement (Krippendorff α ordinal, mean Kendall τ-b, the items annotators disagree on most).',
    flags: { ...dbFlag, project: { type: 'string', help: 'project' }, top: { type: 'number', help: 'items listed', default: 10 } },
    async run(f) {
      return withStore(f, async (st) => {
        const p = st.project(need(f, 'project'));
        const done = st.doneAnnotations(p);
        const rep = agreementReport(done.map((a) => ({ itemId: a.item.extId, annotator: a.annotator, ranking: a.ranking, baseIds: new Set(a.item.candidates.map((x) => x.id)) })));
        const c = st.counts(p);
        const fmt = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
        console.log(`${p.name}: ${c.items} items × ${p.perItem}; ${c.done} saved, ${c.skipped} skipped, ${c.pending} open; ${c.complete} items complete`);
        console.log(`agreement over ${rep.itemsCompared} items: α(ordinal) ${fmt(rep.alphaOrdinal)}, mean τ-b ${fmt(rep.meanTau)}`);
        for (const it of rep.items.slice(0, f.top as number)) console.log(`  ${it.itemId}\tτ-b ${fmt(it.meanTau)}\t${it.annotators.join(', ')}`);
        return 0;
      });
    },
  },
};

function need(f: Record<string, unknown>, k: string): string {
  const v = f[k];
  if (typeof v !== 'string' || v === '') throw new UsageError(`[annotate] --${k} is required`);
  return v;
}

/** `create`: import and user may start a new database; reading commands must not leave an empty one behind a typo. */
async function withStore(f: Record<string, unknown>, body: (s: Store) => Promise<number>, create = false): Promise<number> {
  const db = need(f, 'db');
  if (!create && !existsSync(db)) throw new Error(`[annotate] no database at ${db}`);
  const st = new Store(db);
  try {
    return await body(st);
  } finally {
    st.close();
  }
}

function oneName(where: string, pos: string[]): string {
  if (pos.length !== 1) throw new UsageError(`[annotate ${where}] expected exactly one NAME`);
  return pos[0]!;
}

const leaf = (path: string[], s: Spec): Leaf => flagLeaf({ ...s, path: ['annotate', ...path] });

export const annotateCommand: Command = groupCommand('annotate', {
  summary: 'expert ranking web app: serve, import candidate sets, users, export rankings/pairs/TSV, agreement',
  about: 'Expert ranking of K candidate answers (safety > professionalism > fluency), stored in SQLite. See docs/annotate.md.',
  subcommands: Object.fromEntries(Object.entries(sub).map(([k, s]) => [k, 'subcommands' in s
    ? { summary: s.summary, subcommands: Object.fromEntries(Object.entries(s.subcommands).map(([k2, s2]) => [k2, leaf([k, k2], s2)])) }
    : leaf([k], s)])),
});
