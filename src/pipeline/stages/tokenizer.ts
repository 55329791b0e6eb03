// tokenizer.ts — stage `tokenizer`: a byte-level BPE trained on the run's text, or an existing tokenizer.json (a
// downloaded model's own: no training), saved with tokenizer_config.json whose chat_template is the run's template
// (`model` keeps the tokenizer's own), so training and serving render conversations identically.
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunContext } from '../context.js';
import { input, markDone, readJsonl, resetStage } from '../context.js';
import { loadTokenizer, saveTokenizer, trainByteLevelBpe, BUILTIN_TEMPLATES, type Tokenizer } from '../../tokenizer/index.js';
import type { Conversation } from '../../data/index.js';
import { DATA_FILES } from './data.js';

export const EOS_TOKEN = '<|endoftext|>';

export async function runTokenizer(ctx: RunContext): Promise<Record<string, unknown>> {
  const pre = readJsonl<{ text: string }>(input(ctx, 'data', DATA_FILES.pretrain, 'tokenizer'));
  const train = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.train, 'tokenizer'));
  const dev = readJsonl<Conversation>(input(ctx, 'data', DATA_FILES.dev, 'tokenizer'));
  const dir = resetStage(ctx, 'tokenizer');
  const { cfg } = ctx;
  let tok: Tokenizer;
  if (cfg.tokenizer.from) {
    const src = cfg.tokenizer.from;
    const path = existsSync(join(src, 'tokenizer.json')) ? join(src, 'tokenizer.json') : src;
    tok = await loadTokenizer(path);
    if (existsSync(join(src, 'tokenizer_config.json'))) copyFileSync(join(src, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  } else {
    const texts = [...pre.map((d) => d.text), ...train.flatMap((c) => c.turns.map((t) => t.text))];
    tok = await trainByteLevelBpe(texts, { vocabSize: cfg.tokenizer.vocabSize, specialTokens: [EOS_TOKEN], eosToken: EOS_TOKEN, padToken: EOS_TOKEN });
  }
  if (cfg.tokenizer.template === 'model') {
    if (tok.config.chatTemplate === null)
      throw new Error(`[tokenizer] tokenizer.template is 'model' but ${cfg.tokenizer.from}'s tokenizer_config.json has no chat_template: set tokenizer.template to ziya or chatml`);
  } else tok.config = { ...tok.config, chatTemplate: BUILTIN_TEMPLATES[cfg.tokenizer.template]!, chatTemplates: {} };
  await saveTokenizer(tok, dir);
  // compression on held-out text: characters per token
  const held = dev.flatMap((c) => c.turns.map((t) => t.text)).join('\n');
  const ids = tok.encode(held);
  const summary = { vocabSize: tok.vocabSize, template: cfg.tokenizer.template, charsPerToken: ids.length ? [...held].length / ids.length : 0 };
  markDone(ctx, 'tokenizer', summary);
  return summary;
}

export async function runTokenizerOf(ctx: RunContext, by: Parameters<typeof input>[3]): Promise<Tokenizer> {
  return loadTokenizer(input(ctx, 'tokenizer', 'tokenizer.json', by));
}
