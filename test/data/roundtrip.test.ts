// roundtrip.test.ts — convert → load gives back the same records, for every output format, on our fixtures and
// (when present) on real files from ../shared/refdata.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFile } from '../../src/data/load.js';
import { toLine, outFormats, type OutFormat } from '../../src/data/writers.js';
import type { DataRecord } from '../../src/data/types.js';

const FIX = fileURLToPath(new URL('../../../test/fixtures/data/', import.meta.url));
const REF = fileURLToPath(new URL('../../../../shared/refdata/', import.meta.url));

/** What must survive a round trip: everything but where it came from and which shape it was read as. */
function essence(r: DataRecord): unknown {
  const { source: _s, ...rest } = r as DataRecord & { source?: unknown };
  if (rest.kind === 'conversation') {
    const { shape: _shape, ...m } = rest.meta;
    return { ...rest, meta: m };
  }
  return rest;
}

async function roundTrip(file: string, fmt: OutFormat, dir: string): Promise<void> {
  const a = await loadFile(file);
  const out = join(dir, `out.${fmt}.jsonl`);
  writeFileSync(out, a.records.map((r, i) => toLine(r, fmt, i)).join('\n') + '\n');
  const b = await loadFile(out);
  assert.equal(b.records.length, a.records.length, `${file} → ${fmt}`);
  assert.deepEqual(b.records.map(essence), a.records.map(essence), `${file} → ${fmt}`);
}

test('convert → load round trips on fixtures (conversations in every format; choices, rankings, text as jsonl)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-rt-'));
  try {
    for (const fmt of outFormats) {
      await roundTrip(FIX + 'packed.jsonl', fmt, dir);
      await roundTrip(FIX + 'bom-crlf.csv', fmt, dir);
    }
    for (const f of ['choice.jsonl', 'pairs.jsonl', 'object-map.json', 'jsonl-named.json', 'gb18030.txt']) {
      const opts = f === 'choice.jsonl' ? { onError: 'skip' as const } : {};
      const a = await loadFile(FIX + f, opts);
      const out = join(dir, 'x.jsonl');
      writeFileSync(out, a.records.map((r, i) => toLine(r, 'jsonl', i)).join('\n') + '\n');
      const b = await loadFile(out);
      // a preference set without an id gets one when written (the ranking format requires it)
      const drop = (r: DataRecord, i: number) => {
        const e = essence(r) as Record<string, unknown>;
        if (r.kind === 'preference' && (a.records[i] as { id?: string }).id === undefined) delete e.id;
        return e;
      };
      assert.deepEqual(b.records.map(drop), a.records.map(drop), f);
    }
    // the ranking set read from the tool's object map keeps its ids and stays unranked
    const a = await loadFile(FIX + 'object-map.json');
    assert.match(toLine(a.records[0]!, 'jsonl', 0), /^\{"id":"a","history":\[\],"prompt":"谢谢","candidates":\[\{"id":"c0"/);
    // formats that cannot hold a record refuse it
    assert.throws(() => toLine(a.records[0]!, 'alpaca', 0), /a preference record cannot be written as alpaca/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('convert → load round trips on refdata dialogues (CMtMedQA incl. safety prompts, DISC, liver-cancer, Toyhom)', { skip: !existsSync(REF) && `${REF} absent` }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zj-rt-'));
  try {
    for (const fmt of outFormats) {
      await roundTrip(REF + 'zhongjing/CMtMedQA_test.json', fmt, dir);
      await roundTrip(REF + 'huatuo-llama-med/data-literature/liver_cancer.json', fmt, dir);
      await roundTrip(REF + 'toyhom-cmd/样例_内科5000-6000.csv', fmt, dir);
    }
    await roundTrip(REF + 'disc-medllm/train/data/test_examples.jsonl', 'messages', dir);
    await roundTrip(REF + 'disc-medllm/train/data/test_examples.jsonl', 'sharegpt', dir);
    await roundTrip(REF + 'zhongjing/rlhf_label_tool/output_result.tsv', 'jsonl', dir);
    await roundTrip(REF + 'cmmlu/data/test/anatomy.csv', 'jsonl', dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
