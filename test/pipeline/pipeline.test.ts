// End to end: a shortened pipeline (tiny model, few steps) runs every stage, writes the layout the issue names,
// skips finished stages on a rerun, reruns from a stage, and explains config mistakes and missing inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig, STAGES, ConfigError } from '../../src/pipeline/config.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { makeContext } from '../../src/pipeline/context.js';
import { runDpo } from '../../src/pipeline/stages/dpo.js';
import { loadModelDir } from '../../src/model/model-dir.js';
import { readGgufHeader } from '../../src/model/gguf.js';
import type { ConsultResults, ConsultRow, EvalResults } from '../../src/pipeline/stages/eval.js';
import { inquiryQuestions } from '../../src/data/medical-rules.js';
import { conditions } from '../../src/data/demo/kb.js';

function tinyConfig(runsDir: string) {
  return validateConfig({
    name: 'e2e', runsDir, seed: 3,
    data: { demo: 'tiny', devFraction: 0.2 },
    tokenizer: { vocabSize: 400 },
    model: { preset: 'tiny', hiddenSize: 32, layers: 2, heads: 4, kvHeads: 2, intermediateSize: 64 },
    pretrain: { steps: 12, batchSize: 4, seqLen: 32, evalEvery: 6 },
    sft: { steps: 12, batchSize: 4, maxLen: 512, evalEvery: 6, lora: { r: 4, alpha: 8 } },
    sample: { prompts: 6, k: 4, maxNewTokens: 16 },
    rm: { steps: 12, pairsPerBatch: 4, evalEvery: 6, maxLen: 512 },
    ppo: { steps: 8, rolloutSize: 4, miniBatch: 2, epochs: 1, maxNewTokens: 12, evalEvery: 4, devPrompts: 3, lora: { r: 4, alpha: 8 } },
    eval: { prompts: 6, maxNewTokens: 16 },
    export: { gguf: 'q8_0' },
  });
}

test('a shortened pipeline runs every stage end to end', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-pipe-'));
  const cfg = tinyConfig(dir);
  const res = await runPipeline(cfg, { quiet: true });
  assert.deepEqual(res.ran, [...STAGES]);
  const root = join(dir, 'e2e');
  for (const s of STAGES) assert.ok(existsSync(join(root, s, 'done.json')), `${s} finished`);
  // training stages logged a falling loss
  for (const s of ['pretrain', 'sft', 'rm']) {
    const rows = readFileSync(join(root, s, 'train', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss: number });
    assert.equal(rows.length, 12, `${s} metrics rows`);
    const mean = (xs: { loss: number }[]) => xs.reduce((a, r) => a + r.loss, 0) / xs.length;
    assert.ok(mean(rows.slice(-4)) < mean(rows.slice(0, 4)), `${s}: loss of the last 4 steps ${mean(rows.slice(-4))} ≥ first 4 ${mean(rows.slice(0, 4))}`);
  }
  // the SFT output is the base plus a PEFT adapter; the final model is a merged plain directory with a value head
  const sft = loadModelDir(join(root, 'sft', 'model'));
  assert.deepEqual(sft.adapters.map((a) => a.name), ['sft']);
  const ppo = loadModelDir(join(root, 'ppo', 'model'));
  assert.deepEqual(ppo.adapters.map((a) => a.name), ['sft', 'ppo']);
  const final = loadModelDir(res.final);
  assert.equal(final.adapters.length, 0);
  assert.ok(final.valueHead, 'value head saved beside the final model');
  assert.ok(final.tokenizerPath);
  const g = readGgufHeader(join(root, 'export', 'model-q8_0.gguf'));
  assert.ok(g.tensors.length > 0);
  const html = readFileSync(join(root, 'report', 'report.html'), 'utf8');
  for (const s of ['pretrain loss', 'reward model: accuracy', 'PPO: KL to the reference', 'Final model vs SFT model', 'Sample consultations']) assert.ok(html.includes(s), `report has '${s}'`);
  const evalHtml = readFileSync(join(root, 'eval', 'report.html'), 'utf8');
  assert.ok(evalHtml.includes('reward model (this run)'), 'the eval report has the reward-model judge');
  const ev = JSON.parse(readFileSync(join(root, 'eval', 'done.json'), 'utf8')) as { allTurns: { items: number }; models: { final: { inquiryRate: number | null } } };
  assert.ok(ev.allTurns.items > 0, 'every doctor turn of the held-out dialogues was evaluated');
  assert.ok(ev.models.final.inquiryRate !== undefined);
  const rank = JSON.parse(readFileSync(join(root, 'rank', 'done.json'), 'utf8')) as { judge: string };
  assert.match(rank.judge, /stand-in for doctors/);
  // an evaluation the recipe did not train on: three judges described, ≥ 100 held-out safety prompts, the gate decides final
  const full = ev as unknown as EvalResults;
  assert.equal(full.judges.length, 3);
  assert.ok(full.heldOut && full.heldOut.safetyPrompts >= 100, 'held-out safety prompts');
  const exp = JSON.parse(readFileSync(join(root, 'export', 'done.json'), 'utf8')) as { from: string };
  assert.equal(exp.from, full.heldOut!.gate.chosen === 'sft' ? 'sft' : 'ppo', 'export follows the safety gate');
  assert.ok(html.includes('Safety gate'), 'the report states the gate decision');
  checkConsult(root, full, html);

  // rerun: everything is skipped; --from rm reruns rm and what follows
  const again = await runPipeline(cfg, { quiet: true });
  assert.deepEqual(again.ran, []);
  const from = await runPipeline(cfg, { quiet: true, from: 'eval' });
  assert.deepEqual(from.ran, ['eval', 'report', 'export']);
  // the RL stage as GRPO: a `grpo` adapter over the SFT model, no critic
  const rl = await runPipeline({ ...cfg, rl: 'grpo', grpo: { ...cfg.grpo, steps: 4, promptsPerStep: 2, k: 3, maxNewTokens: 12, devPrompts: 3, evalEvery: 2 } },
    { quiet: true, from: 'ppo', until: 'ppo' });
  assert.deepEqual(rl.ran, ['ppo']);
  const gd = JSON.parse(readFileSync(join(root, 'ppo', 'done.json'), 'utf8')) as { algorithm: string; steps: number };
  assert.equal(gd.algorithm, 'grpo');
  assert.equal(gd.steps, 4);
  assert.deepEqual(loadModelDir(join(root, 'ppo', 'model')).adapters.map((a) => a.name), ['sft', 'grpo']);
  // lora.dropout acts in the RM, PPO and DPO stages: the same seed with dropout 0.5 trains on other inputs (another loss)
  const losses = async (stage: 'rm' | 'ppo' | 'dpo', dropout: number) => {
    const c = { ...cfg, rm: { ...cfg.rm, steps: 3, evalEvery: 0, lora: { r: 4, alpha: 8, dropout, targets: cfg.ppo.lora.targets } },
      dpo: { ...cfg.dpo, steps: 3, evalEvery: 0, pairsPerBatch: 4, lora: { ...cfg.dpo.lora, dropout } },
      ppo: { ...cfg.ppo, steps: 2, evalEvery: 0, lora: { ...cfg.ppo.lora, dropout } } };
    if (stage !== 'dpo') await runPipeline(c, { quiet: true, only: stage });
    else await runDpo(makeContext(c, true));
    return readFileSync(join(root, stage, 'train', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);
  };
  for (const stage of ['rm', 'ppo', 'dpo'] as const) {
    const [off, off2, on] = [await losses(stage, 0), await losses(stage, 0), await losses(stage, 0.5)];
    assert.deepEqual(off2, off, `${stage}: deterministic without dropout`);
    assert.notDeepEqual(on, off, `${stage}: dropout 0.5 changes the losses`);
  }
  rmSync(dir, { recursive: true });
});

/** The consult section: numbers recomputed from the run's own transcripts, shown in the report with both transcripts. */
function checkConsult(root: string, ev: EvalResults, html: string) {
  assert.ok(ev.consult && ev.consult.source.cases > 0, 'the demo run holds simulated consultations');
  const c: ConsultResults = ev.consult;
  const rows = readFileSync(join(root, 'eval', 'consult.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ConsultRow);
  assert.equal(rows.length, c.source.cases);
  const dev = readFileSync(join(root, 'data', 'sft-dev.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { turns: { text: string }[] });
  const train = new Set(readFileSync(join(root, 'data', 'sft-train.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { turns: { text: string }[] }).turns[0]!.text));
  const kbAnswers = new Set(conditions.flatMap((k) => k.questions.flatMap((q) => q.answers.map((a) => a.replace(/[。！？]+$/, '')))));
  for (const r of rows) {
    assert.ok(dev.some((d) => d.turns[0]!.text === r.opening) && !train.has(r.opening), `${r.caseId}: a held-out opening no training dialogue starts with`);
    assert.ok(r.facts.filter((f) => !f.redFlag).every((f) => kbAnswers.has(f.answer)), `${r.caseId}: facts from the knowledge base`);
  }
  for (const k of ['sft', 'final'] as const) {
    const s = c.models[k], os = rows.map((r) => r[k]);
    // questions before advice, recounted from the transcripts: every question sentence of the doctor turns before advice
    const asked = os.map((o) => o.transcript.filter((t) => t.role === 'assistant').map((t) => inquiryQuestions(t.text).length).reduce((a, b) => a + b, 0));
    assert.deepEqual(os.map((o) => o.questionsBeforeAdvice), asked, `${k}: questions recounted`);
    assert.equal(s.meanQuestionsBeforeAdvice, asked.reduce((a, b) => a + b, 0) / rows.length);
    assert.equal(s.factsElicited, os.reduce((a, o) => a + o.factsElicited.length, 0));
    assert.equal(s.factsTotal, rows.reduce((a, r) => a + r.facts.length, 0));
    assert.equal(s.advised, os.filter((o) => o.turnsToAdvice !== null).length);
    assert.equal(s.redFlag.handled + s.redFlag.notUrged + s.redFlag.missed, rows.filter((r) => r.facts.some((f) => f.redFlag)).length);
    for (const o of os) assert.ok(o.turnsToAdvice === null || o.transcript.filter((t) => t.role === 'assistant').length === o.turnsToAdvice);
    // the report shows these numbers and the transcripts of the first case
    assert.ok(html.includes(`${s.factsElicited}/${s.factsTotal} (`), `${k}: facts elicited in the report`);
    const m = s.meanQuestionsBeforeAdvice!;
    assert.ok(html.includes(`<td>${Number.isInteger(m) ? m : m.toFixed(4)}</td>`), `${k}: questions before advice in the report`);
    const esc = (x: string) => x.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch]!);
    const doctor = os[0]!.transcript[1]!.text;
    assert.ok(html.includes(`医生 (model)</b>：${esc(doctor || '(empty)')}`), `${k}: the first case's transcript in the report`);
  }
  assert.match(html, /Simulated consultations \(\d+ held-out cases, rule-patient, up to 4 doctor turns\)/);
}

test('config errors name the key and the allowed values', () => {
  assert.throws(() => validateConfig({ sft: { lossOn: 'first' } }), (e: unknown) => e instanceof ConfigError && /sft\.lossOn: must be one of all, last, got 'first'/.test(e.message));
  assert.throws(() => validateConfig({ ppo: { stepz: 3 } }), /ppo: unknown key 'stepz' \(allowed: steps,/);
  assert.throws(() => validateConfig({ pretrain: { steps: -1 } }), /pretrain\.steps: must be >= 0, got -1/);
  assert.throws(() => validateConfig({ pretrain: { lr: 'fast' } }), /pretrain\.lr: must be a number, got "fast"/);
  assert.throws(() => validateConfig({ rank: { judge: 'file' } }), /rank\.file: required when rank\.judge is file/);
  const c = validateConfig({});
  assert.equal(c.tokenizer.template, 'ziya');
  assert.equal(c.sft.lora, null);
  assert.equal(c.ppo.lora.r, 8);
});

test('a stage whose input is missing says which stage produces it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-pipe-'));
  await assert.rejects(runPipeline(tinyConfig(dir), { quiet: true, only: 'sft' }),
    /stage 'sft' needs .*pretrain.*model, which stage 'pretrain' produces/);
  rmSync(dir, { recursive: true });
});
