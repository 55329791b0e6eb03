// bench-serve.ts — `zhongjing bench serve`: serving throughput over a real loopback socket — aggregate tokens/s,
// time to first token and the batch sizes the engine formed, for 1, 4 and 16 concurrent streams — beside the anchor
// of the same model generating one answer in-process (generate(), no HTTP, no worker). Default model: a tiny random
// one written to a temporary directory.
// It measures; it does not tune anything.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatHelp, parseArgs, UsageError, type FlagSpecs } from './args.js';
import { median } from './bench-util.js';
import { serveModel } from '../serve/server.js';
import { writeTinyModelDir } from '../model/tiny-model.js';
import { loadModelDir } from '../model/model-dir.js';
import { generate } from '../model/generate.js';
import { loadTokenizer } from '../tokenizer/tokenizer-json.js';
import { renderChat } from '../tokenizer/chat.js';
import { servedTemplate } from '../serve/prompt.js';

export const flags = {
  model: { type: 'string', help: 'model directory (default: a tiny random model, 128 wide × 4 layers)' },
  streams: { type: 'string', help: 'comma-separated concurrency levels', default: '1,4,16' },
  'max-tokens': { type: 'number', help: 'tokens per answer (EOS ignored so every answer has this length)', default: 64 },
  prompt: { type: 'string', help: 'the patient message sent by every stream', default: '医生您好，我最近三天一直咳嗽，晚上更厉害，有点低烧，需要去医院吗？' },
  json: { type: 'boolean', help: 'print one JSON object instead of the table' },
} satisfies FlagSpecs;

const usage = 'zhongjing bench serve [--model DIR] [--streams 1,4,16] [--max-tokens N] [--json]';
const summary = 'serving tokens/s and time to first token for concurrent SSE streams over loopback, beside in-process generate()';

export interface ServeBenchRow {
  streams: number;
  wallS: number;
  tokens: number;
  /** all streams together */
  tokensPerS: number;
  ttftMsMedian: number;
  ttftMsMax: number;
  /** one stream's decode rate after its first token, median over streams */
  streamTokensPerSMedian: number;
  /** jobs per batch the engine ran during this level */
  meanBatch: number;
}

/** One level: `n` streams started together; each reads its SSE body to [DONE]. */
async function level(url: string, n: number, maxTokens: number, prompt: string): Promise<ServeBenchRow> {
  const engine = async () => ((await (await fetch(`${url}/health`)).json()) as { engine: { batches: number; batchedJobs: number } }).engine;
  const e0 = await engine();
  const t0 = performance.now();
  const one = async (i: number) => {
    const r = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens, ignore_eos: true, temperature: 0.7, seed: i, stream: true, stream_options: { include_usage: true } }),
    });
    if (r.status !== 200) throw new Error(`[bench serve] HTTP ${r.status}: ${await r.text()}`);
    const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '', first = 0, tokens = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let k;
      while ((k = buf.indexOf('\n\n')) >= 0) {
        const data = buf.slice(6, k);
        buf = buf.slice(k + 2);
        if (data === '[DONE]') continue;
        const j = JSON.parse(data);
        // the first chunk (role, and the guard's text) is sent before the model runs: it is not a model token
        if (!first && j.choices?.[0]?.delta?.content && !j.choices[0].delta.role) first = performance.now();
        if (j.usage) tokens = j.usage.completion_tokens;
      }
    }
    return { ttft: first - t0, end: performance.now(), first, tokens };
  };
  const rs = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  const wallS = (Math.max(...rs.map((r) => r.end)) - t0) / 1000;
  const tokens = rs.reduce((a, r) => a + r.tokens, 0);
  const e1 = await engine();
  return {
    meanBatch: (e1.batchedJobs - e0.batchedJobs) / Math.max(1, e1.batches - e0.batches),
    streams: n, wallS, tokens, tokensPerS: tokens / wallS,
    ttftMsMedian: median(rs.map((r) => r.ttft)), ttftMsMax: Math.max(...rs.map((r) => r.ttft)),
    streamTokensPerSMedian: median(rs.map((r) => (r.tokens - 1) / ((r.end - r.first) / 1000))),
  };
}

/** The anchor: the same model and prompt through generate() on this thread, no server. */
async function inProcess(dir: string, maxTokens: number, prompt: string): Promise<number> {
  const md = loadModelDir(dir);
  const tok = await loadTokenizer(join(md.dir, 'tokenizer.json'));
  const ids = tok.encode(renderChat(tok, servedTemplate(tok), [{ role: 'user', content: prompt }], { addGenerationPrompt: true }));
  const opts = { maxNewTokens: maxTokens, eosTokenIds: [], doSample: true, temperature: 0.7, seed: 1, repetitionPenalty: md.generation.repetitionPenalty ?? 1, decode: (x: number[]) => tok.decode(x, { skipSpecialTokens: true }) };
  generate(md.model, [ids], { ...opts, maxNewTokens: 4 }); // warm-up
  const rates: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const r = generate(md.model, [ids], opts);
    rates.push(r.ids[0]!.length / ((performance.now() - t) / 1000));
  }
  return median(rates);
}

export async function benchServe(argv: string[]): Promise<number> {
  const { flags: f, positional } = parseArgs('bench serve', argv, flags);
  if (f.help) { console.log(formatHelp(usage, summary, flags)); return 0; }
  if (positional.length) throw new UsageError(`[bench serve] unexpected argument '${positional[0]}'`);
  const levels = f.streams!.split(',').map((x) => Number(x.trim()));
  if (!levels.every((n) => Number.isInteger(n) && n >= 1 && n <= 256)) throw new UsageError(`[bench serve] --streams must list integers in 1..256, got '${f.streams}'`);
  const maxTokens = f['max-tokens']!;
  if (!(Number.isInteger(maxTokens) && maxTokens >= 2)) throw new UsageError(`[bench serve] --max-tokens must be an integer ≥ 2, got ${maxTokens}`);
  let tmp: string | null = null;
  let dir = f.model;
  if (!dir) {
    tmp = mkdtempSync(join(tmpdir(), 'zj-bench-serve-'));
    dir = join(tmp, 'tiny-random');
    await writeTinyModelDir(dir, { hiddenSize: 128, numLayers: 4, maxPositions: 512 });
  }
  try {
    const anchor = await inProcess(dir, maxTokens, f.prompt!);
    const s = await serveModel({ modelDir: dir, maxQueue: Math.max(...levels) + 1, guard: { disclaimer: '' } });
    const rows: ServeBenchRow[] = [];
    try {
      await level(s.url, 2, maxTokens, f.prompt!); // warm-up: the worker's JIT, the first sockets
      for (const n of levels) rows.push(await level(s.url, n, maxTokens, f.prompt!));
    } finally {
      await s.close();
    }
    const info = s.engine.info;
    if (f.json) {
      console.log(JSON.stringify({ model: info.dir, parameters: info.parameters, backend: info.backend, threads: info.threads, maxTokens, anchorInProcessTokensPerS: anchor, rows }));
      return 0;
    }
    console.log(`bench serve: ${info.name} (${(info.parameters / 1e6).toFixed(2)}M parameters), ${maxTokens} tokens per answer, ${info.backend} backend × ${info.threads} threads, loopback SSE`);
    console.log(`anchor: generate() in-process, 1 stream: ${anchor.toFixed(0)} tokens/s`);
    console.log('streams   wall s   tokens/s (all)   per stream tok/s (median)   TTFT ms median / max   jobs per batch');
    for (const r of rows) {
      console.log(`${String(r.streams).padStart(7)}   ${r.wallS.toFixed(2).padStart(6)}   ${r.tokensPerS.toFixed(0).padStart(14)}   ${r.streamTokensPerSMedian.toFixed(0).padStart(25)}   ${r.ttftMsMedian.toFixed(0).padStart(9)} / ${r.ttftMsMax.toFixed(0).padEnd(6)}   ${r.meanBatch.toFixed(1).padStart(14)}`);
    }
    console.log('one worker decodes one batch at a time: requests that arrive while a batch runs wait for the next one');
    return 0;
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}
