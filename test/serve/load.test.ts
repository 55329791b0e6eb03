// load.test.ts — a bounded load test on loopback: concurrent clients send a mix of streaming and non-streaming
// requests for ~10 s (60 s with ZJ_SLOW_TESTS=1); every request must succeed, the process's memory and the worker's
// tensor pool must stay flat from the first quarter to the end, and latency percentiles are reported (t.diagnostic).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { jsonOf, post, sseData, start, tinyModel, user } from './helpers.js';

// a full collection before each heap reading, so growth means live objects rather than garbage not yet collected
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function heapAfterGc(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

const slow = process.env.ZJ_SLOW_TESTS === '1';
const DURATION_MS = slow ? 60_000 : 10_000;
const CLIENTS = 8;
const QUESTIONS = ['咳嗽三天，晚上加重', '孩子发烧38度怎么办', '血压高需要调药吗', '胃胀气反酸', '我胸口痛，出了一身冷汗'];

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

test(`load: ${CLIENTS} clients for ${DURATION_MS / 1000} s — no failures, flat memory, latency percentiles`, { timeout: DURATION_MS + 60_000 }, async (t) => {
  const model = await tinyModel({ maxPositions: 256 });
  const s = await start(model.dir, { maxQueue: 64 });
  try {
    const latencies: number[] = [], failures: string[] = [];
    let tokens = 0, n = 0;
    const t0 = Date.now();
    let mid: { rss: number; heap: number; pool: number } | null = null;
    const health = async () => (await jsonOf(fetch(`${s.url}/health`))).engine;

    const client = async (c: number) => {
      for (let i = 0; Date.now() - t0 < DURATION_MS; i++) {
        const stream = (c + i) % 2 === 0;
        const body = { messages: [user(QUESTIONS[(c * 7 + i) % QUESTIONS.length]!)], max_tokens: 8 + ((c + i) % 17), temperature: 0.7, seed: c * 1000 + i, stream };
        const q0 = performance.now();
        try {
          const r = await post(s.url, body);
          if (r.status !== 200) { failures.push(`HTTP ${r.status}: ${await r.text()}`); continue; }
          if (stream) {
            const ev = await sseData(r);
            if (ev[ev.length - 1] !== '[DONE]') { failures.push('stream without [DONE]'); continue; }
            const fin = JSON.parse(ev[ev.length - 2]!);
            if (!fin.choices?.[0]?.finish_reason) { failures.push('stream without finish_reason'); continue; }
          } else {
            const j = await jsonOf(r);
            if (typeof j.choices?.[0]?.message?.content !== 'string') { failures.push('answer without content'); continue; }
            tokens += j.usage.completion_tokens;
          }
          latencies.push(performance.now() - q0);
          n++;
        } catch (e) {
          failures.push(`request failed: ${(e as Error).message}`);
        }
        if (!mid && Date.now() - t0 > DURATION_MS / 4) {
          mid = { rss: process.memoryUsage().rss, heap: heapAfterGc(), pool: -1 };
          mid.pool = (await health()).workerPool?.pooledBytes ?? 0;
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
    const wall = (Date.now() - t0) / 1000;
    const end = { rss: process.memoryUsage().rss, heap: heapAfterGc(), pool: (await health()).workerPool?.pooledBytes ?? 0 };
    const st = await health();
    const MiB = (b: number) => (b / 2 ** 20).toFixed(1);
    t.diagnostic(`requests ${n} in ${wall.toFixed(1)} s (${(n / wall).toFixed(1)} req/s), failed ${failures.length}, generated tokens ${st.generatedTokens} (${(st.generatedTokens / wall).toFixed(0)} tok/s)`);
    t.diagnostic(`latency ms: p50 ${pct(latencies, 50).toFixed(0)}  p90 ${pct(latencies, 90).toFixed(0)}  p99 ${pct(latencies, 99).toFixed(0)}  max ${Math.max(...latencies).toFixed(0)}`);
    t.diagnostic(`memory: rss ${MiB(mid!.rss)} → ${MiB(end.rss)} MiB; main heap after GC ${MiB(mid!.heap)} → ${MiB(end.heap)} MiB; worker pool ${MiB(mid!.pool)} → ${MiB(end.pool)} MiB; worker heap ${MiB(st.workerHeapUsed)} MiB`);
    assert.deepEqual(failures.slice(0, 5), []);
    assert.ok(n >= CLIENTS * 2, `only ${n} requests completed`);
    assert.equal(st.failed, 0);
    assert.equal(st.running + st.queued, 0);
    assert.ok(tokens > 0);
    // flat: live objects after a quarter of the run are what the whole run keeps; rss only gets a loose bound
    // because V8 and malloc keep freed pages for reuse (it levels off rather than climbing with the request count)
    assert.ok(end.heap - mid!.heap < 8 * 2 ** 20, `main heap after GC grew ${MiB(end.heap - mid!.heap)} MiB after the first quarter`);
    assert.ok(end.rss - mid!.rss < 128 * 2 ** 20, `rss grew ${MiB(end.rss - mid!.rss)} MiB after the first quarter`);
    // the worker's pool is bounded by design (emptied past 64 MiB after a batch), whatever shapes the batches had
    assert.ok(end.pool <= 64 * 2 ** 20, `worker pool holds ${MiB(end.pool)} MiB`);
  } finally {
    await s.close();
    model.remove();
  }
});
