// command.ts — the shape every subcommand file exports.

export interface Command {
  /** first word after `zhongjing` */
  name: string;
  /** one line for `zhongjing --help` */
  summary: string;
  /** runs with the words after the command name; returns the exit code */
  run(argv: string[]): Promise<number>;
}
