// main.ts — `zhongjing <command> …`: dispatch, top-level help, and uniform error reporting.
import { commands } from './commands.js';
import { readFileSync } from 'node:fs';
import { formatColumns, UsageError } from './args.js';

/** package.json's version (two folders up from dist/src/cli or src/cli). */
export function packageVersion(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const p = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (p.name === 'zhongjing' && p.version) return p.version;
    } catch { /* try the next */ }
  }
  return 'unknown';
}

function topHelp(): string {
  return [
    'usage: zhongjing <command> [flags]   (zhongjing <command> --help for its flags)',
    '',
    'Build doctor-like Chinese medical language models the Zhongjing way, on one machine.',
    'A research tool, not a doctor: nothing it generates is medical advice.',
    '',
    'commands:',
    ...formatColumns(commands.map((c) => [`  ${c.name}`, c.summary])),
    '',
    'zhongjing --version prints the version.',
  ].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    // no command at all is a usage error (exit 2), asking for help is not
    if (!name) { console.error(topHelp()); return 2; }
    console.log(topHelp());
    return 0;
  }
  if (name === '--version' || name === '-V') {
    console.log(`zhongjing ${packageVersion()}`);
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    console.error(`zhongjing: unknown command '${name}'\n\n${topHelp()}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(e.message);
      return 2;
    }
    console.error(e instanceof Error ? (process.env.ZJ_DEBUG ? e.stack : `zhongjing ${name}: ${e.message}`) : e);
    return 1;
  }
}
