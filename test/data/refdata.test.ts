// refdata.test.ts — every dialogue, Q&A, preference, multiple-choice and text file in ../shared/refdata loads as the
// right shape with the counts stated in the folders' READMEs. Reads them in place (never copied); skips when absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadFile } from '../../src/data/load.js';
import { DataError } from '../../src/data/errors.js';
import type { Conversation, DataRecord, MultipleChoice, PreferenceSet } from '../../src/data/types.js';

const ROOT = fileURLToPath(new URL('../../../../shared/refdata/', import.meta.url));
const present = existsSync(ROOT);
const p = (f: string) => ROOT + f;

function convs(rs: DataRecord[]): Conversation[] {
  return rs.filter((r): r is Conversation => r.kind === 'conversation');
}
function answered(c: Conversation): boolean {
  return c.turns[c.turns.length - 1]!.role === 'assistant';
}

interface Case {
  file: string;
  kind: DataRecord['kind'];
  shape: string;
  count: number;
  encoding?: string;
  check?: (rs: DataRecord[]) => void;
}

const cases: Case[] = [
  {
    file: 'zhongjing/CMtMedQA_test.json', kind: 'conversation', shape: 'alpaca', count: 1144,
    check(rs) {
      const c = convs(rs);
      const dialogues = c.filter((x) => !x.meta.safety), safety = c.filter((x) => x.meta.safety);
      assert.equal(dialogues.length, 1000);
      assert.equal(safety.length, 144);
      // README: 0–9 earlier pairs, mean 3.55 (3,552 pairs in the file) + 1,000 final pairs
      const pairs = dialogues.reduce((s, x) => s + x.turns.length / 2, 0);
      assert.equal(pairs, 4552);
      assert.ok(dialogues.every((x) => x.meta.department && x.turns.length >= 2 && x.turns.length <= 20));
      assert.ok(safety.every((x) => x.turns.length === 2 && answered(x)));
      assert.equal(dialogues[0]!.meta.id, 'j4219');
      assert.equal(dialogues[0]!.meta.department, '肿瘤科');
    },
  },
  {
    file: 'zhongjing/huatuo26M_test.json', kind: 'conversation', shape: 'alpaca', count: 6000,
    check(rs) { assert.ok(convs(rs).every((c) => c.turns.length === 2 && answered(c))); },
  },
  {
    file: 'zhongjing/rlhf_label_tool/input_file.json', kind: 'preference', shape: 'ranking-tool', count: 10,
    check(rs) {
      for (const r of rs as PreferenceSet[]) { assert.equal(r.candidates.length, 4); assert.deepEqual(r.ranking, []); }
      assert.equal((rs[5] as PreferenceSet).id, '5');
      assert.ok((rs[5] as PreferenceSet).history.length >= 2);
    },
  },
  {
    file: 'zhongjing/rlhf_label_tool/output_result.tsv', kind: 'preference', shape: 'ranking-tsv', count: 2,
    check(rs) {
      const r = rs[1] as PreferenceSet;
      assert.equal(r.id, '2');
      assert.deepEqual(r.ranking, [['c0'], ['c1'], ['c2'], ['c3']]);
    },
  },
  { file: 'zhongjing/total_dataset.tsv', kind: 'preference', shape: 'ranking-tsv', count: 1 },
  {
    file: 'huatuo-llama-med/data/llama_data.json', kind: 'conversation', shape: 'alpaca', count: 8658,
    check(rs) { assert.ok(convs(rs).every((c) => c.turns.length === 2)); },
  },
  {
    file: 'huatuo-llama-med/data-literature/liver_cancer.json', kind: 'conversation', shape: 'alpaca', count: 1000,
    check(rs) {
      const c = convs(rs);
      assert.ok(c.every((x) => answered(x) && !x.turns.some((t) => t.text.includes('<user>:') || t.text.includes('<bot>:'))));
      assert.ok(c.filter((x) => x.turns.length >= 4).length > 500, 'packed <user>/<bot> histories become turns');
    },
  },
  {
    file: 'huatuo-llama-med/benchmark/question.json', kind: 'conversation', shape: 'qa', count: 200,
    check(rs) { assert.ok(convs(rs).every((c) => c.turns.length === 1 && c.meta.extra?.['ICD-10'])); },
  },
  {
    file: 'medicalgpt/data/sft/medical_sft_1K_format.jsonl', kind: 'conversation', shape: 'sharegpt', count: 1000,
    check(rs) { assert.ok(convs(rs).every((c) => c.turns.length === 2 && answered(c))); },
  },
  {
    file: 'disc-medllm/train/data/test_examples.jsonl', kind: 'conversation', shape: 'messages', count: 163,
    check(rs) {
      // README says 2–12 messages; the file holds one of 14 and three that end on the patient (kept as prompts)
      const c = convs(rs);
      assert.ok(c.every((x) => x.turns.length >= 2 && x.turns.length <= 14));
      assert.equal(c.filter(answered).length, 160);
    },
  },
  {
    file: 'huatuogpt/eval/Med-dialog_100.json', kind: 'conversation', shape: 'qa', count: 100,
    check(rs) { assert.ok(convs(rs).every((c) => c.turns.length === 2 && c.meta.department)); },
  },
  {
    file: 'huatuogpt/eval/KUAKE-QIC_100.json', kind: 'conversation', shape: 'qa', count: 100,
    check(rs) {
      const c = convs(rs);
      assert.ok(c.every((x) => x.turns.length === 1 && x.meta.extra?.label));
      assert.equal(new Set(c.map((x) => x.meta.extra!.label)).size, 10);
    },
  },
  {
    file: 'chatmed/src/web_services/test_examples/ChatMed-Consult_test.json', kind: 'conversation', shape: 'qa', count: 450,
    check(rs) { assert.ok(convs(rs).every((c) => c.turns.length === 2 && !c.turns[0]!.text.includes('<s>') && !/^问[:：]/.test(c.turns[0]!.text) && !/答[:：]\s*$/.test(c.turns[0]!.text))); },
  },
  {
    file: 'bianque/data/cMedialog_example.csv', kind: 'conversation', shape: 'input-target', count: 128,
    check(rs) { assert.ok(convs(rs).every((c) => c.turns.length === 2 && !c.turns[0]!.text.startsWith('病人'))); },
  },
  {
    file: 'toyhom-cmd/样例_内科5000-6000.csv', kind: 'conversation', shape: 'qa', count: 7644, encoding: 'gb18030',
    check(rs) {
      const c = convs(rs);
      assert.ok(c.every((x) => x.meta.department && x.turns.length === 2));
      assert.equal(c[0]!.meta.department, '心血管科');
    },
  },
  ...['train', 'dev', 'test'].map((s): Case => ({
    file: `promptcblue/datasets/PromptCBLUE/toy_examples/${s}.json`, kind: 'conversation', shape: 'input-target', count: 80,
    check(rs) {
      const c = convs(rs);
      assert.equal(new Set(c.map((x) => x.meta.extra?.task_dataset)).size, 16);
      // the test split hides its targets: prompts without answers, not empty turns
      assert.equal(c.filter(answered).length, s === 'test' ? 0 : 80);
    },
  })),
  { file: 'medicalgpt/data/pretrain/fever.txt', kind: 'text', shape: 'text', count: 985 },
  // text: one record per non-empty line; the README gives all lines (LF) — 5,468 / 3,426 / 1,145 / 1,797
  {
    file: 'tcm-ancient-books/000-神农本草经.txt', kind: 'text', shape: 'text', count: 3576, encoding: 'gb18030',
    check(rs) {
      assert.ok(rs.every((r) => r.kind === 'text' && !r.text.includes('\r')), 'lone CRs split lines, never kept');
      assert.ok(rs[rs.length - 1]!.source!.line <= 5468);
      assert.equal((rs[0] as { text: string }).text, '<篇名>神农本草经');
    },
  },
  { file: 'tcm-ancient-books/437-黄帝内经素问.txt', kind: 'text', shape: 'text', count: 3004, encoding: 'gb18030' },
  { file: 'tcm-ancient-books/457-伤寒论.txt', kind: 'text', shape: 'text', count: 1093, encoding: 'gb18030' },
  { file: 'tcm-ancient-books/499-金匮要略方论.txt', kind: 'text', shape: 'text', count: 1670, encoding: 'gb18030' },
];

const cmmlu: [string, number][] = [['anatomy', 148], ['clinical_knowledge', 237], ['college_medical_statistics', 106],
  ['college_medicine', 273], ['genetics', 176], ['nutrition', 145], ['professional_medicine', 376],
  ['traditional_chinese_medicine', 185], ['virology', 169]];
const ceval: [string, number, number][] = [['basic_medicine', 19, 175], ['clinical_medicine', 22, 200], ['physician', 49, 443], ['veterinary_medicine', 23, 210]];

test('refdata: every dialogue / Q&A / preference / text file loads as its shape with README counts', { skip: !present && `${ROOT} absent` }, async () => {
  for (const c of cases) {
    const { records, report } = await loadFile(p(c.file));
    assert.equal(report.rejected, 0, `${c.file}: ${report.problems.map((x) => x.line + ' ' + x.reason).join('; ')}`);
    assert.equal(records.length, c.count, c.file);
    assert.equal(report.recordsIn, report.recordsOut + report.rejected);
    assert.ok(records.every((r) => r.kind === c.kind), `${c.file}: all ${c.kind}`);
    assert.deepEqual(Object.keys(report.shapes), [c.shape], c.file);
    if (c.encoding) assert.equal(report.encoding, c.encoding, c.file);
    assert.ok(records.every((r) => r.source && r.source.line >= 1), `${c.file}: every record has file:line`);
    c.check?.(records);
  }
});

test('refdata: multiple choice — CMMLU (1,815 test items, all answered) and C-Eval (val answered, test flagged)', { skip: !present && `${ROOT} absent` }, async () => {
  let total = 0;
  for (const [s, n] of cmmlu) {
    const { records } = await loadFile(p(`cmmlu/data/test/${s}.csv`));
    assert.equal(records.length, n, s);
    const mc = records as MultipleChoice[];
    assert.ok(mc.every((r) => r.kind === 'choice' && r.options.length === 4 && !r.answerMissing && /^[ABCD]$/.test(r.answer!)), s);
    total += n;
    const dev = await loadFile(p(`cmmlu/data/dev/${s}.csv`));
    assert.equal(dev.records.length, 5);
  }
  assert.equal(total, 1815);
  let val = 0, testN = 0, dev = 0;
  for (const [s, nv, nt] of ceval) {
    const v = (await loadFile(p(`ceval/val/${s}_val.csv`))).records as MultipleChoice[];
    assert.equal(v.length, nv);
    assert.ok(v.every((r) => !r.answerMissing));
    val += v.length;
    const t = (await loadFile(p(`ceval/test/${s}_test.csv`))).records as MultipleChoice[];
    assert.equal(t.length, nt);
    assert.ok(t.every((r) => r.answerMissing && r.answer === undefined), 'C-Eval test labels are hidden: flagged');
    testN += t.length;
    const d = (await loadFile(p(`ceval/dev/${s}_dev.csv`))).records as MultipleChoice[];
    assert.ok(d.every((r) => r.explanation && !r.answerMissing));
    dev += d.length;
  }
  assert.deepEqual([val, testN, dev], [113, 1028, 20]);
  // CRLF: no option text keeps a trailing \r
  const v = (await loadFile(p('ceval/val/physician_val.csv'))).records as MultipleChoice[];
  assert.ok(v.every((r) => !/\r/.test(r.options.map((o) => o.text).join('') + r.answer)));
});

test('refdata: knowledge-graph and extraction-label files are refused, or read whole with --as text', { skip: !present && `${ROOT} absent` }, async () => {
  for (const f of ['medical-kg/data/medical2.json', 'mie/data/test.json', 'mie/data/ontology.json']) {
    await assert.rejects(loadFile(p(f)), (e: unknown) => e instanceof DataError && /unsupported shape/.test(e.message) && e.message.startsWith(p(f) + ':'));
  }
  const kg = await loadFile(p('medical-kg/data/medical2.json'), { as: 'text' });
  assert.equal(kg.records.length, 20);
  const mie = await loadFile(p('mie/data/test.json'), { as: 'text' });
  assert.equal(mie.records.length, 160);
});
