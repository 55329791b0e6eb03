// index.ts — the tokenizer layer's public surface: train, load/save, encode/decode, chat rendering with the training
// mask, vocabulary extension. Import from here rather than from the files behind it.

export { Tokenizer, type AddedToken, type EncodeOptions, type TokenizerConfig } from './tokenizer.js';
export { trainByteLevelBpe, readTextFiles, type TrainOptions, type TrainProgress, type TextSource } from './train.js';
export { loadTokenizer, saveTokenizer, tokenizerFromJson, tokenizerToJson, parseTokenizerConfig, configToJson } from './tokenizer-json.js';
export { renderChat, renderTemplate, resolveTemplate, BUILTIN_TEMPLATES, ZIYA_TEMPLATE, CHATML_TEMPLATE,
  type ChatMessage, type ChatOptions } from './chat.js';
export { encodeChat, type ChatEncoding } from './chat-mask.js';
export { extendTokenizer, newTokenSources, compressionReport, type ExtendOptions, type ExtendResult, type CompressionReport } from './extend.js';
export { QWEN2_PATTERN, QWEN2_LLAMA_CPP_PRE } from './pre-tokenize.js';
