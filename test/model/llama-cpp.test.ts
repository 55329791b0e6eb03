// llama-cpp.test.ts — our strongest external check: models exported to GGUF load in llama.cpp (node-llama-cpp
// 3.21.1, dev-only: tools/llama-check) and give the same next-token distribution (f32: within 1e-4 in
// probability) and the same greedy continuations as our engine, for LLaMA (q/k RoPE permutation, GQA, untied)
// and Qwen2 (biases, tied, MQA); f16 / Q8_0 files agree loosely; a tokenizer trained here tokenizes identically
// in llama.cpp (tokenizer.ggml.pre = qwen2), and so does a SentencePiece-style (LLaMA / Ziya) tokenizer.json.
// Skipped with the reason when node-llama-cpp is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { byteLevelVocab, exportModelDirToGguf, vocabFromTokenizerJson, writeModelGguf, type GgufOutType } from '../../src/model/gguf-export.js';
import { learnMerges } from '../../src/tokenizer/bpe-learn.js';
import { tokenizerFromJson } from '../../src/tokenizer/tokenizer-json.js';
import { buildSentencePieceJson, EDGE_TEXTS, inlineCorpus } from '../tokenizer/helpers.js';
import { dequantizeQ8_0, quantizeQ8_0, readGgufHeader } from '../../src/model/gguf.js';
import { fromF16Array, toF16Array } from '../../src/model/half.js';
import { saveModelDir } from '../../src/model/model-dir.js';
import { LoraAdapter } from '../../src/nn/lora.js';
import { generate } from '../../src/model/generate.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { tidy } from '../../src/tensor/scope.js';
import { exactContextOptions, loadLlamaCpp, type LlamaCpp } from '../../src/cli/llama-cpp-ref.js';
import { trainByteLevelBpe } from '../../src/tokenizer/train.js';
import { saveTokenizer } from '../../src/tokenizer/tokenizer-json.js';
import { i32T, Rng, tempDir } from '../helpers.js';

const ref = await loadLlamaCpp();
const skip = ref.llama ? false : ref.reason;
const tmp = () => tempDir('zj-gguf-');
const V = 300;
const base: LlamaConfig = { ...presets.tiny, vocabSize: V, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 128 };
const variants: [string, LlamaConfig][] = [
  ['llama (GQA, untied)', base],
  ['qwen2 (q/k/v bias, tied, MQA)', { ...base, attentionBias: true, tieWordEmbeddings: true, numKvHeads: 1, ropeTheta: 1e6 }],
];
const prompts = [[5, 17, 200, 33, 100, 7], [1], [250, 251, 252, 253, 254, 255, 256, 3, 9, 27, 81, 243], [42, 42, 42]];

/** Random weights scaled up so that the distributions are peaked (greedy paths are then well separated). */
function randomModel(cfg: LlamaConfig, seed: number): LlamaForCausalLM {
  const m = new LlamaForCausalLM(cfg, seed);
  const rng = new Rng(seed);
  for (const [n, p] of m.namedParameters()) {
    const d = p.f32();
    for (let i = 0; i < d.length; i++) d[i] = n.endsWith('norm.weight') ? 1 + 0.2 * rng.normal() : n.endsWith('bias') ? 0.3 * rng.normal() : d[i]! * 20;
  }
  return m;
}

function ourProbs(m: LlamaForCausalLM, prompt: number[]): Float64Array {
  const logits = noGrad(() => tidy(() => m.forward({ ids: i32T(prompt, [1, prompt.length]) })));
  const lg = logits.f32().subarray((prompt.length - 1) * V);
  let mx = -Infinity;
  for (const x of lg) mx = Math.max(mx, x);
  let z = 0;
  for (const x of lg) z += Math.exp(x - mx);
  const p = Float64Array.from(lg, (x) => Math.exp(x - mx) / z);
  logits.dispose();
  return p;
}

/** The weights llama.cpp will hold: every matrix rounded through f16 or Q8_0 and back (ggml's dequantization). */
function roundLikeGguf(m: LlamaForCausalLM, type: GgufOutType): void {
  for (const [, p] of m.namedParameters()) {
    if (p.rank !== 2) continue;
    const d = p.f32();
    d.set(type === 'f16' ? fromF16Array(toF16Array(d)) : dequantizeQ8_0(quantizeQ8_0(d), d.length));
  }
}

async function theirs(llama: LlamaCpp, path: string, prompt: number[], greedy: number) {
  const model = await llama.loadModel({ modelPath: path });
  // one thread: llama.cpp's spinning thread barrier collapses when the 2 shared cores are busy
  const ctx = await model.createContext(exactContextOptions(128, 1));
  try {
    const seq = ctx.getSequence();
    const res = await seq.controlledEvaluate(prompt.map((t, i) => i < prompt.length - 1 ? t
      : [t, { generateNext: { probabilities: true, options: { temperature: 1, topK: V, topP: 1, minP: 0 } } }]));
    const probs = res[prompt.length - 1]!.next!.probabilities!;
    await seq.clearHistory();
    const tokens: number[] = [];
    if (greedy > 0) for await (const t of seq.evaluate(prompt, { temperature: 0 })) { tokens.push(t); if (tokens.length >= greedy) break; }
    return { probs, tokens };
  } finally {
    await ctx.dispose();
    await model.dispose();
  }
}

for (const [label, cfg] of variants) {
  test(`llama.cpp agreement, f32 GGUF, ${label}: next-token probabilities and greedy continuations`, { skip }, async () => {
    const m = randomModel(cfg, 3);
    const path = join(tmp(), 'model-f32.gguf');
    writeModelGguf(path, m, byteLevelVocab(V), { type: 'f32' });
    let worst = 0;
    for (const p of prompts) {
      const ours = ourProbs(m, p);
      const { probs, tokens } = await theirs(ref.llama!, path, p, 12);
      for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(ours[v]! - (probs.get(v) ?? 0)));
      const mine = generate(m, [p], { maxNewTokens: 12 }).ids[0];
      assert.deepEqual(tokens, mine, `greedy continuation of [${p}]`);
    }
    assert.ok(worst < 1e-4, `max |p_ours - p_llama.cpp| = ${worst.toExponential(2)}`);
    console.log(`# f32 ${label}: max |p_ours - p_llama.cpp| = ${worst.toExponential(2)} over ${prompts.length} prompts; greedy 12 tokens identical`);
  });
}

for (const type of ['f16', 'q8_0'] as GgufOutType[]) {
  test(`llama.cpp agreement, ${type} GGUF: close distributions, same top token`, { skip }, async () => {
    const m = randomModel(base, 4);
    const path = join(tmp(), `model-${type}.gguf`);
    const info = writeModelGguf(path, m, byteLevelVocab(V), { type });
    assert.deepEqual(info.fellBackToF16, []);
    const h = readGgufHeader(path);
    assert.equal(h.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!.type, type === 'f16' ? 1 : 8);
    assert.equal(h.tensors.find((t) => t.name === 'blk.0.attn_norm.weight')!.type, 0, 'norms stay f32');
    // ours with the same rounded weights: what remains is llama.cpp rounding activations for the dot products
    roundLikeGguf(m, type);
    let worst = 0, top = 0;
    for (const p of prompts) {
      const ours = ourProbs(m, p);
      const { probs } = await theirs(ref.llama!, path, p, 0);
      let a = 0, b = 0;
      for (let v = 0; v < V; v++) {
        worst = Math.max(worst, Math.abs(ours[v]! - (probs.get(v) ?? 0)));
        if (ours[v]! > ours[a]!) a = v;
        if ((probs.get(v) ?? 0) > (probs.get(b) ?? 0)) b = v;
      }
      if (a === b) top++;
    }
    assert.ok(worst < (type === 'f16' ? 0.01 : 0.05), `max |Δp| = ${worst}`);
    console.log(`# ${type}: max |p_ours - p_llama.cpp| = ${worst.toExponential(2)}, same top token ${top}/${prompts.length}`);
    assert.ok(top >= prompts.length - 1, `same top token for ${top}/${prompts.length} prompts`);
  });
}

test('llama.cpp agreement: model directory with a LoRA adapter and a trained tokenizer → GGUF (adapter merged, same tokenization)', { skip }, async () => {
  const dir = tmp();
  const corpus = ['患者主诉头痛三天，伴有发热和咳嗽。', 'The patient reports a headache for 3 days, with fever.', '血压 140/90 mmHg，心率 88 次/分。',
    '建议多喝水，注意休息；如症状加重请及时就医。', 'Take 500 mg paracetamol every 6 hours if needed.'];
  const tok = await trainByteLevelBpe(Array.from({ length: 20 }, () => corpus).flat(), { vocabSize: V, specialTokens: ['<|endoftext|>', '<|im_start|>', '<|im_end|>'], eosToken: '<|endoftext|>' });
  await saveTokenizer(tok, dir);
  const m = randomModel({ ...base, vocabSize: tok.vocabSize }, 5);
  const a = new LoraAdapter('sft', { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['q_proj', 'v_proj', 'down_proj'], useRslora: false }).attach(m.namedLinears(), 1);
  const rng = new Rng(2);
  for (const [, s] of a.modules) { const d = s.B.f32(); for (let i = 0; i < d.length; i++) d[i] = rng.normal() * 2; }
  saveModelDir(dir, m, { adapters: [a] });
  const path = join(dir, 'model.gguf');
  const info = exportModelDirToGguf(dir, path, 'f32');
  assert.deepEqual(info.merged, ['sft']);
  const h = readGgufHeader(path);
  assert.equal(h.kv.get('tokenizer.ggml.pre'), 'qwen2');
  const model = await ref.llama!.loadModel({ modelPath: path });
  try {
    for (const text of [...corpus, '发热 39.5°C，咳嗽 2 周', '  spaces\n\nand\ttabs  ', "it's 12345 o'clock"])
      assert.deepEqual(model.tokenize(text), tok.encode(text), `tokenization of ${JSON.stringify(text)}`);
  } finally {
    await model.dispose();
  }
  // the adapter was merged: llama.cpp's distribution is that of base + adapter
  const p = tok.encode(corpus[0]!).slice(0, 10);
  const ours = ourProbs(m, p);
  const { probs } = await theirs(ref.llama!, path, p, 0);
  let worst = 0;
  for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(ours[v]! - (probs.get(v) ?? 0)));
  assert.ok(worst < 1e-4, `merged adapter: max |Δp| = ${worst}`);
});

test('gguf: a truncated or corrupt file is refused naming the file and the offset', () => {
  const dir = tmp();
  const path = join(dir, 'm.gguf');
  writeModelGguf(path, randomModel({ ...base, numLayers: 1 }, 1), byteLevelVocab(V), { type: 'q8_0' });
  const good = readFileSync(path);
  const h = readGgufHeader(path);
  assert.equal(h.kv.get('general.architecture'), 'llama');
  assert.equal(h.kv.get('llama.attention.head_count_kv'), 2);
  const cut = join(dir, 'cut.gguf');
  writeFileSync(cut, good.subarray(0, good.length - 100));
  assert.throws(() => readGgufHeader(cut), new RegExp(`^Error: \\[gguf\\] ${cut}: tensor .* past the end of the file .* at offset \\d+`));
  writeFileSync(cut, good.subarray(0, 5000));
  assert.throws(() => readGgufHeader(cut), /file ends inside .* at offset \d+/);
  const bad = Buffer.from(good);
  bad.write('GGUX', 0);
  writeFileSync(cut, bad);
  assert.throws(() => readGgufHeader(cut), /not a GGUF file .* at offset 0/);
});

test('llama.cpp agreement: SentencePiece-style tokenizer.json (▁, <0xNN> byte fallback) exports as the "llama" tokenizer and tokenizes identically', { skip }, async () => {
  const texts = [...EDGE_TEXTS.filter((t) => !/[\u0085\ufeff]/.test(t)), '患者主诉：头晕、耳鸣三周，伴有恶心呕吐。鼹鼠罕见字：龘靐齉。',
    'Hello world  two  spaces, and 😀 emoji 👩‍⚕️ that fall back to bytes', ' leading space', 'trailing space ', '１２３ 456'];
  for (const format of ['legacy', 'metaspace'] as const) {
    const json = buildSentencePieceJson(inlineCorpus(2000), 120, 300, format, learnMerges);
    const tok = tokenizerFromJson(json);
    const m = new LlamaForCausalLM({ ...base, vocabSize: tok.vocabSize, numLayers: 1 }, 1);
    const path = join(tmp(), `spm-${format}.gguf`);
    const vocab = vocabFromTokenizerJson(json, null, tok.vocabSize);
    assert.equal(vocab.model, 'llama');
    writeModelGguf(path, m, vocab);
    const model = await ref.llama!.loadModel({ modelPath: path });
    try {
      for (const t of texts) {
        // HF's Metaspace(prepend_scheme "first") skips the ▁ when the text already starts with one (a leading space, or
        // text right after a special token); llama.cpp always prepends: a known difference of non-legacy files
        if (format === 'metaspace' && (/^ /.test(t) || /<\/?s>./.test(t))) continue;
        assert.deepEqual(model.tokenize(t, true), tok.encode(t, { addSpecialTokens: false }), `${format}: ${JSON.stringify(t)}`);
      }
    } finally {
      await model.dispose();
    }
  }
});
