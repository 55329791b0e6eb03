// bench-gemm.ts — `zhongjing bench gemm`: GFLOP/s of the native GEMM, f32 and bf16, NN / NT / TN, median of
// --runs timed calls after a warm-up. With --torch, torch.matmul on the same shapes in a child
// /usr/bin/python3 (if it has torch) is the anchor printed beside ours, each case timed right after ours.
// Does not check results (test/native/gemm.test.ts does).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { loadAddon } from '../backend/native/index.js';
import { f32ToBf16Bits } from '../backend/reference/bf16.js';
import { formatHelp, parseArgs, UsageError, type FlagSpecs } from './args.js';
import { median } from './bench-util.js';

export const flags = {
  runs: { type: 'number', help: 'timed calls per case, at least 5 (median reported)', default: 7 },
  threads: { type: 'number', help: 'native pool threads (and torch threads); default: the pool as it is' },
  shapes: { type: 'string', help: 'comma-separated MxNxK list', default: '1024x1024x1024,4096x4096x1024' },
  layouts: { type: 'string', help: 'comma-separated from NN,NT,TN,TT', default: 'NN,NT,TN' },
  dtypes: { type: 'string', help: 'comma-separated from f32,bf16 (bf16: bf16 storage and compute)', default: 'f32,bf16' },
  torch: { type: 'boolean', help: 'also time torch.matmul (/usr/bin/python3 with torch) as the anchor' },
  json: { type: 'boolean', help: 'print one JSON object instead of a table' },
} satisfies FlagSpecs;

interface Row {
  M: number; N: number; K: number; layout: string; dtype: string;
  gflops: number; medianMs: number; torchGflops?: number;
}

type GemmFn = (batch: number, M: number, N: number, K: number, a: Float32Array | Uint16Array, transA: boolean,
  aStride: number, b: Float32Array | Uint16Array, transB: boolean, bStride: number, out: Float32Array,
  alpha: number, beta: number, bf16Compute: boolean) => void;

function parseList(flag: string, s: string, allowed?: readonly string[]): string[] {
  const items = s.split(',').map((x) => x.trim()).filter(Boolean);
  for (const x of items)
    if (allowed && !allowed.includes(x)) throw new UsageError(`[bench gemm] --${flag}: '${x}' is not one of ${allowed.join(',')}`);
  if (!items.length) throw new UsageError(`[bench gemm] --${flag} is empty`);
  return items;
}

function parseShape(s: string): [number, number, number] {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(s);
  if (!m) throw new UsageError(`[bench gemm] --shapes: '${s}' is not MxNxK`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function randomOperand(n: number, bf16: boolean, seed: number): Float32Array | Uint16Array {
  let s = seed >>> 0;
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;  // an LCG is plenty for benchmark data
    f[i] = s / 2147483648 - 1;
  }
  return bf16 ? Uint16Array.from(f, f32ToBf16Bits) : f;
}

// The anchor runs as one long-lived child that times a case whenever asked, so each torch figure is
// taken right after ours for the same case (the machine's load drifts; a separate pass would not compare).
const torchScript = String.raw`
import json, sys, time
try:
    import torch
except Exception as e:
    print(json.dumps({"error": "import torch failed: %s" % e}), flush=True); sys.exit(0)
torch.set_num_threads(int(sys.argv[1]))
print(json.dumps({"version": torch.__version__}), flush=True)
for line in sys.stdin:
    M, N, K, layout, dt, runs = json.loads(line)
    dtype = torch.float32 if dt == "f32" else torch.bfloat16
    # Stored layouts as ours: A is M×K or K×M (TN), B is K×N or N×K (NT); the transpose is a view.
    a = torch.rand(K, M, dtype=dtype).t() if layout[0] == "T" else torch.rand(M, K, dtype=dtype)
    b = torch.rand(N, K, dtype=dtype).t() if layout[1] == "T" else torch.rand(K, N, dtype=dtype)
    c = torch.empty(M, N, dtype=dtype)
    torch.matmul(a, b, out=c)
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter(); torch.matmul(a, b, out=c); ts.append(time.perf_counter() - t0)
    ts.sort()
    time.sleep(0.2)  # let any spinning BLAS/OpenMP threads go idle before ours run again
    print(json.dumps({"gflops": 2e-9 * M * N * K / ts[len(ts) // 2]}), flush=True)
`;

/** torch.matmul in a child /usr/bin/python3, one case per request; `error` says why it is unavailable. */
class TorchAnchor {
  version?: string;
  error?: string;
  private child?: ChildProcessWithoutNullStreams;
  private lines?: AsyncIterator<string>;

  async start(threads: number): Promise<void> {
    const n = String(threads);
    const child = spawn('/usr/bin/python3', ['-c', torchScript, n], {
      // PASSIVE: idle OpenMP threads sleep instead of spinning on the cores our timed calls need next.
      env: { ...process.env, OPENBLAS_NUM_THREADS: n, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n, OMP_WAIT_POLICY: 'PASSIVE' },
    });
    const spawned = new Promise<string | undefined>((resolve) => {
      child.once('error', (e) => resolve(`/usr/bin/python3: ${e.message}`));
      child.once('spawn', () => resolve(undefined));
    });
    const failed = await spawned;
    if (failed) return void (this.error = failed);
    this.child = child;
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const hello = await this.read();
    if (hello?.version) {
      this.version = String(hello.version);
    } else {
      this.error = String(hello?.error ?? 'the torch child exited before answering');
      this.stop();
    }
  }

  private async read(): Promise<Record<string, unknown> | undefined> {
    const r = await this.lines!.next();
    if (r.done) return undefined;
    try {
      return JSON.parse(r.value) as Record<string, unknown>;
    } catch {
      return { error: `unexpected output from the torch child: ${r.value.slice(0, 200)}` };
    }
  }

  async time(M: number, N: number, K: number, layout: string, dtype: string, runs: number): Promise<number | undefined> {
    if (!this.child) return undefined;
    this.child.stdin.write(JSON.stringify([M, N, K, layout, dtype, runs]) + '\n');
    const r = await this.read();
    return typeof r?.gflops === 'number' ? r.gflops : undefined;
  }

  stop(): void {
    this.child?.stdin.end();
    this.child = undefined;
  }
}

export async function benchGemm(argv: string[]): Promise<number> {
  const { flags: f } = parseArgs('bench gemm', argv, flags);
  if (f.help) {
    console.log(formatHelp('zhongjing bench gemm [flags]',
      'GFLOP/s of the native GEMM (2·M·N·K per call), median of --runs calls after one warm-up call.', flags));
    return 0;
  }
  const runs = Math.max(5, Math.floor(f.runs ?? 7));  // a median of fewer calls is mostly noise
  const shapes = parseList('shapes', f.shapes!).map(parseShape);
  const layouts = parseList('layouts', f.layouts!, ['NN', 'NT', 'TN', 'TT']);
  const dtypes = parseList('dtypes', f.dtypes!, ['f32', 'bf16']);

  const addon = loadAddon();
  const gemm = addon.gemm as GemmFn | undefined;
  if (typeof gemm !== 'function') throw new Error('[bench gemm] the native addon has no gemm');
  if (f.threads !== undefined) addon.setThreads(Math.max(1, Math.floor(f.threads)));
  const info = addon.info();

  const torch = f.torch ? new TorchAnchor() : undefined;
  await torch?.start(info.threads);
  const rows: Row[] = [];
  try {
    for (const [M, N, K] of shapes) {
      const out = new Float32Array(M * N);
      for (const dtype of dtypes) {
        const bf16 = dtype === 'bf16';
        const a = randomOperand(M * K, bf16, 1), b = randomOperand(K * N, bf16, 2);
        for (const layout of layouts) {
          const ta = layout[0] === 'T', tb = layout[1] === 'T';
          const call = () => gemm(1, M, N, K, a, ta, 0, b, tb, 0, out, 1, 0, bf16);
          call();  // warm-up: page in the scratch buffers and the output
          const ms: number[] = [];
          for (let r = 0; r < runs; r++) {
            const t0 = process.hrtime.bigint();
            call();
            ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
          }
          const med = median(ms);
          const row: Row = { M, N, K, layout, dtype, medianMs: med, gflops: (2 * M * N * K) / (med * 1e6) };
          const anchor = await torch?.time(M, N, K, layout, dtype, runs);
          if (anchor !== undefined) row.torchGflops = anchor;
          rows.push(row);
        }
      }
    }
  } finally {
    torch?.stop();
  }

  if (f.json) {
    console.log(JSON.stringify({ isa: info.isa, threads: info.threads, runs, rows, torch: torch && { version: torch.version, error: torch.error } }));
    return 0;
  }
  console.log(`native GEMM: isa ${info.isa}, ${info.threads} threads, median of ${runs} runs (GFLOP/s = 2·M·N·K / time)`);
  if (torch?.error) console.log(`torch: not available (${torch.error}); continuing without the anchor`);
  else if (torch) console.log(`torch ${torch.version}: torch.matmul on the same shapes right after ours, ${info.threads} threads`);
  const head = ['M×N×K', 'layout', 'dtype', 'ms', 'GFLOP/s', ...(torch && !torch.error ? ['torch', 'ours/torch'] : [])];
  const table = rows.map((r) => [`${r.M}×${r.N}×${r.K}`, r.layout, r.dtype, r.medianMs.toFixed(r.medianMs < 1 ? 3 : 2), r.gflops.toFixed(1),
    ...(torch && !torch.error ? [r.torchGflops?.toFixed(1) ?? '-', r.torchGflops ? (r.gflops / r.torchGflops).toFixed(2) : '-'] : [])]);
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(fmt(head));
  for (const t of table) console.log(fmt(t));
  return 0;
}
