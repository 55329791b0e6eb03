// subcommands.test.ts — every command and subcommand in the registry (src/cli/commands.ts, walked through the
// dispatcher's tables) behaves alike: a group given no words prints its help and exits 2, an unknown word is an error
// naming every valid subcommand (exit 2), `--help` exits 0 at every level, and a leaf's help lists each declared flag.
// In-process through main.ts's run(), with console output captured, so the walk takes well under a second. Also the
// house rule that keeps commands thin: no TypeScript file under src/ over 450 lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../src/cli/main.js';
import { commands } from '../../src/cli/commands.js';
import { dispatch, flagLeaf, isGroup, type Entry, type Group } from '../../src/cli/subcommands.js';
import type { FlagSpecs } from '../../src/cli/args.js';

interface Ran { code: number; out: string; err: string }

async function zj(...argv: string[]): Promise<Ran> {
  const out: string[] = [], err: string[] = [];
  const log = console.log, error = console.error;
  console.log = (...a: unknown[]) => { out.push(a.join(' ')); };
  console.error = (...a: unknown[]) => { err.push(a.join(' ')); };
  try {
    return { code: await run(argv), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

function assertListsFlags(where: string, help: string, flags: FlagSpecs): void {
  const names = Object.keys(flags);
  for (const k of names) assert.match(help, new RegExp(`^ {2}--${k}(?: |$)`, 'm'), `\`zhongjing ${where} --help\` does not list --${k}`);
  assert.match(help, /^ {2}--help(?: |$)/m, `${where}: --help itself is listed`);
}

/** Every path from a command down to its leaves, with the entry found there. */
function walk(path: string[], e: Entry, out: { path: string[]; entry: Entry }[]): void {
  out.push({ path, entry: e });
  if (isGroup(e)) for (const [k, sub] of Object.entries(e.subcommands)) walk([...path, k], sub, out);
}

test('every group: no words → help + exit 2; unknown word → names the valid ones, exit 2; --help → exit 0', async () => {
  let groups = 0;
  for (const c of commands) {
    if (!c.subcommands) continue;
    const all: { path: string[]; entry: Entry }[] = [];
    walk([c.name], c.subcommands, all);
    for (const { path, entry } of all) {
      if (!isGroup(entry)) continue;
      groups++;
      const where = path.join(' ');
      const none = await zj(...path);
      assert.equal(none.code, 2, `\`zhongjing ${where}\` exits 2`);
      assert.match(none.err, new RegExp(`^usage: zhongjing ${where} <`), `\`zhongjing ${where}\` prints its help on stderr`);
      const names = Object.keys(entry.subcommands);
      for (const n of names) assert.ok(none.err.includes(`  ${n}`), `${where}: help lists ${n}`);
      for (const h of ['--help', '-h', 'help']) {
        const r = await zj(...path, h);
        assert.equal(r.code, 0, `\`zhongjing ${where} ${h}\` exits 0`);
        assert.match(r.out, new RegExp(`^usage: zhongjing ${where} <${names.join('\\|')}>`), `${where} ${h}: usage names every subcommand`);
      }
      const bad = await zj(...path, 'no-such-sub');
      assert.equal(bad.code, 2, `\`zhongjing ${where} no-such-sub\` exits 2`);
      assert.match(bad.err, new RegExp(`unknown subcommand 'no-such-sub' \\(valid: ${names.join(', ')}\\)`), bad.err);
    }
  }
  // data eval bench tokenizer annotate (+ user, member) model export import train
  assert.ok(groups >= 11, `walked ${groups} groups`);
});

test('every leaf and every command without subcommands: --help exits 0 and lists each declared flag', async () => {
  let leaves = 0;
  for (const c of commands) {
    if (!c.subcommands) {
      const r = await zj(c.name, '--help');
      assert.equal(r.code, 0, `\`zhongjing ${c.name} --help\` exits 0`);
      assert.ok(c.flags, `${c.name} declares its flags`);
      assertListsFlags(c.name, r.out, c.flags);
      leaves++;
      continue;
    }
    const all: { path: string[]; entry: Entry }[] = [];
    walk([c.name], c.subcommands, all);
    for (const { path, entry } of all) {
      if (isGroup(entry)) continue;
      leaves++;
      const r = await zj(...path, '--help');
      assert.equal(r.code, 0, `\`zhongjing ${path.join(' ')} --help\` exits 0 (${r.err})`);
      assert.match(r.out, /^usage: zhongjing /, path.join(' '));
      assertListsFlags(path.join(' '), r.out, entry.flags);
      const unknown = await zj(...path, '--no-such-flag');
      assert.equal(unknown.code, 2, `\`zhongjing ${path.join(' ')} --no-such-flag\` is a usage error`);
    }
  }
  assert.ok(leaves >= 35, `walked ${leaves} leaves`);
});

test('the dispatcher itself: nested groups, help words, prototype names are not subcommands', async () => {
  const ran: string[][] = [];
  const leaf = flagLeaf({
    path: ['t', 'g', 'x'], usage: 'zhongjing t g x', summary: 'x', flags: { n: { type: 'number', help: 'a number' } },
    async run(f) { ran.push([String(f.n)]); return 7; },
  });
  const g: Group = { summary: 't', subcommands: { g: { summary: 'g', subcommands: { x: leaf } } } };
  const quiet = async (fn: () => Promise<number>) => {
    const log = console.log, error = console.error;
    console.log = () => {}; console.error = () => {};
    try { return await fn(); } finally { console.log = log; console.error = error; }
  };
  assert.equal(await quiet(() => dispatch(['t'], g, ['g', 'x', '--n', '3'])), 7);
  assert.deepEqual(ran, [['3']]);
  assert.equal(await quiet(() => dispatch(['t'], g, ['g'])), 2);
  assert.equal(await quiet(() => dispatch(['t'], g, ['g', 'help'])), 0);
  assert.equal(await quiet(() => dispatch(['t'], g, ['toString'])), 2, 'an Object.prototype name is unknown, not a crash');
  await assert.rejects(() => dispatch(['t'], g, ['g', 'x', 'stray']), /\[t g x\] unexpected argument 'stray'/);
});

test('house rule: no TypeScript file under src/ is over 450 lines', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const long: string[] = [];
  const visit = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) visit(p);
      else if (p.endsWith('.ts')) {
        const n = readFileSync(p, 'utf8').split('\n').length - 1;
        if (n > 450) long.push(`${p}: ${n} lines`);
      }
    }
  };
  visit(join(process.cwd(), 'src'));
  assert.deepEqual(long, [], 'split these files (STYLE.md: no file over ~450 lines)');
});
