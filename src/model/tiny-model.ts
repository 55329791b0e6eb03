// tiny-model.ts — a small random model directory for the serving tests and `zhongjing bench serve` when no model is
// given: a byte-level BPE tokenizer trained on a few lines of consultation text written here, and a randomly
// initialised LlamaForCausalLM saved with saveModelDir. Its answers are noise; only speed and plumbing are real.
import { LlamaForCausalLM, presets, type LlamaConfig } from './llama.js';
import { saveModelDir } from './model-dir.js';
import type { GenerationDefaults } from './config.js';
import { saveTokenizer, trainByteLevelBpe } from '../tokenizer/index.js';

const LINES = [
  '医生您好，我最近三天一直咳嗽，晚上更厉害，有点低烧，需要去医院吗？',
  '您好，请问咳嗽有痰吗？痰是什么颜色？体温最高多少度？',
  '孩子两岁，昨天开始发烧，吃了退烧药以后好一些，今天精神还可以。',
  '建议多喝水、注意休息，如果持续高热或者精神变差，请及时到儿科就诊。',
  '我血压有点高，早上头晕，平时吃降压药，需要调整剂量吗？',
  '请不要自行调整药量，先连续测量一周血压并记录，复诊时带给医生看。',
  '胃不舒服，吃完饭以后胀气、反酸，有时候胸口烧灼感。',
  'Patient asks about headache and sleep; the doctor suggests keeping a diary.',
];

export interface TinyModelOptions {
  seed?: number;
  /** context length (prompt + answer) */
  maxPositions?: number;
  hiddenSize?: number;
  numLayers?: number;
  vocabSize?: number;
  generation?: GenerationDefaults;
}

/** Writes a complete model directory (config, weights, generation_config, tokenizer) into `dir`. */
export async function writeTinyModelDir(dir: string, opts: TinyModelOptions = {}): Promise<void> {
  const tok = await trainByteLevelBpe(Array.from({ length: 8 }, () => LINES).flat(), {
    vocabSize: opts.vocabSize ?? 384, specialTokens: ['<s>', '</s>'], bosToken: '<s>', eosToken: '</s>',
  });
  await saveTokenizer(tok, dir);
  const hidden = opts.hiddenSize ?? 64;
  const cfg: LlamaConfig = {
    ...presets.tiny, vocabSize: tok.vocabSize, hiddenSize: hidden, intermediateSize: hidden * 2 + hidden / 2,
    numLayers: opts.numLayers ?? 2, numHeads: 4, numKvHeads: 2, maxPositions: opts.maxPositions ?? 512,
    bosTokenId: tok.tokenToId('<s>')!, eosTokenId: tok.tokenToId('</s>')!,
  };
  const model = new LlamaForCausalLM(cfg, opts.seed ?? 7);
  saveModelDir(dir, model, {
    eosTokenIds: [cfg.eosTokenId!],
    generation: { repetitionPenalty: 1.2, maxNewTokens: 64, ...opts.generation },
  });
}
