// local-model.ts — the one adapter from a model directory to chat answers: the chat template, BOS where the
// tokenizer asks, batched KV-cache generation, plus a log-likelihood function for MCQs and a token log-prob
// function for perplexity. `zhongjing eval`, the consult loop and the pipeline's sample / eval / report stages all
// load models through here (each once per use). Training-time prompt ids for pair data use `promptIds` below.
import type { ModelDir } from '../model/model-dir.js';
import { loadModel, tokenizerOf } from '../model/load.js';
import type { WeightsOption } from '../model/weights.js';
import type { KvCacheDType } from '../model/kv-cache.js';
import { generate, logSoftmaxAt, type SamplingOptions } from '../model/generate.js';
import { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import { noGrad } from '../autograd/grad-mode.js';
import { renderChat } from '../tokenizer/chat.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { Turn } from '../data/types.js';
import type { Answerer } from './generate.js';
import type { LogLikelihoodFn } from './mcq.js';
import type { TokenLogProbFn } from './perplexity.js';

export interface LocalModelOptions extends SamplingOptions {
  /** chat template: 'ziya' (Zhongjing's), 'chatml', 'default' (tokenizer_config.json's) or Jinja source */
  template?: string;
  maxNewTokens?: number;
  seed?: number;
  /** dtype of the weight matrices (model/weights.ts; default auto) */
  weights?: WeightsOption;
  /** what the decoding KV cache holds keys and values as (model/kv-cache.ts; default f32) */
  kvCache?: KvCacheDType;
  /** name used in answer caches and reports (default: the directory) */
  name?: string;
}

/** Per-call generation settings of `answerAll`; unset keys fall back to the load options, then generation_config.json. */
export interface AnswerOptions extends SamplingOptions {
  maxNewTokens?: number;
  seed?: number;
  /** prompts per left-padded generation batch (default 8); batch i·batchSize samples with seed + i·batchSize */
  batchSize?: number;
}

export interface LocalModel {
  dir: ModelDir;
  tokenizer: Tokenizer;
  template: string;
  /** ids that end an answer (generation_config.json's, else the model directory's) */
  eos: number[];
  answerer: Answerer;
  /** the generation prompt of a conversation ending with the patient's turn: rendered, BOS added when the tokenizer
   * asks, the oldest context cut when it would not leave maxNewTokens of room in the window */
  promptIds(turns: Turn[]): number[];
  /** answers to many conversations, in batches: what the pipeline's stages call */
  answerAll(convs: Turn[][], o?: AnswerOptions): string[];
  logLikelihood: LogLikelihoodFn;
  tokenLogProbs: TokenLogProbFn;
}

/** Ids of the conversation rendered up to the assistant's turn, without BOS or cutting (training pairs' prompts). */
export function promptIds(m: { tok: Tokenizer; template: string }, turns: Turn[]): number[] {
  return m.tok.encode(renderChat(m.tok, m.template, turns.map((t) => ({ role: t.role, content: t.text })), { addGenerationPrompt: true }));
}

/** Log-softmax values of `ids[t+1]` after `ids[0..t]` for t in [from-1, ids.length-1): one forward pass. */
function continuationLogProbs(md: ModelDir, ids: number[], from: number): number[] {
  const T = ids.length, V = md.model.config.vocabSize;
  return noGrad(() => {
    const logitsT = tidy(() => {
      const x = Tensor.empty([1, T], 'i32');
      (x.data as Int32Array).set(ids);
      return md.model.forward({ ids: x }); // (1, T, V)
    });
    try {
      const logits = logitsT.f32('eval local-model');
      const out: number[] = [];
      for (let t = Math.max(1, from); t < T; t++) out.push(logSoftmaxAt(logits.subarray((t - 1) * V, t * V), ids[t]!));
      return out;
    } finally {
      logitsT.dispose();
    }
  });
}

const SAMPLING_KEYS = ['doSample', 'temperature', 'topK', 'topP', 'repetitionPenalty'] as const;

export async function loadLocalModel(path: string, opts: LocalModelOptions = {}): Promise<LocalModel> {
  const md = loadModel(path, { weights: opts.weights ?? 'auto', kvCache: opts.kvCache ?? 'f32', forDecode: true });
  const tok = await tokenizerOf(md);
  if (!tok) throw new Error(`[eval local-model] ${md.dir}: no tokenizer (tokenizer.json, or tokenizer.ggml.* in a GGUF file)`);
  const template = opts.template ?? (tok.config.chatTemplate ? 'default' : 'ziya');
  const maxPos = md.model.config.maxPositions;
  // BOS is prepended exactly when the tokenizer asks for it (HF's add_bos_token), the same for every function here
  const bosId = md.model.config.bosTokenId ?? md.generation.bosTokenId;
  const bos = tok.config.addBosToken ? bosId : undefined;
  const eos = md.generation.eosTokenIds ?? md.eosTokenIds;
  const maxNewOf = (o: AnswerOptions) => o.maxNewTokens ?? opts.maxNewTokens ?? md.generation.maxNewTokens ?? 256;

  const promptOf = (messages: Turn[], maxNew: number): number[] => {
    let ids = promptIds({ tok, template }, messages);
    if (bos !== undefined && ids[0] !== bos) ids = [bos, ...ids];
    // keep the most recent context when the dialogue is longer than the model's window
    if (ids.length + maxNew > maxPos) ids = ids.slice(Math.max(0, ids.length - (maxPos - maxNew)));
    if (ids.length === 0) throw new Error(`[eval local-model] maxNewTokens ${maxNew} leaves no room for the prompt in ${maxPos} positions`);
    return ids;
  };
  const genOpts = (o: AnswerOptions, seed: number): Parameters<typeof generate>[2] => {
    const g: Parameters<typeof generate>[2] = {
      maxNewTokens: maxNewOf(o), eosTokenIds: eos, decode: (x) => tok.decode(x, { skipSpecialTokens: true }), seed,
    };
    for (const k of SAMPLING_KEYS) {
      const v = o[k] ?? opts[k] ?? md.generation[k];
      if (v !== undefined) (g as unknown as Record<string, unknown>)[k] = v;
    }
    return g;
  };
  const answerAll = (convs: Turn[][], o: AnswerOptions = {}): string[] => {
    const out: string[] = [];
    const bs = o.batchSize ?? 8, seed = o.seed ?? opts.seed ?? 0, maxNew = maxNewOf(o);
    for (let i = 0; i < convs.length; i += bs) {
      const r = generate(md.model, convs.slice(i, i + bs).map((c) => promptOf(c, maxNew)), genOpts(o, seed + i));
      out.push(...r.ids.map((ids) => tok.decode(ids.filter((id) => !eos.includes(id)), { skipSpecialTokens: true }).trim()));
    }
    return out;
  };

  const answerer: Answerer = {
    name: opts.name ?? `local:${md.dir}`,
    async answer(messages: Turn[]) {
      return answerAll([messages], { batchSize: 1 })[0]!;
    },
    // one left-padded batch: with greedy decoding the answers equal the one-at-a-time ones (generate's own tests)
    async answerBatch(batch: Turn[][]) {
      return answerAll(batch, { batchSize: Math.max(1, batch.length) });
    },
  };

  const logLikelihood: LogLikelihoodFn = (prompt, continuation) => {
    const p = tok.encode(prompt), full = tok.encode(prompt + continuation);
    // BPE may merge across the boundary: score from the first token where the two encodings differ
    let lcp = 0;
    while (lcp < p.length && lcp < full.length && p[lcp] === full[lcp]) lcp++;
    let ids = bos !== undefined ? [bos, ...full] : full;
    let from = lcp + (bos !== undefined ? 1 : 0);
    if (ids.length > maxPos) { const cut = ids.length - maxPos; ids = ids.slice(cut); from = Math.max(1, from - cut); }
    if (from >= ids.length) throw new Error(`[eval local-model] continuation ${JSON.stringify(continuation)} adds no token`);
    return continuationLogProbs(md, ids, from).reduce((a, b) => a + b, 0);
  };

  const tokenLogProbs: TokenLogProbFn = (text) => {
    const enc = tok.encode(text);
    const ids = bos !== undefined ? [bos, ...enc] : enc;
    const lps: number[] = [];
    // windows of maxPos tokens overlapping by one, so every token after the first is predicted once
    for (let s = 0; s + 1 < ids.length; s += maxPos - 1) lps.push(...continuationLogProbs(md, ids.slice(s, s + maxPos), 1));
    return { logProbs: lps, unscored: bos !== undefined ? 0 : Math.min(1, enc.length) };
  };

  return { dir: md, tokenizer: tok, template, eos, answerer, promptIds: (turns) => promptOf(turns, maxNewOf({})), answerAll, logLikelihood, tokenLogProbs };
}
