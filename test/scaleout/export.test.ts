// export.test.ts — `zhongjing export recipe` on the demo config and the 13B preset: every YAML key is a known
// LLaMA-Factory v0.9.3 key with an allowed value, every dataset a YAML names is declared, every declared file exists
// with the declared columns, our own readers read the SFT and pair files back to the same dialogues and pairs,
// run.sh --dry-run prints the exact launch commands, the chat template renders our prompts, and bad configs fail by key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { loadConfig, validateConfig, type PipelineConfig } from '../../src/pipeline/config.js';
import { exportRecipe } from '../../src/scaleout/recipe.js';
import { checkLfYaml, LF_COLUMN_KEYS, LF_DATASET_KEYS, LF_FORMATTINGS, LF_TAG_KEYS } from '../../src/scaleout/lf-keys.js';
import { ENGINE_TEMPLATES } from '../../src/scaleout/chat-template.js';
import { BUILTIN_TEMPLATES, renderTemplate } from '../../src/tokenizer/chat.js';
import { loadFile, pairsFromRanking, type Conversation, type PreferenceSet } from '../../src/data/index.js';
import { runData, DATA_FILES } from '../../src/pipeline/stages/data.js';
import { readJsonl } from '../../src/pipeline/context.js';
import { tempDir } from '../helpers.js';

const tmp = (p: string) => tempDir(p);

async function checkExport(cfg: PipelineConfig, out: string) {
  await exportRecipe(cfg, { out, quiet: true });
  const info = JSON.parse(readFileSync(join(out, 'data', 'dataset_info.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  const yamls = readdirSync(join(out, 'yaml')).sort();
  assert.ok(yamls.length >= 4);
  for (const f of yamls) {
    const y = parse(readFileSync(join(out, 'yaml', f), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(checkLfYaml(y), [], f);
    for (const k of ['dataset', 'eval_dataset']) if (typeof y[k] === 'string') for (const d of (y[k] as string).split(',')) assert.ok(info[d], `${f}: ${d} declared`);
    if (typeof y.deepspeed === 'string') assert.ok(existsSync(join(out, y.deepspeed)), `${f}: ${y.deepspeed}`);
  }
  for (const [name, e] of Object.entries(info)) {
    for (const k of Object.keys(e)) assert.ok((LF_DATASET_KEYS as readonly string[]).includes(k), `${name}.${k}`);
    assert.ok((LF_FORMATTINGS as readonly string[]).includes((e.formatting as string) ?? 'alpaca'));
    for (const k of Object.keys((e.tags as object) ?? {})) assert.ok((LF_TAG_KEYS as readonly string[]).includes(k), `${name}.tags.${k}`);
    const cols = Object.entries((e.columns as Record<string, string>) ?? {});
    for (const [k] of cols) assert.ok((LF_COLUMN_KEYS as readonly string[]).includes(k), `${name}.columns.${k}`);
    const file = join(out, 'data', e.file_name as string);
    assert.ok(existsSync(file), file);
    const rows = readJsonl<Record<string, unknown>>(file);
    assert.ok(rows.length > 0, `${name} has records`);
    for (const r of rows) for (const [, col] of cols) assert.ok(col in r, `${name}: record lacks column ${col}`);
  }
  return info;
}

test('export recipe: the demo config (4 GPUs) is valid LLaMA-Factory input and reads back to the same data', async () => {
  const cfg = loadConfig('configs/demo.yaml');
  const out = tmp('zj-recipe-demo-');
  await checkExport({ ...cfg, scaleout: { ...cfg.scaleout, model: 'Qwen/Qwen2.5-0.5B', gpusPerNode: 4 } }, out);
  // our data stage on the same config, independently
  const work = tmp('zj-recipe-ref-');
  await runData({ cfg: { ...cfg, runsDir: work }, root: work, quiet: true, log: () => {} });
  const train = readJsonl<Conversation>(join(work, 'data', DATA_FILES.train));
  const sets = readJsonl<PreferenceSet>(join(work, 'data', DATA_FILES.rankings));
  const sft = (await loadFile(join(out, 'data', 'zj_sft_train.jsonl'))).records as Conversation[];
  const trimmedEnd = (c: Conversation) => { const t = [...c.turns]; while (t.at(-1)?.role !== 'assistant') t.pop(); return t; };
  assert.equal(sft.length, train.length);
  for (const i of [0, 1, Math.floor(train.length / 2), train.length - 1])
    assert.deepEqual(sft[i]!.turns, trimmedEnd(train[i]!), `dialogue ${i}`);
  const pairs = (await loadFile(join(out, 'data', 'zj_pairs.jsonl'))).records as PreferenceSet[];
  const expected = sets.flatMap((s) => pairsFromRanking(s).map((p) => ({ prompt: s.prompt, chosen: p.chosen, rejected: p.rejected })));
  assert.equal(pairs.length, expected.length);
  assert.ok(expected.length > 0);
  for (const i of [0, Math.floor(pairs.length / 3), pairs.length - 1]) {
    const text = new Map(pairs[i]!.candidates.map((c) => [c.id, c.text]));
    assert.deepEqual({ prompt: pairs[i]!.prompt, chosen: text.get(pairs[i]!.ranking[0]![0]!), rejected: text.get(pairs[i]!.ranking[1]![0]!) }, expected[i]);
  }
  // run.sh --dry-run: the exact commands for 1 node × 4 GPUs and 2 nodes × 8 GPUs
  const dry = (env: Record<string, string>) => {
    const r = spawnSync('bash', [join(out, 'run.sh'), '--dry-run'], { env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return { lines: r.stdout.trim().split('\n'), stderr: r.stderr };
  };
  const one = dry({ NNODES: '1', NPROC_PER_NODE: '4' });
  assert.deepEqual(one.lines, [
    "python3 prepare_model.py Qwen/Qwen2.5-0.5B model/base chat_template.jinja",
    ...['01-pt', '02-sft', '03-rm', '04-ppo'].map((y) => `env FORCE_TORCHRUN=1 NNODES=1 NODE_RANK=0 NPROC_PER_NODE=4 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 llamafactory-cli train yaml/${y}.yaml`),
  ]);
  assert.equal(one.stderr, '');
  for (const rank of ['0', '1']) {
    const two = dry({ NNODES: '2', NPROC_PER_NODE: '8', NODE_RANK: rank, MASTER_ADDR: '10.0.0.1', MASTER_PORT: '6000' });
    assert.deepEqual(two.lines, [
      rank === '0' ? "python3 prepare_model.py Qwen/Qwen2.5-0.5B model/base chat_template.jinja" : 'wait for model/base/.ready',
      ...['01-pt', '02-sft', '03-rm', '04-ppo'].map((y) => `env FORCE_TORCHRUN=1 NNODES=2 NODE_RANK=${rank} NPROC_PER_NODE=8 MASTER_ADDR=10.0.0.1 MASTER_PORT=6000 llamafactory-cli train yaml/${y}.yaml`),
    ]);
    assert.match(two.stderr, /computed for 4 GPUs, this launch has 16/);
  }
  rmSync(out, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

test('export recipe: the 13B preset maps the paper\'s hyperparameters', async () => {
  const out = tmp('zj-recipe-13b-');
  await checkExport(loadConfig('configs/zhongjing-13b.yaml'), out);
  const y = (n: string) => parse(readFileSync(join(out, 'yaml', n), 'utf8')) as Record<string, unknown>;
  const names = readdirSync(join(out, 'yaml')).sort();
  assert.deepEqual(names, ['01-pt.yaml', '02-pt-merge.yaml', '03-sft.yaml', '04-sft-merge.yaml', '05-rm.yaml', '06-rm-merge.yaml', '07-ppo.yaml']);
  const pt = y('01-pt.yaml'), sft = y('03-sft.yaml'), rm = y('05-rm.yaml'), ppo = y('07-ppo.yaml');
  assert.deepEqual([pt.learning_rate, pt.num_train_epochs, pt.fp16, pt.finetuning_type, pt.lr_scheduler_type], [5e-5, 3, true, 'lora', 'cosine']);
  // the adapter is pretrain.lora's (the one key for both engines)
  assert.deepEqual([pt.lora_rank, pt.lora_alpha, pt.lora_dropout, pt.lora_target], [16, 32, 0.1, 'q_proj,v_proj']);
  assert.deepEqual([sft.lora_rank, sft.lora_alpha, sft.lora_dropout, sft.lora_target, sft.model_name_or_path], [16, 32, 0.1, 'q_proj,v_proj', 'saves/pt-merged']);
  assert.deepEqual([rm.lora_rank, rm.learning_rate, rm.num_train_epochs, rm.val_size, rm.model_name_or_path], [32, 7e-4, 10, 0.1, 'saves/pt-merged']);
  assert.deepEqual([ppo.model_name_or_path, ppo.reward_model, ppo.reward_model_type, ppo.finetuning_type, ppo.ref_model], ['saves/sft-merged', 'saves/rm-merged', 'full', 'lora', undefined]);
  const ds = JSON.parse(readFileSync(join(out, String(pt.deepspeed)), 'utf8')) as { zero_optimization: { stage: number } };
  assert.equal(ds.zero_optimization.stage, 2);
  const z3 = JSON.parse(readFileSync(join(out, 'deepspeed', 'ds_zero3_offload.json'), 'utf8')) as { zero_optimization: Record<string, unknown> };
  assert.equal(z3.zero_optimization.stage3_gather_16bit_weights_on_model_save, true);
  assert.ok(z3.zero_optimization.offload_param);
  rmSync(out, { recursive: true, force: true });
});

test('the fact table rejects unknown keys and disallowed values', () => {
  assert.deepEqual(checkLfYaml({ stage: 'sft', lora_rank: 8 }), []);
  assert.match(checkLfYaml({ prompt_template: 'ziya' })[0]!, /prompt_template: not a LLaMA-Factory v0\.9\.3 key/);
  assert.match(checkLfYaml({ stage: 'rlhf' })[0]!, /stage: 'rlhf' is not one of/);
  assert.match(checkLfYaml({ lora_rank: 'eight' })[0]!, /lora_rank: expected int/);
});

test('the engine chat templates give our serving prompt at every turn', () => {
  const dialog = [{ role: 'system', content: '你是医生' }, { role: 'user', content: '头痛' }, { role: 'assistant', content: '多久了？' }, { role: 'user', content: '三天' }, { role: 'assistant', content: '去医院' }];
  for (const name of ['ziya', 'chatml'] as const) {
    const ctx = (messages: unknown[]) => ({ messages, add_generation_prompt: true, eos_token: '</s>', bos_token: '<s>' });
    for (let n = 1; n <= dialog.length; n++) {
      const m = dialog.slice(0, n);
      if (m.at(-1)!.role !== 'user') continue;
      assert.equal(renderTemplate(ENGINE_TEMPLATES[name], ctx(m)), renderTemplate(BUILTIN_TEMPLATES[name]!, ctx(m)), `${name} turn ${n}`);
    }
    const full = (src: string) => renderTemplate(src, { messages: dialog, add_generation_prompt: false, eos_token: '</s>', bos_token: '<s>' });
    assert.equal(full(ENGINE_TEMPLATES[name]).trimEnd(), full(BUILTIN_TEMPLATES[name]!).trimEnd());
  }
});

test('export recipe: what the engine cannot express is an error naming the key', async () => {
  const base = loadConfig('configs/demo.yaml');
  const bad = async (patch: Record<string, unknown>, re: RegExp) => {
    const raw = { ...JSON.parse(JSON.stringify(base)), ...patch };
    await assert.rejects(exportRecipe(validateConfig(raw), { out: tmp('zj-recipe-bad-'), quiet: true }), re);
  };
  await bad({}, /scaleout\.model: the engine trains a pretrained base/);
  await bad({ scaleout: { model: 'x', extraStages: ['orpo'] } }, /scaleout\.extraStages: 'orpo'/);
  await bad({ scaleout: { model: 'x' }, sft: { ...base.sft, onNonFinite: 'skip' } }, /sft\.onNonFinite/);
  await bad({ scaleout: { model: 'x' }, ppo: { ...base.ppo, rolloutSize: 12, miniBatch: 8 } }, /ppo\.rolloutSize/);
});
