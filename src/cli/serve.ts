// serve.ts — `zhongjing serve --model DIR`: the OpenAI-compatible chat API and the consultation page until Ctrl-C.
// Thin: flags and printing only; the server is src/serve/.
import type { Command } from './command.js';
import { parseWeightsOption, WEIGHTS_OPTIONS } from '../model/weights.js';
import { KV_CACHE_FLAG } from './decode-flags.js';
import type { KvCacheDType } from '../model/kv-cache.js';
import { formatHelp, parseArgs, UsageError, type FlagSpecs } from './args.js';
import { serveModel } from '../serve/server.js';
import { DISCLAIMER } from '../serve/guard.js';

const flags = {
  model: { type: 'string', help: 'model directory (docs/model-directory.md), e.g. runs/demo/final, or a llama.cpp .gguf file' },
  weights: { type: 'string', help: 'dtype of the weight matrices in memory: auto (the file\'s), f32, bf16, q8_0, q4_0 (made at load)', default: 'auto', choices: [...WEIGHTS_OPTIONS] },
  'kv-cache': KV_CACHE_FLAG,
  port: { type: 'number', help: 'TCP port (0 = any free port)', default: 8000 },
  host: { type: 'string', help: 'address to bind; keep 127.0.0.1 unless a proxy with TLS is in front', default: '127.0.0.1' },
  'api-key': { type: 'string', help: 'require `Authorization: Bearer <key>` on /v1/* (also $ZJ_API_KEY)' },
  template: { type: 'string', help: "chat template: ziya|chatml|Jinja source (default: the model's tokenizer_config.json, else ziya)" },
  safety: { type: 'string', help: 'red-flag guard: an urgent-care message first when the patient describes an emergency', choices: ['on', 'off'], default: 'on' },
  disclaimer: { type: 'string', help: `text appended to every answer ('' for none; default: ${DISCLAIMER})` },
  'max-queue': { type: 'number', help: 'requests allowed to wait behind the running batch; more get 429', default: 32 },
  'max-batch': { type: 'number', help: 'most requests decoded together (1 = one at a time)', default: 16 },
  'max-tokens': { type: 'number', help: "largest max_tokens a request may ask for (default and upper bound: the model's context)" },
  'max-body-kb': { type: 'number', help: 'largest request body in KiB (413 above)', default: 256 },
  'allowed-hosts': { type: 'string', help: "comma-separated Host names to accept besides the bound address and loopback names (e.g. the proxy's name; '*' = any)" },
  quiet: { type: 'boolean', help: 'no per-request log lines' },
} satisfies FlagSpecs;

const usage = 'zhongjing serve --model DIR [--port N] [--host 127.0.0.1] [--api-key K] [--safety on|off]';
const summary = 'OpenAI-compatible chat API (/v1/chat/completions, /v1/models, /health) and a web consultation page';

export const serveCommand: Command = {
  name: 'serve',
  flags,
  summary,
  async run(argv) {
    const { flags: f, positional } = parseArgs('serve', argv, flags);
    if (f.help) { console.log(formatHelp(usage, summary, flags)); return 0; }
    if (positional.length) throw new UsageError(`[serve] unexpected argument '${positional[0]}' (the model goes in --model DIR)`);
    if (!f.model) throw new UsageError('[serve] --model DIR is required');
    for (const k of ['max-queue', 'max-batch', 'max-tokens', 'max-body-kb'] as const)
      if (f[k] !== undefined && !(Number.isInteger(f[k]) && f[k]! >= (k === 'max-queue' ? 0 : 1))) throw new UsageError(`[serve] --${k} must be a positive integer, got ${f[k]}`);
    const apiKey = f['api-key'] ?? process.env.ZJ_API_KEY;
    const allowedHosts = (f['allowed-hosts'] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
    console.error(`serve: loading ${f.model} …`);
    const s = await serveModel({
      modelDir: f.model, weights: parseWeightsOption(f.weights, 'serve'), kvCache: f['kv-cache'] as KvCacheDType, host: f.host!, port: f.port!, maxQueue: f['max-queue']!, maxBatch: f['max-batch']!,
      ...(apiKey ? { apiKey } : {}),
      ...(allowedHosts.length ? { allowedHosts } : {}),
      ...(f.template ? { template: f.template } : {}),
      guard: { enabled: f.safety !== 'off', ...(f.disclaimer !== undefined ? { disclaimer: f.disclaimer } : {}) },
      limits: { ...(f['max-tokens'] !== undefined ? { maxTokens: f['max-tokens'] } : {}), maxBodyBytes: f['max-body-kb']! * 1024 },
      ...(f.quiet ? {} : { log: (l: string) => console.log(l) }),
    });
    const i = s.engine.info;
    console.log(`serve: ${i.name} (${i.architecture}, ${(i.parameters / 1e6).toFixed(i.parameters < 1e7 ? 2 : 1)}M parameters, context ${i.maxPositions}, ${i.backend} backend × ${i.threads} threads)`);
    console.log(`serve: page ${s.url}/  ·  API ${s.url}/v1  ·  ${apiKey ? 'API key required' : 'no API key'}  ·  safety guard ${f.safety}; Ctrl-C stops`);
    await new Promise<void>((done) => {
      const stop = () => { process.off('SIGINT', stop); process.off('SIGTERM', stop); done(); };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await s.close();
    console.log('serve: stopped');
    return 0;
  },
};
