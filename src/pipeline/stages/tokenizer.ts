// tokenizer.ts — stage `tokenizer`: a byte-level BPE trained on the run's text, or an existing tokenizer.json (a
// downloaded model's own: no training), saved with tokenizer_config.json whose chat_template is the run's template
// (`model` keeps the tokenizer's own), so training and serving render conversations identically. With
// tokenizer.extend, up to N tokens learned on the pretraining corpus are appended to the model's own (no id moves,
// special tokens and chat template as they were); extension.json tells the pretrain stage how to fill their rows.
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunContext } from '../context.js';
import { input, markDone, readJsonl, resetStage } from '../context.js';
import { atomicWriteJson } from '../../model/atomic.js';
import { compressionReport, extendTokenizer, loadTokenizer, newTokenSources, saveTokenizer, trainByteLevelBpe, BUILTIN_TEMPLATES, type Tokenizer } from '../../tokenizer/index.js';
import type { Conversation } from '../../data/index.js';
import { DATA_FILES } from './data.js';

export const EOS_TOKEN = '<|endoftext|>';

/** tokenizer/extension.json: what `zhongjing tokenizer extend` writes too (the pretrain stage and resize-model read it) */
export interface ExtensionFile {
  baseVocabSize: number;
  newIds: number[];
  /** new id → the old ids its text encoded to (resize.ts averages their rows) */
  sources: Record<string, number[]>;
  charsPerToken: { before: number; after: number; heldOutChars: number };
  /** tokens of the pretraining corpus (documents and dialogues as plain text) before and after */
  corpusTokens: { before: number; after: number };
}
export const EXTENSION_FILE = 'extension.json';

export async function runTokenizer(ctx: RunContext): Promise<Record<string, unknown>> {
  const pre = readJsonl<{ text: string }>(input(ctx, 'data', DATA_FILES.pretrain, 'tokenizer'));
  const train = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.train, 'tokenizer'));
  const dev = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.dev, 'tokenizer'));
  const dir = resetStage(ctx, 'tokenizer');
  const { cfg } = ctx;
  let tok: Tokenizer;
  let extension: ExtensionFile | null = null;
  if (cfg.tokenizer.from) {
    const src = cfg.tokenizer.from;
    const path = existsSync(join(src, 'tokenizer.json')) ? join(src, 'tokenizer.json') : src;
    tok = await loadTokenizer(path);
    if (existsSync(join(src, 'tokenizer_config.json'))) copyFileSync(join(src, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
    if (cfg.tokenizer.extend) {
      // the corpus the pretrain stage packs (documents, then dialogues as plain text), so the new tokens are its words
      const corpus = [...pre.map((d) => d.text), ...train.map((c) => c.turns.map((t) => t.text).join('\n'))];
      const held = dev.flatMap((c) => c.turns.map((t) => t.text));
      const x = cfg.tokenizer.extend;
      const { tokenizer, newIds } = await extendTokenizer(tok, corpus, { newTokens: x.tokens, minFrequency: x.minFrequency });
      const count = (t: Tokenizer) => corpus.reduce((n, s) => n + t.encode(s).length, 0);
      extension = { baseVocabSize: tok.vocabSize, newIds, sources: Object.fromEntries(newTokenSources(tok, tokenizer)),
        charsPerToken: compressionReport(tok, tokenizer, held), corpusTokens: { before: count(tok), after: count(tokenizer) } };
      ctx.log(`[tokenizer] extended ${tok.vocabSize} → ${tokenizer.vocabSize} tokens (${newIds.length} learned on the pretraining corpus, asked ${x.tokens}); ` +
        `corpus ${extension.corpusTokens.before} → ${extension.corpusTokens.after} tokens`);
      tok = tokenizer;
    }
  } else {
    const texts = [...pre.map((d) => d.text), ...train.flatMap((c) => c.turns.map((t) => t.text))];
    tok = await trainByteLevelBpe(texts, { vocabSize: cfg.tokenizer.vocabSize!, specialTokens: [EOS_TOKEN], eosToken: EOS_TOKEN, padToken: EOS_TOKEN });
  }
  if (cfg.tokenizer.template === 'model') {
    if (tok.config.chatTemplate === null)
      throw new Error(`[tokenizer] tokenizer.template is 'model' but ${cfg.tokenizer.from}'s tokenizer_config.json has no chat_template: set tokenizer.template to ziya or chatml`);
  } else tok.config = { ...tok.config, chatTemplate: BUILTIN_TEMPLATES[cfg.tokenizer.template]!, chatTemplates: {} };
  await saveTokenizer(tok, dir);
  if (extension) atomicWriteJson(join(dir, EXTENSION_FILE), extension);
  // compression on held-out text: characters per token
  const held = dev.flatMap((c) => c.turns.map((t) => t.text)).join('\n');
  const ids = tok.encode(held);
  const summary = { vocabSize: tok.vocabSize, template: cfg.tokenizer.template, charsPerToken: ids.length ? [...held].length / ids.length : 0,
    ...(extension ? { extended: { added: extension.newIds.length, from: extension.baseVocabSize, corpusTokens: extension.corpusTokens } } : {}) };
  markDone(ctx, 'tokenizer', summary);
  return summary;
}

export async function runTokenizerOf(ctx: RunContext, by: Parameters<typeof input>[3]): Promise<Tokenizer> {
  return loadTokenizer(input(ctx, 'tokenizer', 'tokenizer.json', by));
}
