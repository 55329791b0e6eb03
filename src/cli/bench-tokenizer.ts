// bench-tokenizer.ts — `zhongjing bench tokenizer`: byte-level BPE training time next to HF `tokenizers` (Rust, npm
// package, run in a child process on the same file in the same run), and encode throughput in MB/s.
// Text: ../shared/refdata (read at run time, never stored) when present, topped up with the generated demo corpus.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatHelp, parseArgs } from './args.js';
import { generateDemo, sizePresets } from '../data/demo/index.js';
import { QWEN2_PATTERN, trainByteLevelBpe } from '../tokenizer/index.js';

export const flags = {
  mb: { type: 'number', help: 'megabytes (UTF-8) of text to train on', default: 16 },
  'vocab-size': { type: 'number', help: "vocabulary size; the npm binding fixes Rust's trainer at its default 30000", default: 30000 },
  refdata: { type: 'string', help: 'folder of third-party text to read first', default: '../shared/refdata' },
  'rust-timeout': { type: 'number', help: 'seconds before the Rust run is abandoned', default: 600 },
  'no-rust': { type: 'boolean', help: 'skip the Rust anchor' },
  json: { type: 'boolean', help: 'print one JSON object' },
} as const;

/** Every string in a JSON value (records hold the text in their fields). */
function strings(v: unknown, out: string[]): void {
  if (typeof v === 'string') { if (v.trim()) out.push(v.trim()); } else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) strings(x, out);
}

function refdataText(root: string): { text: string[]; files: number } {
  const out: string[] = [];
  let files = 0;
  const walk = (d: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) { walk(p); continue; }
      if (!/\.(json|jsonl|txt|csv)$/.test(n)) continue;
      const buf = readFileSync(p);
      // two refdata folders are GB18030; a UTF-8 decode that hits U+FFFD tells them apart
      let s = new TextDecoder('utf-8').decode(buf);
      if (s.includes('\uFFFD')) s = new TextDecoder('gb18030').decode(buf);
      files++;
      if (n.endsWith('.txt') || n.endsWith('.csv')) { out.push(s); continue; }
      try { strings(JSON.parse(s), out); } catch { for (const l of s.split('\n')) { try { strings(JSON.parse(l), out); } catch { /* not JSON: skip */ } } }
    }
  };
  walk(root);
  return { text: out, files };
}

function demoText(bytesNeeded: number): string[] {
  const out: string[] = [];
  let bytes = 0;
  for (let seed = 1; bytes < bytesNeeded; seed++) {
    const d = generateDemo(seed, sizePresets.large);
    for (const p of d.pretrain) { out.push(p.text); bytes += Buffer.byteLength(p.text); }
    for (const c of [...d.qa, ...d.consultations]) for (const t of c.turns) { out.push(t.text); bytes += Buffer.byteLength(t.text); }
  }
  return out;
}

const RUST_SCRIPT = `
const tk = require(process.argv[1]);
const t = new tk.Tokenizer(tk.BPE.empty());
t.setPreTokenizer(tk.sequencePreTokenizer([tk.splitPreTokenizer(process.argv[2], 'isolated', false), tk.byteLevelPreTokenizer(false, false)]));
const c0 = process.cpuUsage(), t0 = performance.now();
t.train([process.argv[3]]);
const c1 = process.cpuUsage(c0);
console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000, cpuSeconds: (c1.user + c1.system) / 1e6, vocab: t.getVocabSize(true) }));
`;

export async function benchTokenizer(argv: string[]): Promise<number> {
  const { flags: f } = parseArgs('bench tokenizer', argv, flags);
  if (f.help) {
    console.log(formatHelp('zhongjing bench tokenizer [flags]', 'Train byte-level BPE on the same text with ours and with HF tokenizers (Rust), then time encoding.', flags));
    return 0;
  }
  const target = Math.round(f.mb! * 1e6);
  const root = resolve(f.refdata!);
  const ref = existsSync(root) ? refdataText(root) : { text: [], files: 0 };
  let lines = ref.text;
  let refBytes = lines.reduce((a, s) => a + Buffer.byteLength(s) + 1, 0);
  if (refBytes > target) { lines = []; refBytes = 0; for (const s of ref.text) { if (refBytes >= target) break; lines.push(s); refBytes += Buffer.byteLength(s) + 1; } }
  const demo = refBytes < target ? demoText(target - refBytes) : [];
  let text = [...lines, ...demo].join('\n');
  if (Buffer.byteLength(text) > target) text = Buffer.from(text).subarray(0, target).toString('utf8').replace(/\uFFFD$/, '');
  const mb = Buffer.byteLength(text) / 1e6;
  const dir = mkdtempSync(join(tmpdir(), 'zj-bench-tok-'));
  const file = join(dir, 'corpus.txt');
  writeFileSync(file, text);
  const log = (s: string): void => { if (!f.json) console.log(s); };
  log(`text: ${mb.toFixed(1)} MB (${(refBytes / 1e6).toFixed(1)} MB from ${ref.files} refdata files, rest generated demo corpus)`);

  // ours, in this process
  const c0 = process.cpuUsage(), t0 = performance.now();
  const tok = await trainByteLevelBpe([text], { vocabSize: f['vocab-size']!, minFrequency: 0 });
  const c1 = process.cpuUsage(c0);
  const ours = { seconds: (performance.now() - t0) / 1000, cpuSeconds: (c1.user + c1.system) / 1e6, vocab: tok.vocabSize };
  log(`train ours : ${ours.seconds.toFixed(2)} s (cpu ${ours.cpuSeconds.toFixed(2)} s), vocab ${ours.vocab}` +
    (ours.vocab < f['vocab-size']! ? `  (every pre-token is whole before ${f['vocab-size']} tokens: the text is too repetitive)` : ''));

  // Rust, in a child so its thread pool and memory do not mix with ours
  let rust: { seconds: number; cpuSeconds: number; vocab: number } | { error: string } = { error: 'skipped (--no-rust)' };
  if (!f['no-rust']) {
    let modPath: string | null = null;
    try { modPath = createRequire(join(process.cwd(), 'package.json')).resolve('tokenizers'); } catch { rust = { error: "npm package 'tokenizers' is not installed (npm install --save-dev tokenizers)" }; }
    if (modPath) {
      const r = spawnSync(process.execPath, ['-e', RUST_SCRIPT, modPath, QWEN2_PATTERN, file], { encoding: 'utf8', timeout: f['rust-timeout']! * 1000, maxBuffer: 1 << 26 });
      const line = r.stdout?.split('\n').find((l) => l.startsWith('{'));
      rust = line ? JSON.parse(line) : { error: r.error ? `did not finish: ${r.error.message}` : `exited ${r.status}: ${r.stderr?.slice(-300)}` };
    }
  }
  if ('seconds' in rust) log(`train Rust : ${rust.seconds.toFixed(2)} s (cpu ${rust.cpuSeconds.toFixed(2)} s), vocab ${rust.vocab}   ratio ours/Rust ${(ours.seconds / rust.seconds).toFixed(2)}× wall, ${(ours.cpuSeconds / rust.cpuSeconds).toFixed(2)}× cpu` +
    (f['vocab-size'] !== 30000 ? '  (not like for like: Rust trains to 30000)' : ''));
  else log(`train Rust : ${rust.error}`);

  // encode throughput: a cold pass and a warm one (the pre-token cache is the point of the second)
  const enc = (): { mbps: number; tokens: number } => {
    const t = performance.now();
    let n = 0;
    for (let i = 0; i < text.length; i += 1 << 16) n += tok.encode(text.slice(i, i + (1 << 16))).length;
    return { mbps: mb / ((performance.now() - t) / 1000), tokens: n };
  };
  const cold = enc(), warm = enc();
  log(`encode ours: ${cold.mbps.toFixed(1)} MB/s first pass, ${warm.mbps.toFixed(1)} MB/s cached; ${(text.length / cold.tokens).toFixed(2)} chars/token`);
  rmSync(dir, { recursive: true, force: true });
  if (f.json) console.log(JSON.stringify({ mb, refdataMb: refBytes / 1e6, ours, rust, encode: { coldMBps: cold.mbps, warmMBps: warm.mbps, tokens: cold.tokens } }));
  return 0;
}
