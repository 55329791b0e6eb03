// tokenizer.ts — `zhongjing tokenizer train | extend | encode | inspect`: thin CLI over src/tokenizer.
// Argument parsing and printing only; every behaviour lives in the tokenizer layer.

import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from './command.js';
import { formatHelp, parseArgs, UsageError, type FlagSpecs } from './args.js';
import { groupCommand } from './subcommands.js';
import { loadModelDir, saveModelDir } from '../model/model-dir.js';
import { resizeVocabulary } from '../model/resize.js';
import {
  BUILTIN_TEMPLATES, QWEN2_LLAMA_CPP_PRE, QWEN2_PATTERN, compressionReport, encodeChat, extendTokenizer, loadTokenizer,
  newTokenSources, readTextFiles, saveTokenizer, trainByteLevelBpe, type ChatMessage, type Tokenizer,
} from '../tokenizer/index.js';

function need<T>(v: T | undefined, cmd: string, flag: string): T {
  if (v === undefined || v === '') throw new UsageError(`[tokenizer ${cmd}] --${flag} is required (see \`zhongjing tokenizer ${cmd} --help\`)`);
  return v;
}

function files(cmd: string, positional: string[]): string[] {
  if (!positional.length) throw new UsageError(`[tokenizer ${cmd}] give at least one text file to learn from`);
  for (const f of positional) if (!existsSync(f)) throw new UsageError(`[tokenizer ${cmd}] no such file: ${f}`);
  return positional;
}

function progressLine(s: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r${s}\x1b[K`);
  else process.stderr.write(s + '\n');
}

const trainFlags = {
  out: { type: 'string', help: 'directory to write tokenizer.json and tokenizer_config.json into' },
  'vocab-size': { type: 'number', help: 'final vocabulary size, special tokens included', default: 32000 },
  'min-frequency': { type: 'number', help: 'never merge a pair seen fewer times', default: 2 },
  special: { type: 'string', help: 'comma-separated special tokens (ids 0, 1, ...)', default: '<unk>,<s>,</s>,<pad>' },
  bos: { type: 'string', help: 'the BOS token (one of --special)', default: '<s>' },
  eos: { type: 'string', help: 'the EOS token (one of --special)', default: '</s>' },
  pad: { type: 'string', help: 'the padding token (one of --special)', default: '<pad>' },
  'chat-template': { type: 'string', help: 'built-in chat template stored in tokenizer_config.json', default: 'ziya', choices: [...Object.keys(BUILTIN_TEMPLATES), 'none'] },
} as const satisfies FlagSpecs;

async function train(argv: string[]): Promise<number> {
  const { flags: f, positional } = parseArgs('tokenizer train', argv, trainFlags);
  if (f.help) {
    console.log(formatHelp('zhongjing tokenizer train --out DIR [flags] FILE...', 'Train a byte-level BPE tokenizer on UTF-8 text files.\n' +
      `Pre-tokenizer: the Qwen2 split (llama.cpp tokenizer.ggml.pre = "${QWEN2_LLAMA_CPP_PRE}"), individual digits, no normalizer.`, trainFlags));
    return 0;
  }
  const out = need(f.out, 'train', 'out');
  const paths = files('train', positional);
  const specials = f.special!.split(',').map((s) => s.trim()).filter(Boolean);
  const t0 = Date.now();
  const tok = await trainByteLevelBpe(readTextFiles(paths), {
    vocabSize: f['vocab-size']!, minFrequency: f['min-frequency']!, specialTokens: specials,
    bosToken: specials.includes(f.bos!) ? f.bos! : null, eosToken: specials.includes(f.eos!) ? f.eos! : null, padToken: specials.includes(f.pad!) ? f.pad! : null,
    onProgress: (p) => progressLine(p.phase === 'count'
      ? `counting: ${(p.bytes / 1e6).toFixed(1)} M chars, ${p.words} distinct pre-tokens`
      : `merging: ${p.merges}/${p.total} (best pair seen ${p.bestCount}×)`),
  });
  if (f['chat-template'] !== 'none') tok.config.chatTemplate = BUILTIN_TEMPLATES[f['chat-template']!]!;
  await saveTokenizer(tok, out);
  if (process.stderr.isTTY) process.stderr.write('\n');
  console.log(`trained ${tok.vocabSize} tokens (${tok.model.merges.length} merges) in ${((Date.now() - t0) / 1000).toFixed(1)} s → ${out}`);
  if (tok.vocabSize < f['vocab-size']!) console.log(`note: the text supports only ${tok.vocabSize} tokens at --min-frequency ${f['min-frequency']}`);
  return 0;
}

const extendFlags = {
  base: { type: 'string', help: 'tokenizer directory (or tokenizer.json) to extend' },
  out: { type: 'string', help: 'directory for the extended tokenizer and extension.json' },
  'new-tokens': { type: 'number', help: 'how many tokens to add at most', default: 8000 },
  'min-frequency': { type: 'number', help: 'skip pairs / characters seen fewer times', default: 2 },
  'held-out': { type: 'string', help: 'text file for the chars/token report (default: every 20th line, not learned from)' },
} as const satisfies FlagSpecs;

async function extend(argv: string[]): Promise<number> {
  const { flags: f, positional } = parseArgs('tokenizer extend', argv, extendFlags);
  if (f.help) {
    console.log(formatHelp('zhongjing tokenizer extend --base DIR --out DIR [flags] FILE...',
      'Learn domain tokens and append them without changing any existing id or merge.\n' +
      'Writes extension.json: the new ids and, for each, the old ids it replaces (to initialise embedding rows from their mean).', extendFlags));
    return 0;
  }
  const base = await loadTokenizer(need(f.base, 'extend', 'base'));
  const out = need(f.out, 'extend', 'out');
  const paths = files('extend', positional);
  const learn: string[] = [];
  let heldOut: string[] = [];
  let line = 0;
  for await (const chunk of readTextFiles(paths)) {
    for (const l of chunk.split('\n')) {
      if (!f['held-out'] && ++line % 20 === 0) heldOut.push(l); else learn.push(l + '\n');
    }
  }
  if (f['held-out']) heldOut = (await readFile(f['held-out'], 'utf8')).split('\n');
  heldOut = heldOut.filter((l) => l.trim());
  const { tokenizer, newIds } = await extendTokenizer(base, learn, {
    newTokens: f['new-tokens']!, minFrequency: f['min-frequency']!,
    onProgress: (p) => { if (p.phase === 'merge') progressLine(`adding tokens: ${p.added}/${p.total}`); },
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  await saveTokenizer(tokenizer, out);
  const r = compressionReport(base, tokenizer, heldOut);
  const sources = Object.fromEntries([...newTokenSources(base, tokenizer)].map(([id, olds]) => [id, olds]));
  await writeFile(join(out, 'extension.json'), JSON.stringify({ baseVocabSize: base.vocabSize, newIds, sources, charsPerToken: r }) + '\n');
  console.log(`added ${newIds.length} tokens: vocabulary ${base.vocabSize} → ${tokenizer.vocabSize}`);
  console.log(`chars/token on ${heldOut.length} held-out lines (${r.heldOutChars} chars): ${r.before.toFixed(3)} → ${r.after.toFixed(3)}`);
  return 0;
}

const encodeFlags = {
  tokenizer: { type: 'string', help: 'tokenizer directory or tokenizer.json' },
  text: { type: 'string', help: 'text to encode (else --file, else --messages)' },
  file: { type: 'string', help: 'UTF-8 file to encode' },
  messages: { type: 'string', help: 'JSON file with [{role, content}, ...]: render with --template, print ids and assistant mask' },
  template: { type: 'string', help: "chat template: ziya, chatml, 'default' (tokenizer_config.json's) or Jinja source", default: 'default' },
  'generation-prompt': { type: 'boolean', help: 'end the chat render with the generation prompt (serving)' },
  tokens: { type: 'boolean', help: 'print the token strings next to the ids' },
  'add-special': { type: 'boolean', help: "add what the tokenizer's post-processor adds (e.g. <s>)" },
} as const satisfies FlagSpecs;

async function encode(argv: string[]): Promise<number> {
  const { flags: f, positional } = parseArgs('tokenizer encode', argv, encodeFlags);
  if (f.help) { console.log(formatHelp('zhongjing tokenizer encode --tokenizer DIR (--text T | --file F | --messages M.json)', 'Print token ids (JSON).', encodeFlags)); return 0; }
  if (positional.length) throw new UsageError(`[tokenizer encode] unexpected argument '${positional[0]}' (text goes in --text)`);
  const tok = await loadTokenizer(need(f.tokenizer, 'encode', 'tokenizer'));
  if (f.messages) {
    let messages: ChatMessage[];
    try { messages = JSON.parse(await readFile(f.messages, 'utf8')); } catch (e) { throw new Error(`[tokenizer encode] ${f.messages}: ${(e as Error).message}`); }
    if (!Array.isArray(messages)) throw new Error(`[tokenizer encode] ${f.messages}: expected a JSON array of {role, content}`);
    const r = encodeChat(tok, f.template!, messages, f['generation-prompt'] ? { addGenerationPrompt: true } : {});
    console.log(JSON.stringify({ text: r.text, ids: r.ids, assistantMask: [...r.assistantMask], ...(f.tokens ? { tokens: r.ids.map((i) => tok.idToToken(i)) } : {}) }));
    return 0;
  }
  const text = f.text ?? (f.file ? await readFile(f.file, 'utf8') : undefined);
  if (text === undefined) throw new UsageError('[tokenizer encode] give --text, --file or --messages');
  const ids = tok.encode(text, { addSpecialTokens: f['add-special'] ?? false });
  console.log(JSON.stringify(f.tokens ? { ids, tokens: ids.map((i) => tok.idToToken(i)) } : ids));
  return 0;
}

const inspectFlags = {
  tokenizer: { type: 'string', help: 'tokenizer directory or tokenizer.json' },
  json: { type: 'boolean', help: 'print one JSON object' },
} as const satisfies FlagSpecs;

function describe(tok: Tokenizer): Record<string, unknown> {
  const m = tok.model;
  const pre = JSON.stringify(tok.parts.preTokenizer ?? null);
  const longest = [...m.idToToken.keys()].filter((i) => m.idToToken[i]).sort((a, b) => tok.decode([b]).length - tok.decode([a]).length).slice(0, 10);
  return {
    kind: m.byteLevel ? 'byte-level BPE' : m.byteFallback ? 'SentencePiece-style BPE with byte fallback' : 'BPE',
    vocabSize: tok.vocabSize,
    merges: m.merges.length,
    llamaCppPre: pre.includes(JSON.stringify(QWEN2_PATTERN).slice(1, -1)) ? QWEN2_LLAMA_CPP_PRE : 'unknown (not the Qwen2 split)',
    addedTokens: tok.addedTokens.map((t) => ({ id: t.id, content: t.content, special: t.special })),
    bos: tok.config.bosToken, eos: tok.config.eosToken, pad: tok.config.padToken, unk: tok.config.unkToken,
    chatTemplate: tok.config.chatTemplate === null ? null : Object.entries(BUILTIN_TEMPLATES).find(([, s]) => s === tok.config.chatTemplate)?.[0] ?? 'custom Jinja',
    longestTokens: longest.map((i) => tok.decode([i])),
  };
}

async function inspect(argv: string[]): Promise<number> {
  const { flags: f, positional } = parseArgs('tokenizer inspect', argv, inspectFlags);
  if (f.help) { console.log(formatHelp('zhongjing tokenizer inspect --tokenizer DIR [--json]', 'Summarise a tokenizer: kind, sizes, special tokens, template, llama.cpp pre-tokenizer type.', inspectFlags)); return 0; }
  const path = f.tokenizer ?? positional[0];
  const d = describe(await loadTokenizer(need(path, 'inspect', 'tokenizer')));
  if (f.json) console.log(JSON.stringify(d));
  else for (const [k, v] of Object.entries(d)) console.log(`${k.padEnd(14)}${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return 0;
}

const resizeFlags = {
  model: { type: 'string', help: 'model directory trained with the old tokenizer' },
  tokenizer: { type: 'string', help: 'the extended tokenizer directory (with extension.json from `tokenizer extend`)' },
  out: { type: 'string', help: 'where to write the resized model directory' },
} as const satisfies FlagSpecs;

async function resizeModel(argv: string[]): Promise<number> {
  const { flags: f, positional } = parseArgs('tokenizer resize-model', argv, resizeFlags);
  if (f.help) {
    console.log(formatHelp('zhongjing tokenizer resize-model --model DIR --tokenizer EXTENDED_DIR --out DIR',
      'Grow the embedding and LM head to the extended vocabulary: old rows kept, each new row the mean of the old\nrows of the tokens it replaces. The extended tokenizer is copied into the new model directory.', resizeFlags));
    return 0;
  }
  if (positional.length) throw new UsageError(`[tokenizer resize-model] unexpected argument '${positional[0]}'`);
  const tdir = need(f.tokenizer, 'resize-model', 'tokenizer');
  let ext: { baseVocabSize: number; sources: Record<string, number[]> };
  try { ext = JSON.parse(await readFile(join(tdir, 'extension.json'), 'utf8')); } catch (e) { throw new Error(`[tokenizer resize-model] ${join(tdir, 'extension.json')}: ${(e as Error).message}`); }
  const tok = await loadTokenizer(tdir);
  const md = loadModelDir(need(f.model, 'resize-model', 'model'), { adapters: false, weights: 'f32' }); // resizing writes new f32 rows
  if (md.model.config.vocabSize !== ext.baseVocabSize)
    console.error(`[tokenizer resize-model] note: the model has ${md.model.config.vocabSize} rows, the base tokenizer had ${ext.baseVocabSize}`);
  const sources = new Map(Object.entries(ext.sources).map(([k, v]) => [Number(k), v]));
  const resized = resizeVocabulary(md.model, Math.max(tok.vocabSize, md.model.config.vocabSize), sources, Math.min(ext.baseVocabSize, md.model.config.vocabSize));
  saveModelDir(need(f.out, 'resize-model', 'out'), resized, { architecture: md.architecture, eosTokenIds: md.eosTokenIds, padTokenId: md.padTokenId,
    generation: md.generation, tokenizerFrom: tdir, valueHead: md.valueHead });
  console.log(`resized ${md.model.config.vocabSize} → ${resized.config.vocabSize} rows (${sources.size} initialised from their old tokens); wrote ${f.out}`);
  return 0;
}

export const tokenizerCommand: Command = groupCommand('tokenizer', {
  summary: 'BPE tokenizers: train, extend, encode, inspect, resize-model',
  subcommands: {
    train: { summary: 'train a byte-level BPE tokenizer on text files', flags: trainFlags, run: train },
    extend: { summary: 'add domain tokens to a tokenizer without moving existing ids', flags: extendFlags, run: extend },
    encode: { summary: 'print ids for text, or ids + assistant mask for a chat', flags: encodeFlags, run: encode },
    inspect: { summary: 'summarise a tokenizer directory', flags: inspectFlags, run: inspect },
    'resize-model': { summary: 'grow a model\'s embedding and LM head to an extended tokenizer (mean-initialised new rows)', flags: resizeFlags, run: resizeModel },
  },
});
