// chat.ts — `zhongjing chat --model DIR`: talk to a model directory (adapters applied as adapters.json says) in
// the terminal, or answer one --prompt and exit. Sampling defaults come from generation_config.json; flags
// override them. Streams tokens as they come. A research tool, not a doctor: it prints that once.
// Piped stdin is one patient turn a line; --transcript keeps the consultation as JSONL (docs/data-formats.md).
// Flags, the terminal and the transcript file only: a turn is src/serve/chat-session.ts (serve's own guard and
// context window).
import { createInterface } from 'node:readline';
import { writeFileSync } from 'node:fs';
import { SafetyGuard } from '../serve/guard.js';
import { ChatSession, TurnRefused } from '../serve/chat-session.js';
import type { Command } from './command.js';
import { formatHelp, parseArgs, UsageError } from './args.js';
import { loadModel, tokenizerOf } from '../model/load.js';
import { parseWeightsOption, WEIGHTS_OPTIONS } from '../model/weights.js';
import { KV_CACHE_FLAG } from './decode-flags.js';
import type { KvCacheDType } from '../model/kv-cache.js';
import { resolveTemplate } from '../tokenizer/chat.js';

const flags = {
  model: { type: 'string', help: 'model directory (docs/model-directory.md) with tokenizer.json, or a llama.cpp .gguf file' },
  weights: { type: 'string', help: 'dtype of the weight matrices in memory: auto (the file\'s), f32, bf16, q8_0, q4_0 (made at load)', default: 'auto', choices: [...WEIGHTS_OPTIONS] },
  'kv-cache': KV_CACHE_FLAG,
  prompt: { type: 'string', help: 'answer this one message and exit (otherwise: interactive)' },
  system: { type: 'string', help: 'a system message to start the conversation with' },
  template: { type: 'string', help: 'chat template: the tokenizer_config.json one ("default"), ziya or chatml', default: 'default' },
  'max-new-tokens': { type: 'number', help: 'tokens per answer (default: generation_config.json, else 256)' },
  temperature: { type: 'number', help: 'sampling temperature; 0 = greedy (default: generation_config.json)' },
  'top-k': { type: 'number', help: 'keep the k most likely tokens (0 = off)' },
  'top-p': { type: 'number', help: 'nucleus sampling mass (1 = off)' },
  'repetition-penalty': { type: 'number', help: 'HF repetition penalty (Zhongjing served with 1.2)' },
  seed: { type: 'number', help: 'sampling seed', default: 0 },
  'no-adapters': { type: 'boolean', help: 'the base model only, adapters ignored' },
  safety: { type: 'string', help: 'red-flag guard: an urgent-care message first when the patient describes an emergency', choices: ['on', 'off'], default: 'on' },
  transcript: { type: 'string', help: 'write the consultation to this file as one JSONL conversation record (rewritten after each turn)' },
} as const;

export const chatCommand: Command = {
  name: 'chat',
  flags,
  summary: 'chat with a model directory in the terminal (or answer one --prompt)',
  async run(argv) {
    const { flags: f } = parseArgs('chat', argv, flags);
    if (f.help) {
      console.log(formatHelp('zhongjing chat --model DIR [--prompt TEXT] [--template default|ziya|chatml] [sampling flags]', this.summary, flags));
      return 0;
    }
    if (!f.model) throw new UsageError('[chat] --model is required');
    const md = loadModel(f.model, { adapters: !f['no-adapters'], weights: parseWeightsOption(f.weights, 'chat'), kvCache: f['kv-cache'] as KvCacheDType, forDecode: true });
    const tok = await tokenizerOf(md);
    if (!tok) throw new Error(`[chat] ${md.dir} has no tokenizer (tokenizer.json, or tokenizer.ggml.* in a GGUF file)`);
    const g = md.generation;
    const eos = new Set<number>([...(g.eosTokenIds ?? []), ...md.eosTokenIds]);
    const eosTok = tok.config.eosToken !== null ? tok.tokenToId(tok.config.eosToken) : undefined;
    if (eosTok !== undefined) eos.add(eosTok);
    const temperature = f.temperature ?? (g.doSample === false ? 0 : g.temperature ?? 0);
    resolveTemplate(tok, f.template!); // a missing template is reported as itself, not as a marker-probe failure
    let session: ChatSession;
    try {
      session = new ChatSession({
        model: md.model, tok, template: f.template!, guard: new SafetyGuard({ enabled: f.safety !== 'off', disclaimer: '' }),
        eosTokenIds: [...eos], ...(f.system ? { system: f.system } : {}),
        sampling: {
          maxNewTokens: f['max-new-tokens'] ?? g.maxNewTokens ?? 256,
          doSample: temperature > 0, temperature,
          topK: f['top-k'] ?? g.topK ?? 0, topP: f['top-p'] ?? g.topP ?? 1,
          repetitionPenalty: f['repetition-penalty'] ?? g.repetitionPenalty ?? 1, seed: f.seed!,
        },
      });
    } catch (e) {
      if (e instanceof TurnRefused) throw new UsageError(e.message);
      throw e;
    }
    const startedAt = new Date().toISOString().replace(/[:.]/g, '-');
    const saveTranscript = () => {
      if (!f.transcript) return;
      const rec = { id: `chat-${startedAt}`, messages: session.shown.map(({ role, content }) => ({ role, content })) };
      writeFileSync(f.transcript, JSON.stringify(rec) + '\n');
    };
    const answer = (content: string, write: (s: string) => void): void => {
      try {
        session.answer(content, write, (line) => process.stderr.write(line + '\n'));
      } catch (e) {
        if (e instanceof TurnRefused) throw new UsageError(e.message);
        throw e;
      }
      saveTranscript();
    };
    const write = (s: string) => { process.stdout.write(s); };
    if (f.prompt !== undefined) {
      answer(f.prompt, write);
      return 0;
    }
    console.log(`zhongjing chat — ${md.dir}${md.adapters.length ? ` (adapters: ${md.adapters.filter((a) => a.enabled).map((a) => a.name).join(', ') || 'none enabled'})` : ''}`);
    console.log('A research tool, not a doctor: nothing it says is medical advice. Empty line or Ctrl-D to quit.');
    // one turn a line, typed or piped; EOF (Ctrl-D, end of a pipe) or an empty line ends the consultation
    const tty = process.stdin.isTTY === true;
    const rl = createInterface({ input: process.stdin, ...(tty ? { output: process.stdout, prompt: '> ' } : {}), terminal: tty });
    try {
      if (tty) rl.prompt();
      for await (const line of rl) {
        if (!line.trim()) { if (tty) break; else continue; }
        try {
          answer(line, write);
        } catch (e) {
          if (!(e instanceof UsageError)) throw e;
          console.error(e.message); // the conversation goes on without that message
        }
        if (tty) rl.prompt();
      }
    } finally {
      rl.close();
    }
    return 0;
  },
};
