// main.ts — `zhongjing <command> …`: dispatch, top-level help, and uniform error reporting.
import { commands } from './commands.js';
import { UsageError } from './args.js';

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    'usage: zhongjing <command> [flags]   (zhongjing <command> --help for its flags)',
    '',
    'Build doctor-like Chinese medical language models the Zhongjing way, on one machine.',
    'A research tool, not a doctor: nothing it generates is medical advice.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
  ].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(topHelp());
    return name ? 0 : 1;
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
