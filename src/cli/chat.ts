// chat.ts — `zhongjing chat --model DIR`: talk to a model directory (adapters applied as adapters.json says) in
// the terminal, or answer one --prompt and exit. Sampling defaults come from generation_config.json; flags
// override them. Streams tokens as they come. A research tool, not a doctor: it prints that once.
// No serving, no history files: the conversation lives in memory for the session.
import { createInterface } from 'node:readline/promises';
import type { Command } from './command.js';
import { formatHelp, parseArgs, UsageError } from './args.js';
import { loadModel, tokenizerOf } from '../model/load.js';
import { parseWeightsOption, WEIGHTS_OPTIONS } from '../model/weights.js';
import { generate, type GenerateOptions } from '../model/generate.js';
import { renderChat, type ChatMessage, type Tokenizer } from '../tokenizer/index.js';
import { resolveTemplate } from '../tokenizer/chat.js';
import { describeInjection, findInjection, injectionMarkers } from '../tokenizer/injection.js';

const flags = {
  model: { type: 'string', help: 'model directory (docs/model-directory.md) with tokenizer.json, or a llama.cpp .gguf file' },
  weights: { type: 'string', help: 'dtype of the weight matrices in memory: auto (the file\'s), f32, bf16, q8_0, q4_0 (made at load)', default: 'auto', choices: [...WEIGHTS_OPTIONS] },
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
} as const;

/** The text of ids, holding back a trailing incomplete UTF-8 sequence (shown once the next token completes it). */
function stableText(tok: Tokenizer, ids: number[]): string {
  const t = tok.decode(ids, { skipSpecialTokens: true });
  return t.endsWith('\uFFFD') ? t.slice(0, t.lastIndexOf('\uFFFD')) : t;
}

export const chatCommand: Command = {
  name: 'chat',
  summary: 'chat with a model directory in the terminal (or answer one --prompt)',
  async run(argv) {
    const { flags: f } = parseArgs('chat', argv, flags);
    if (f.help) {
      console.log(formatHelp('zhongjing chat --model DIR [--prompt TEXT] [--template default|ziya|chatml] [sampling flags]', this.summary, flags));
      return 0;
    }
    if (!f.model) throw new UsageError('[chat] --model is required');
    const md = loadModel(f.model, { adapters: !f['no-adapters'], weights: parseWeightsOption(f.weights, 'chat') });
    const tok = await tokenizerOf(md);
    if (!tok) throw new Error(`[chat] ${md.dir} has no tokenizer (tokenizer.json, or tokenizer.ggml.* in a GGUF file)`);
    const g = md.generation;
    const eos = new Set<number>([...(g.eosTokenIds ?? []), ...md.eosTokenIds]);
    const eosTok = tok.config.eosToken !== null ? tok.tokenToId(tok.config.eosToken) : undefined;
    if (eosTok !== undefined) eos.add(eosTok);
    const temperature = f.temperature ?? (g.doSample === false ? 0 : g.temperature ?? 0);
    const base: Omit<GenerateOptions, 'onToken'> = {
      maxNewTokens: f['max-new-tokens'] ?? g.maxNewTokens ?? 256,
      doSample: temperature > 0, temperature,
      topK: f['top-k'] ?? g.topK ?? 0, topP: f['top-p'] ?? g.topP ?? 1,
      repetitionPenalty: f['repetition-penalty'] ?? g.repetitionPenalty ?? 1,
      eosTokenIds: [...eos], seed: f.seed!,
      decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
    };
    const template = f.template!;
    const messages: ChatMessage[] = f.system ? [{ role: 'system', content: f.system }] : [];
    // typed text must stay text: a turn marker or special token in it would forge a turn of the conversation
    resolveTemplate(tok, template); // a missing template is reported as itself, not as a marker-probe failure
    const markers = injectionMarkers(tok, template);
    const refused = (content: string, index: number): string | null => {
      const inj = findInjection([{ content }], markers);
      return inj ? `[chat] refused: ${describeInjection({ ...inj, index })}` : null;
    };
    if (f.system && refused(f.system, 0)) throw new UsageError(refused(f.system, 0)!.replace('messages[0].content', '--system'));
    const answer = (content: string, write: (s: string) => void): string => {
      const why = refused(content, messages.length);
      if (why) throw new UsageError(why);
      messages.push({ role: 'user', content });
      const ids = tok.encode(renderChat(tok, template, messages, { addGenerationPrompt: true }));
      const max = md.model.config.maxPositions - base.maxNewTokens;
      if (ids.length > max) throw new Error(`[chat] the conversation is ${ids.length} tokens; at most ${max} fit before ${base.maxNewTokens} new ones`);
      let shown = '';
      const out: number[] = [];
      const r = generate(md.model, [ids], {
        ...base, seed: base.seed! + messages.length,
        onToken: (e) => {
          if (eos.has(e.id)) return;
          out.push(e.id);
          const t = stableText(tok, out);
          write(t.slice(shown.length));
          shown = t;
        },
      });
      const text = tok.decode(r.ids[0]!.filter((id) => !eos.has(id)), { skipSpecialTokens: true });
      write(text.slice(shown.length) + '\n');
      messages.push({ role: 'assistant', content: text });
      return text;
    };
    const write = (s: string) => { process.stdout.write(s); };
    if (f.prompt !== undefined) {
      answer(f.prompt, write);
      return 0;
    }
    console.log(`zhongjing chat — ${md.dir}${md.adapters.length ? ` (adapters: ${md.adapters.filter((a) => a.enabled).map((a) => a.name).join(', ') || 'none enabled'})` : ''}`);
    console.log('A research tool, not a doctor: nothing it says is medical advice. Empty line or Ctrl-D to quit.');
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      for (;;) {
        let line: string;
        try { line = await rl.question('> '); } catch { break; } // closed input
        if (!line.trim()) break;
        try {
          answer(line, write);
        } catch (e) {
          if (!(e instanceof UsageError)) throw e;
          console.error(e.message); // the conversation goes on without that message
        }
      }
    } finally {
      rl.close();
    }
    return 0;
  },
};
