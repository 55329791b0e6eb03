// args.ts — a small, strict flag parser for the subcommands: declared flags only, typed values,
// generated --help. Unknown flags are errors, never ignored.

export interface FlagSpec {
  type: 'string' | 'number' | 'boolean';
  help: string;
  default?: string | number | boolean;
  /** allowed values for string flags */
  choices?: readonly string[];
}

export type FlagSpecs = Record<string, FlagSpec>;
export type ParsedFlags<S extends FlagSpecs> = {
  [K in keyof S]: S[K]['type'] extends 'number' ? number : S[K]['type'] extends 'boolean' ? boolean : string;
};

export class UsageError extends Error {}

export function parseArgs<S extends FlagSpecs>(cmd: string, argv: readonly string[], specs: S):
  { flags: Partial<ParsedFlags<S>> & { help?: boolean }; positional: string[] } {
  const flags: Record<string, unknown> = {};
  const positional: string[] = [];
  for (const [k, s] of Object.entries(specs)) if (s.default !== undefined) flags[k] = s.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') { flags.help = true; continue; }
    if (!arg.startsWith('--')) { positional.push(arg); continue; }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = specs[name];
    if (!spec) throw new UsageError(`[${cmd}] unknown flag --${name} (see \`zhongjing ${cmd} --help\`)`);
    let value: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
    if (spec.type === 'boolean') {
      flags[name] = value === undefined ? true : !['false', '0', 'no'].includes(value);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`[${cmd}] --${name} needs a value`);
    }
    if (spec.type === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new UsageError(`[${cmd}] --${name} must be a number, got '${value}'`);
      flags[name] = n;
    } else {
      if (spec.choices && !spec.choices.includes(value))
        throw new UsageError(`[${cmd}] --${name} must be one of ${spec.choices.join('|')}, got '${value}'`);
      flags[name] = value;
    }
  }
  return { flags: flags as Partial<ParsedFlags<S>> & { help?: boolean }, positional };
}

export function formatHelp(usage: string, summary: string, specs: FlagSpecs): string {
  const lines = [`usage: ${usage}`, '', summary, ''];
  const entries = Object.entries(specs);
  if (entries.length) lines.push('flags:');
  const rows: [string, string][] = entries.map(([k, s]) => {
    const kind = s.type === 'boolean' ? '' : s.choices ? ` <${s.choices.join('|')}>` : ` <${s.type}>`;
    const def = s.default !== undefined && s.type !== 'boolean' ? ` (default ${s.default})` : '';
    return [`  --${k}${kind}`, s.help + def];
  });
  rows.push(['  --help', 'show this help']);
  lines.push(...formatColumns(rows));
  return lines.join('\n');
}

/**
 * Two columns with at least two spaces between them; a left cell too long for the column (a flag with many
 * choices) gets its description on the next line, indented, instead of running into it.
 */
export function formatColumns(rows: readonly [string, string][], maxLeft = 36): string[] {
  const width = Math.min(maxLeft, Math.max(0, ...rows.map(([l]) => l.length))) + 2;
  const out: string[] = [];
  for (const [l, r] of rows) {
    if (l.length + 2 <= width) out.push(l.padEnd(width) + r);
    else out.push(l, ' '.repeat(width) + r);
  }
  return out;
}
