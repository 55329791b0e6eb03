// cli-ux.test.ts — the command line as a newcomer meets it: --version from package.json, no arguments → help and
// exit 2, help columns that never run a flag's choices into its description, and README's command table naming
// exactly the registered commands and every subcommand in their dispatcher tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatHelp } from '../../src/cli/args.js';
import { commands } from '../../src/cli/commands.js';

const root = process.cwd();
const zj = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/zhongjing.js'), ...args], { encoding: 'utf8', timeout: 30_000 });

test('--version prints package.json version; no arguments prints help and exits 2; --help exits 0', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const v = zj('--version');
  assert.equal(v.status, 0);
  assert.equal(v.stdout.trim(), `zhongjing ${pkg.version}`);
  const none = zj();
  assert.equal(none.status, 2);
  assert.match(none.stderr, /^usage: zhongjing <command>/);
  assert.equal(zj('--help').status, 0);
});

test('formatHelp: at least two spaces between every flag column and its description, long ones wrap', () => {
  const h = formatHelp('x', 'y', {
    from: { type: 'string', help: 'rerun this stage', choices: ['data', 'tokenizer', 'pretrain', 'sft', 'sample', 'rank', 'rm', 'ppo', 'eval', 'report', 'export'] },
    q: { type: 'boolean', help: 'quiet' },
  });
  const lines = h.split('\n');
  const from = lines.findIndex((l) => l.startsWith('  --from'));
  assert.ok(!lines[from]!.includes('rerun'), 'the long flag does not share a line with its text');
  assert.match(lines[from + 1]!, /^\s{4,}rerun this stage$/);
  const q = lines.find((l) => l.startsWith('  --q'))!;
  assert.match(q, /^ {2}--q {2,}quiet$/);
  // every command's real help: a flag's value placeholder is followed by a space or the line's end, never text
  for (const c of ['pipeline', 'serve', 'chat']) {
    const out = zj(c, '--help').stdout;
    for (const l of out.split('\n')) if (/^ {2}--/.test(l)) assert.match(l, /^ {2}--[a-z-]+(?: <[^>]*>)?(?: {2}|$)/, `${c}: ${l}`);
  }
});

test("README's command table lists exactly the registered commands, with every subcommand of their tables", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const rows = [...readme.matchAll(/^\| `zhongjing ([a-z-]+)([^`]*)`/gm)].map((m) => ({ name: m[1]!, rest: m[2]!.replace(/\\\|/g, '|') }));
  const names = new Set(rows.map((r) => r.name));
  const registered = commands.map((c) => c.name);
  for (const n of registered) assert.ok(names.has(n), `README has no row for \`zhongjing ${n}\``);
  for (const n of names) assert.ok(registered.includes(n), `README lists \`zhongjing ${n}\`, which is not a command`);
  // every subcommand of the dispatcher's table is named in the first word of one of the command's rows
  for (const c of commands) {
    if (!c.subcommands) continue;
    const listed = new Set(rows.filter((r) => r.name === c.name).flatMap((r) => r.rest.trim().split(/\s+/)[0]!.split('|')));
    for (const s of Object.keys(c.subcommands.subcommands)) assert.ok(listed.has(s), `README's row for \`zhongjing ${c.name}\` omits the subcommand ${s}`);
  }
});
