// subcommands.ts — the one dispatcher every command with subcommands goes through (data, eval, bench, …), so they
// all behave alike: no words → the help on stderr and exit 2; `--help`/`-h`/`help` → the help on stdout and exit 0;
// an unknown word → an error naming the valid ones and exit 2. Leaves declare their flags, which their --help lists
// (and test/cli walks). Flag parsing itself is args.ts; what a subcommand does is its own file's business.
import type { Command } from './command.js';
import { formatColumns, formatHelp, parseArgs, UsageError, type FlagSpecs } from './args.js';

/** A subcommand that runs: its line in the parent's list, its declared flags, and its body. */
export interface Leaf {
  summary: string;
  /** every flag it accepts; its --help lists each (test/cli/subcommands.test.ts checks that) */
  flags: FlagSpecs;
  /** the words after the subcommand's name (flags and positionals); returns the exit code */
  run(argv: string[]): Promise<number>;
}

/** A word with subcommands under it. */
export interface Group {
  summary: string;
  /** a paragraph under the usage line of this group's help */
  about?: string;
  subcommands: Record<string, Entry>;
}

export type Entry = Leaf | Group;

export const isGroup = (e: Entry): e is Group => 'subcommands' in e;

const HELP_WORDS = new Set(['--help', '-h', 'help']);

/** The help of a group: usage naming the subcommands, the about paragraph, one aligned line per subcommand. */
export function groupHelp(path: readonly string[], g: Group): string {
  const names = Object.keys(g.subcommands);
  const where = `zhongjing ${path.join(' ')}`;
  return [
    `usage: ${where} <${names.join('|')}> [flags]   (${where} <sub> --help)`, '',
    ...(g.about ? [g.about, ''] : []),
    ...formatColumns(names.map((n) => [`  ${n}`, g.subcommands[n]!.summary])),
  ].join('\n');
}

/** Runs the subcommand argv names under `g` (recursively for nested groups); see the file header for exit codes. */
export async function dispatch(path: readonly string[], g: Group, argv: readonly string[]): Promise<number> {
  const [word, ...rest] = argv;
  if (word === undefined) { console.error(groupHelp(path, g)); return 2; }
  if (HELP_WORDS.has(word)) { console.log(groupHelp(path, g)); return 0; }
  const e = Object.hasOwn(g.subcommands, word) ? g.subcommands[word]! : undefined;
  if (!e) {
    console.error(`[${path.join(' ')}] unknown subcommand '${word}' (valid: ${Object.keys(g.subcommands).join(', ')})\n\n${groupHelp(path, g)}`);
    return 2;
  }
  return isGroup(e) ? dispatch([...path, word], e, rest) : e.run(rest);
}

/** A top-level command made of subcommands; `subcommands` stays visible for the README check and test/cli. */
export function groupCommand(name: string, g: Group): Command {
  return { name, summary: g.summary, subcommands: g, run: (argv) => dispatch([name], g, argv) };
}

export interface FlagLeafSpec<S extends FlagSpecs> {
  /** the words that name it, e.g. ['eval', 'mcq'] (error prefixes and help) */
  path: readonly string[];
  usage: string;
  summary: string;
  /** a longer description for --help (default: the summary) */
  about?: string;
  flags: S;
  /** whether positional words are allowed (default: no — inputs come by flags) */
  positional?: boolean;
  run(flags: Record<string, unknown>, positional: string[]): Promise<number>;
}

/** A leaf whose flags are parsed here: --help prints the generated help, stray positionals are usage errors. */
export function flagLeaf<S extends FlagSpecs>(spec: FlagLeafSpec<S>): Leaf {
  const where = spec.path.join(' ');
  return {
    summary: spec.summary,
    flags: spec.flags,
    async run(argv) {
      const { flags, positional } = parseArgs(where, argv, spec.flags);
      if (flags.help) { console.log(formatHelp(spec.usage, spec.about ?? spec.summary, spec.flags)); return 0; }
      if (!spec.positional && positional.length) throw new UsageError(`[${where}] unexpected argument '${positional[0]}' (inputs are given by flags)`);
      return spec.run(flags as Record<string, unknown>, positional);
    },
  };
}
