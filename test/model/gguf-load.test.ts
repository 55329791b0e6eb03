// gguf-load.test.ts — GGUF files as models: our export then our load gives back the original weights (f32 exactly,
// through llama's q/k row permutation and Qwen2's biases / tied head), bf16 bit for bit, Q8_0 / Q4_0 as the same
// block bytes (or, with weights f32, their exact dequantization), the same config, logits and tokenizer; and bad
// files (unknown architecture, a missing key, unsupported ggml type, truncation, tokenizer model) are refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { byteLevelVocab, vocabOfDir, writeModelGguf } from '../../src/model/gguf-export.js';
import { configFromGguf, loadGguf } from '../../src/model/gguf-load.js';
import { loadModel, tokenizerAt, tokenizerOf } from '../../src/model/load.js';
import { saveModelDir } from '../../src/model/model-dir.js';
import { dequantizeQ4_0, dequantizeQ8_0, quantizeQ4_0, quantizeQ8_0 } from '../../src/model/gguf.js';
import { toBf16Array } from '../../src/model/half.js';
import { kernelRefuses } from '../../src/model/weights.js';
import { trainByteLevelBpe } from '../../src/tokenizer/train.js';
import { saveTokenizer } from '../../src/tokenizer/tokenizer-json.js';
import { noGrad } from '../../src/autograd/grad-mode.js';
import { tidy } from '../../src/tensor/scope.js';
import { i32T, tempDir } from '../helpers.js';

const tmp = () => tempDir('zj-ggufload-');
const base: LlamaConfig = { ...presets.tiny, vocabSize: 300, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 128 };
const qwen: LlamaConfig = { ...base, attentionBias: true, tieWordEmbeddings: true, numKvHeads: 1, ropeTheta: 1e6 };
const quiet = { warn: () => {} };

function logits(m: LlamaForCausalLM, ids: number[]): Float32Array {
  return noGrad(() => tidy(() => Float32Array.from(m.forward({ ids: i32T(ids, [1, ids.length]) }).f32())));
}

function withBias(m: LlamaForCausalLM): LlamaForCausalLM {
  for (const [n, p] of m.namedParameters()) if (n.endsWith('bias')) { const d = p.f32(); for (let i = 0; i < d.length; i++) d[i] = Math.sin(i + n.length); }
  return m;
}

for (const [label, cfg] of [['llama (q/k permuted in the file)', base], ['qwen2 (biases, tied)', qwen]] as const) {
  test(`gguf load: f32 export → load is exact, ${label}: weights, config, logits`, () => {
    const m = withBias(new LlamaForCausalLM(cfg, 7));
    const path = join(tmp(), 'm.gguf');
    writeModelGguf(path, m, byteLevelVocab(cfg.vocabSize), { type: 'f32' });
    const md = loadGguf(path, quiet);
    assert.deepEqual({ ...md.model.config, bosTokenId: undefined, eosTokenId: undefined }, { ...cfg, bosTokenId: undefined, eosTokenId: undefined });
    assert.equal(md.architecture, cfg.attentionBias ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM');
    const orig = new Map(m.namedParameters());
    for (const [n, p] of md.model.namedParameters()) assert.deepEqual(p.f32(), orig.get(n)!.f32(), n);
    assert.deepEqual(logits(md.model, [5, 17, 200]), logits(m, [5, 17, 200]));
    assert.equal(loadGguf(path, { ...quiet, kvCache: 'bf16' }).model.newCache(1, 8).dtype, 'bf16');
  });
}

for (const type of ['bf16', 'q8_0', 'q4_0'] as const) {
  test(`gguf load: ${type} tensors come back in their type (same bits / blocks); weights f32 gives their exact values`, () => {
    const m = new LlamaForCausalLM(base, 8);
    const path = join(tmp(), `m-${type}.gguf`);
    writeModelGguf(path, m, byteLevelVocab(base.vocabSize), { type });
    const orig = new Map(m.namedParameters());
    const md = loadModel(path, quiet);
    const exact = loadModel(path, { ...quiet, weights: 'f32' });
    const exactP = new Map(exact.model.namedParameters());
    const deq = (x: Float32Array) => type === 'q8_0' ? dequantizeQ8_0(quantizeQ8_0(x), x.length) : type === 'q4_0' ? dequantizeQ4_0(quantizeQ4_0(x), x.length) : null;
    for (const [n, p] of md.model.namedParameters()) {
      const o = orig.get(n)!.f32();
      if (p.rank === 1) { assert.equal(p.dtype, 'f32'); assert.deepEqual(p.f32(), o, `${n} f32 in the file`); continue; }
      const role = n === 'model.embed_tokens.weight' ? 'embedding' : 'matmul';
      if (kernelRefuses(type, role) === null) {
        assert.equal(p.dtype, type, n);
        const want = type === 'bf16' ? toBf16Array(o) : type === 'q8_0' ? quantizeQ8_0(o) : quantizeQ4_0(o);
        assert.deepEqual(p.data, want, `${n}: the blocks un-permuted back to HF row order`);
      }
      const e = exactP.get(n)!.f32();
      assert.deepEqual(e, type === 'bf16' ? Float32Array.from(toBf16Array(o), (h) => new Float32Array(new Uint32Array([h << 16]).buffer)[0]!) : deq(o), `${n} dequantized`);
    }
    assert.ok(logits(md.model, [1, 2, 3]).every(Number.isFinite));
    if (type !== 'bf16') {
      const other = type === 'q8_0' ? 'q4_0' : 'q8_0';
      const lines: string[] = [];
      const re = loadModel(path, { weights: other, warn: (l) => lines.push(l) });
      assert.equal(re.model.model.layers.items[0]!.mlp.upProj.weight.dtype, other);
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, new RegExp(`${type} tensors requantized to ${other} .*the roundings compound`));
    }
  });
}

test('gguf load: the tokenizer and chat template travel inside the file and tokenize as the original', async () => {
  const dir = tmp();
  const corpus = ['患者主诉头痛三天，伴有发热。', 'The patient reports a headache, 3 days.', '血压 140/90 mmHg'];
  const tok = await trainByteLevelBpe(Array.from({ length: 20 }, () => corpus).flat(), { vocabSize: 300, specialTokens: ['<|endoftext|>', '<|im_start|>', '<|im_end|>'], eosToken: '<|endoftext|>' });
  tok.config.chatTemplate = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}";
  await saveTokenizer(tok, dir);
  const m = new LlamaForCausalLM({ ...base, vocabSize: tok.vocabSize }, 2);
  saveModelDir(dir, m);
  const path = join(dir, 'm.gguf');
  writeModelGguf(path, m, vocabOfDir(dir, tok.vocabSize), { type: 'q8_0' });
  const md = loadModel(path, quiet);
  const t2 = (await tokenizerOf(md))!;
  const t3 = await tokenizerAt(path);
  for (const text of [...corpus, '<|im_start|>user\n发热 39.5°C<|im_end|>', "it's  12345\n\n"]) {
    assert.deepEqual(t2.encode(text), tok.encode(text), text);
    assert.deepEqual(t3.encode(text), tok.encode(text), text);
  }
  assert.equal(t2.config.chatTemplate, tok.config.chatTemplate);
  assert.equal(t2.config.eosToken, '<|endoftext|>');
  assert.deepEqual(md.eosTokenIds, [tok.tokenToId('<|endoftext|>')]);
});

/** The byte offset of a tensor's ggml type field in the header (after its name, rank and dims). */
function typeOffset(buf: Buffer, name: string): number {
  const at = buf.indexOf(Buffer.from(name, 'utf8'));
  const nd = buf.readUInt32LE(at + name.length);
  return at + name.length + 4 + 8 * nd;
}

test('gguf load: unknown architecture, a missing key, an unsupported ggml type, a truncated file and an unknown tokenizer model are refused by name', () => {
  const dir = tmp();
  const path = join(dir, 'm.gguf');
  writeModelGguf(path, new LlamaForCausalLM({ ...base, numLayers: 1 }, 1), byteLevelVocab(base.vocabSize), { type: 'q8_0' });
  const good = readFileSync(path);
  const bad = join(dir, 'bad.gguf');
  const patched = (from: string, to: string) => { const b = Buffer.from(good); const i = b.indexOf(Buffer.from(from)); b.write(to, i); return b; };
  writeFileSync(bad, patched('\u0005\u0000\u0000\u0000\u0000\u0000\u0000\u0000llama', '\u0005\u0000\u0000\u0000\u0000\u0000\u0000\u0000mamba'));
  assert.throws(() => loadGguf(bad), /general\.architecture: "mamba" is not supported \(supported: llama, qwen2, qwen3\)/);
  // a llama file relabelled qwen3: its keys are llama.*, so the first required qwen3.* key is missing, by name
  writeFileSync(bad, patched('\u0005\u0000\u0000\u0000\u0000\u0000\u0000\u0000llama', '\u0005\u0000\u0000\u0000\u0000\u0000\u0000\u0000qwen3'));
  assert.throws(() => loadGguf(bad), /qwen3\.embedding_length: expected a positive number, got undefined/);
  const b = Buffer.from(good);
  b.writeUInt32LE(3, typeOffset(b, 'blk.0.ffn_up.weight')); // Q4_1
  writeFileSync(bad, b);
  assert.throws(() => loadGguf(bad), /tensor blk\.0\.ffn_up\.weight has ggml type Q4_1 \(3\), which is not supported \(F32, F16, BF16, Q8_0, Q4_0\)/);
  writeFileSync(bad, good.subarray(0, good.length - 64));
  assert.throws(() => loadGguf(bad), /past the end of the file .*truncated.* at offset \d+/);
  writeFileSync(bad, patched('\u0004\u0000\u0000\u0000\u0000\u0000\u0000\u0000gpt2', '\u0004\u0000\u0000\u0000\u0000\u0000\u0000\u0000bert'));
  assert.throws(() => loadGguf(bad), /tokenizer\.ggml\.model: "bert" is not supported/);
});

test('gguf load: linear RoPE scaling (rope.scaling.type / .factor) becomes the config\'s ropeScaling; yarn and a bad factor are refused by key', () => {
  const header = (extra: [string, unknown][]) => ({
    path: 'h.gguf', version: 3, dataStart: 0,
    tensors: [{ name: 'token_embd.weight', dims: [64, 100], type: 0, offset: 0, byteLength: 0 }],
    kv: new Map<string, unknown>([['general.architecture', 'llama'], ['llama.embedding_length', 64], ['llama.block_count', 2],
      ['llama.attention.head_count', 4], ['llama.feed_forward_length', 96], ...extra]),
  });
  assert.equal(configFromGguf(header([])).config.ropeScaling, undefined);
  assert.equal(configFromGguf(header([['llama.rope.scaling.type', 'none']])).config.ropeScaling, undefined);
  const c = configFromGguf(header([['llama.rope.scaling.type', 'linear'], ['llama.rope.scaling.factor', 4]])).config;
  assert.deepEqual(c.ropeScaling, { type: 'linear', factor: 4 });
  assert.equal(c.vocabSize, 100);
  // factor 1 is plain RoPE
  assert.equal(configFromGguf(header([['llama.rope.scaling.type', 'linear'], ['llama.rope.scaling.factor', 1]])).config.ropeScaling, undefined);
  assert.throws(() => configFromGguf(header([['llama.rope.scaling.type', 'linear']])), /llama\.rope\.scaling\.factor: linear scaling needs a factor >= 1/);
  assert.throws(() => configFromGguf(header([['llama.rope.scaling.type', 'yarn'], ['llama.rope.scaling.factor', 4]])), /llama\.rope\.scaling\.type: "yarn" is not supported \(none, linear; llama3 as rope_freqs\.weight\)/);
  assert.throws(() => configFromGguf(header([['llama.rope.scaling.type', 'longrope']])), /llama\.rope\.scaling\.type: "longrope" is not supported/);
  // llama.cpp's default type is linear: a factor without a type scales positions too (llama-model.cpp load_hparams)
  assert.deepEqual(configFromGguf(header([['llama.rope.scaling.factor', 2]])).config.ropeScaling, { type: 'linear', factor: 2 });
});
