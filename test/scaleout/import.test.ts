// import.test.ts — `zhongjing import llamafactory` on an output folder generated here in the engine's layout
// (merged full checkpoints, a PEFT LoRA adapter, a value head, trainer_log.jsonl, all_results.json): the imported
// run folders load with the adapter applied, the value head intact, the log as metrics, and our `eval generate`
// and `serve` (on 127.0.0.1) work on the result. Folders that are not engine output fail naming what is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeTinyModelDir } from '../../src/model/tiny-model.js';
import { loadModelDir } from '../../src/model/model-dir.js';
import { saveAdapter } from '../../src/model/lora-io.js';
import { ValueHead } from '../../src/model/value-head.js';
import { LoraAdapter } from '../../src/nn/lora.js';
import { importLlamaFactory } from '../../src/scaleout/import-lf.js';
import { readMetrics } from '../../src/train/loop.js';
import { evalCommand } from '../../src/cli/eval.js';
import { serveModel } from '../../src/serve/server.js';
import { idsT, Rng } from '../helpers.js';
import { noGrad } from '../../src/autograd/grad-mode.js';

async function engineOutput(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'zj-lf-out-'));
  const sftMerged = join(dir, 'saves', 'sft-merged'), rm = join(dir, 'saves', 'rm-merged'), ppo = join(dir, 'saves', 'ppo');
  await writeTinyModelDir(sftMerged, { hiddenSize: 32, maxPositions: 320 });
  cpSync(sftMerged, rm, { recursive: true });
  const md = loadModelDir(sftMerged);
  const head = new ValueHead(md.model.config.hiddenSize, 5);
  head.save(rm);
  // the PPO stage: a PEFT adapter (as PEFT/LLaMA-Factory write it) + the critic's value head + logs
  const a = new LoraAdapter('default', { r: 2, loraAlpha: 4, loraDropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false }).attach(md.model.namedLinears(), 3);
  const rng = new Rng(9);
  for (const [, s] of a.modules) { const d = s.B.f32(); for (let i = 0; i < d.length; i++) d[i] = rng.normal() * 0.5; }
  mkdirSync(ppo, { recursive: true });
  saveAdapter(ppo, a, { baseModel: 'saves/sft-merged' });
  head.save(ppo);
  writeFileSync(join(ppo, 'trainer_log.jsonl'), [
    { current_steps: 1, total_steps: 3, loss: 0.9, reward: 0.1, lr: 1e-5, epoch: 0.3, percentage: 33.3, elapsed_time: '0:00:01', remaining_time: '0:00:02' },
    { current_steps: 2, total_steps: 3, loss: 0.7, reward: 0.4, lr: 1e-5, epoch: 0.6, percentage: 66.7, elapsed_time: '0:00:02', remaining_time: '0:00:01' },
    { current_steps: 3, total_steps: 3, percentage: 100, elapsed_time: '0:00:03', remaining_time: '0:00:00' },
  ].map((r) => JSON.stringify(r)).join('\n') + '\n');
  writeFileSync(join(ppo, 'all_results.json'), JSON.stringify({ epoch: 1, train_loss: 0.8 }));
  mkdirSync(join(dir, 'yaml'));
  writeFileSync(join(dir, 'yaml', '07-ppo.yaml'), stringify({ stage: 'ppo', model_name_or_path: 'saves/sft-merged', output_dir: 'saves/ppo', finetuning_type: 'lora' }));
  writeFileSync(join(dir, 'yaml', '05-rm.yaml'), stringify({ stage: 'rm', model_name_or_path: 'saves/pt-merged', output_dir: 'saves/rm-merged' }));
  writeFileSync(join(dir, 'yaml', '03-sft.yaml'), stringify({ stage: 'sft', model_name_or_path: 'saves/pt-merged', output_dir: 'saves/sft-not-run' }));
  return dir;
}

test('import llamafactory: adapters, value heads and logs become run folders that eval and serve use', async () => {
  const src = await engineOutput();
  const runRoot = mkdtempSync(join(tmpdir(), 'zj-lf-run-'));
  const out = join(runRoot, 'runs', 'big');
  const r = importLlamaFactory(src, out);
  assert.deepEqual(r.stages.map((s) => [s.stage, s.kind, s.valueHead]), [['rm', 'full', true], ['ppo', 'lora', true]]);
  assert.match(r.skipped.join(), /sft: saves\/sft-not-run not written yet/);
  // the PPO model is the merged SFT base with the engine's adapter on: its logits differ from the base's
  const base = loadModelDir(join(src, 'saves', 'sft-merged'));
  const ppo = loadModelDir(join(out, 'final'));
  assert.deepEqual(ppo.adapters.map((a) => [a.name, a.enabled]), [['ppo', true]]);
  const ids = idsT(new Rng(4), [1, 6], base.model.config.vocabSize);
  const l0 = noGrad(() => base.model.forward({ ids })).f32(), l1 = noGrad(() => ppo.model.forward({ ids })).f32();
  assert.ok(l0.some((x, i) => Math.abs(x - l1[i]!) > 1e-4), 'adapter changes the logits');
  const rm = loadModelDir(join(out, 'rm', 'model'));
  assert.deepEqual(Array.from(rm.valueHead!.vHead.summary.weight.f32()), Array.from(new ValueHead(rm.model.config.hiddenSize, 5).vHead.summary.weight.f32()));
  assert.deepEqual(readMetrics(join(out, 'ppo', 'train')), [{ step: 1, loss: 0.9, lr: 1e-5, reward: 0.1, epoch: 0.3 }, { step: 2, loss: 0.7, lr: 1e-5, reward: 0.4, epoch: 0.6 }]);
  assert.deepEqual((JSON.parse(readFileSync(join(out, 'ppo', 'done.json'), 'utf8')) as { results: unknown }).results, { epoch: 1, train_loss: 0.8 });
  // our eval on it
  const data = join(src, 'eval.jsonl'), answers = join(src, 'answers.jsonl');
  writeFileSync(data, JSON.stringify({ instruction: '头痛三天怎么办？', input: '', output: '请就医。' }) + '\n');
  const origErr = console.error;
  try { assert.equal(await evalCommand.run(['generate', '--data', data, '--model-dir', join(out, 'final'), '--out', answers]), 0); } finally { console.error = origErr; }
  const rec = JSON.parse(readFileSync(answers, 'utf8').trim()) as { answer?: string; error?: string };
  assert.equal(rec.error, undefined);
  assert.equal(typeof rec.answer, 'string');
  // and our server
  const s = await serveModel({ modelDir: join(out, 'final'), host: '127.0.0.1', port: 0 });
  try {
    const res = await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: '头痛' }], max_tokens: 4 }) });
    assert.equal(res.status, 200);
    const j = await res.json() as { choices: { message: { content: string } }[] };
    assert.equal(typeof j.choices[0]!.message.content, 'string');
  } finally {
    await s.close();
  }
  rmSync(src, { recursive: true, force: true });
  rmSync(runRoot, { recursive: true, force: true });
});

test('import llamafactory: a folder that is not engine output names what is missing', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'zj-lf-bad-'));
  assert.throws(() => importLlamaFactory(empty, join(empty, 'out')), /yaml\/ is missing/);
  const src = await engineOutput();
  rmSync(join(src, 'saves', 'ppo', 'adapter_model.safetensors'));
  assert.throws(() => importLlamaFactory(src, join(src, 'out')), /adapter_config\.json without adapter_model\.safetensors/);
  rmSync(join(src, 'saves', 'ppo'), { recursive: true });
  mkdirSync(join(src, 'saves', 'ppo'));
  assert.throws(() => importLlamaFactory(src, join(src, 'out')), /neither a PEFT adapter .* nor a full checkpoint/);
  rmSync(join(src, 'saves'), { recursive: true });
  assert.throws(() => importLlamaFactory(src, join(src, 'out')), /no stage output found/);
  assert.ok(!existsSync(join(src, 'out', 'final')));
  rmSync(src, { recursive: true, force: true });
  rmSync(empty, { recursive: true, force: true });
});
