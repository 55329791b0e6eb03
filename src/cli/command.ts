// command.ts — the shape every command file exports. Commands with subcommands are built by subcommands.ts.
import type { FlagSpecs } from './args.js';
import type { Group } from './subcommands.js';

export interface Command {
  /** first word after `zhongjing` */
  name: string;
  /** one line for `zhongjing --help` */
  summary: string;
  /** runs with the words after the command name; returns the exit code */
  run(argv: string[]): Promise<number>;
  /** a command with subcommands: its table (subcommands.ts dispatches; test/cli walks it) */
  subcommands?: Group;
  /** a command without subcommands: the flags its --help lists */
  flags?: FlagSpecs;
}
