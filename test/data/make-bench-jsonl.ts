// make-bench-jsonl.ts — writes a large JSONL of demo consultations for the `data inspect` / `data clean` benchmark
// (not a test; never committed output). Usage: node dist/test/data/make-bench-jsonl.js OUT.jsonl [MB=1024] [seed=1]
// About 1 % of lines repeat an earlier dialogue exactly and 1 % with one changed word, so dedup has work to do.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { generateDemo } from '../../src/data/demo/index.js';
import { toLine } from '../../src/data/writers.js';

async function main(): Promise<void> {
  const [out, mbArg, seedArg] = process.argv.slice(2);
  if (!out) { console.error('usage: make-bench-jsonl OUT.jsonl [MB=1024] [seed=1]'); process.exit(2); }
  const target = Number(mbArg ?? 1024) * 2 ** 20;
  let seed = Number(seedArg ?? 1);
  const ws = createWriteStream(out);
  let bytes = 0, lines = 0;
  const recent: string[] = [];
  while (bytes < target) {
    const d = generateDemo(seed++, { pretrain: 0, qa: 0, consultations: 5000, safety: 0, rankings: 0 });
    for (const c of d.consultations) {
      c.meta.id = `b${lines}`;
      let line = toLine(c, 'alpaca', lines);
      if (lines % 100 === 50 && recent.length) line = recent[lines % recent.length]!;
      else if (lines % 100 === 75 && recent.length) line = recent[lines % recent.length]!.replace('建议', '最好');
      if (recent.length < 1000) recent.push(line); else recent[lines % 1000] = line;
      if (!ws.write(line + '\n')) await once(ws, 'drain');
      bytes += Buffer.byteLength(line) + 1;
      lines++;
      if (bytes >= target) break;
    }
  }
  ws.end();
  await once(ws, 'finish');
  console.log(`${out}: ${lines} lines, ${(bytes / 2 ** 20).toFixed(0)} MiB`);
}

void main();
