// clean.test.ts — de-identification table (valid vs invalid resident-ID checksums, phone formats, emails, record
// numbers, marked names), normalisation, exact and near-duplicate removal, filters, and the counting invariant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deidentify, emptyCounts, isValidResidentId } from '../../src/data/deid.js';
import { normalizeText } from '../../src/data/normalize.js';
import { Cleaner, cleanBalanced } from '../../src/data/clean.js';
import { Hash64Set, hash64, NearDupIndex } from '../../src/data/minhash.js';
import { generateDemo } from '../../src/data/demo/index.js';
import type { Conversation, PlainText } from '../../src/data/types.js';

test('resident ID checksum (ISO 7064 MOD 11-2) and birth date', () => {
  const table: [string, boolean][] = [
    ['110105199001011232', true],
    ['440304200112314566', true],
    ['32010219850615789X', true],
    ['32010219850615789x', true],
    ['510107197703030014', true],
    ['110105199001011233', false], // check digit off by one
    ['440304200112314560', false],
    ['320102198506157890', false], // X expected
    ['110105199013011232', false], // month 13
    ['11010519900101123', false], // 17 digits
    ['1101051990010112323', false], // 19 digits
  ];
  for (const [id, ok] of table) assert.equal(isValidResidentId(id), ok, id);
});

test('de-identification table: positives replaced by typed placeholders, negatives untouched', () => {
  const pos: [string, string][] = [
    ['我的电话13812345678请回电', '我的电话[手机号]请回电'],
    ['手机：138 1234 5678', '手机：[手机号]'],
    ['联系 138-1234-5678。', '联系 [手机号]。'],
    ['+86 15912345678', '[手机号]'],
    ['8619912345678', '[手机号]'],
    ['座机010-12345678转分机', '座机[电话]转分机'],
    ['电话（0755）1234567', '电话[电话]'],
    ['0571 87654321', '[电话]'],
    ['身份证110105199001011232，', '身份证[身份证号]，'],
    ['身份证号32010219850615789X', '身份证号[身份证号]'],
    ['邮箱 zhang.san@example.com.cn 联系', '邮箱 [邮箱] 联系'],
    ['住院号：ZY2023001234', '住院号：[编号]'],
    ['病历号 A12345', '病历号 [编号]'],
    ['门诊卡号:987654321', '门诊卡号:[编号]'],
    ['编号123456789012345', '编号[编号]'],
    ['患者姓名：王小明，男，45岁', '患者姓名：[姓名]，男，45岁'],
    ['联系人: 李华', '联系人: [姓名]'],
  ];
  for (const [input, want] of pos) assert.equal(deidentify(input), want, input);
  const neg = [
    '血压150/95mmHg，心率88次/分',
    '体温38.5度，持续3天',
    '2023年10月1日开始咳嗽',
    '身高157厘米，体重88斤',
    '12812345678', // 12x is not a mobile prefix
    '1381234567', // 10 digits
    '138123456789', // 12 digits: no mobile inside a longer number (it is a long number, see below)
    '110105199001011233', // bad checksum: not an ID (a long number instead)
    '维生素D 400IU，每日一次',
    '复查血常规，白细胞12.5×10^9/L',
    '王医生建议我多休息', // unmarked names are left alone
    '请在ID栏填写', // a label without a number
  ];
  for (const s of neg) {
    const out = deidentify(s);
    assert.ok(!out.includes('[手机号]') && !out.includes('[身份证号]') && !out.includes('[电话]') && !out.includes('[姓名]'), `${s} → ${out}`);
  }
  assert.equal(deidentify('138123456789'), '[编号]');
  assert.equal(deidentify('110105199001011233'), '[编号]');
  for (const s of neg.slice(0, 7).concat(neg.slice(8))) if (s !== '138123456789') assert.equal(deidentify(s), s, s);
  // counted by type; listed names replaced wherever they occur
  const c = emptyCounts();
  assert.equal(deidentify('张伟说13812345678和zhang@a.cn；张伟', c, { names: ['张伟'] }), '[姓名]说[手机号]和[邮箱]；[姓名]');
  assert.deepEqual(c, { email: 1, idCard: 0, mobile: 1, landline: 0, record: 0, name: 2 });
});

test('normalisation: NFKC (full-width letters/digits, compatibility forms) but Chinese punctuation kept; whitespace', () => {
  assert.equal(normalizeText('ＡＢＣ１２３，血压１５０／９５？'), 'ABC123，血压150/95？');
  assert.equal(normalizeText('  头痛\u200b三天\u3000\u3000了 \r\n\r\n\r\n\r\n有点发热  '), '头痛三天 了\n\n有点发热');
  assert.equal(normalizeText('㎎ ﬁ'), 'mg fi');
});

function conv(u: string, a: string): Conversation {
  return { kind: 'conversation', turns: [{ role: 'user', text: u }, { role: 'assistant', text: a }], meta: {} };
}

test('cleaner: exact dups after normalisation, near dups by MinHash/LSH, filters; every drop counted', () => {
  const base = '最近一周总是头痛，尤其是下午比较明显，有时伴有恶心，没有发烧，睡眠也不太好，请问需要做什么检查吗';
  const recs = [
    conv(base, '请问头痛是哪个部位？'),
    conv(base + '  ', '请问头痛是哪个部位？'), // exact after normalisation
    conv(base.replace('一周', '七天'), '请问头痛是哪个部位？'), // near
    conv('膝盖疼，上下楼梯更明显，已经两个月了，休息后会好一些，没有外伤史，想知道是不是关节炎', '疼痛在膝盖的哪一侧？'),
    conv('嗯', '好'), // too short
    { kind: 'conversation', turns: [{ role: 'user', text: 'a'.repeat(30) }, { role: 'assistant', text: 'b'.repeat(30) }, { role: 'user', text: 'c'.repeat(30) }, { role: 'assistant', text: 'd'.repeat(30) }, { role: 'user', text: 'e'.repeat(30) }, { role: 'assistant', text: 'f'.repeat(30) }], meta: {} } as Conversation,
    { kind: 'text', text: '\u200b \u3000' } as PlainText, // empty after normalisation
  ];
  const cl = new Cleaner({ nearDup: true, deid: true, minChars: 10, maxTurns: 4 });
  const out = recs.map((r) => cl.push(r)).filter((r) => r !== null);
  assert.equal(out.length, 2);
  const r = cl.report;
  assert.deepEqual(r.dropped, { empty: 1, tooShort: 1, tooLong: 0, tooFewTurns: 0, tooManyTurns: 1, exactDup: 1, nearDup: 1 });
  assert.ok(cleanBalanced(r));
  assert.equal(r.recordsIn, 7);
});

test('MinHash LSH: similar texts caught, different ones kept; the 64-bit set is exact', () => {
  const idx = new NearDupIndex({ seed: 7 });
  const topics = ['头痛', '咳嗽', '腹泻', '皮疹', '失眠', '腰痛', '胸闷', '牙痛'];
  let kept = 0;
  for (let i = 0; i < 200; i++) {
    const t = `患者主诉${topics[i % 8]}已有${i}天，第${i * 7919 % 1000}号样本，描述：${'这是一段用于测试的文字'.slice(i % 5)}${i}`;
    if (!idx.isNearDuplicate(t)) kept++;
  }
  assert.ok(kept > 190, `distinct texts kept: ${kept}`);
  const long = '孩子三岁，昨晚开始发热，最高三十九度，精神还可以，吃奶正常，没有抽搐，也没有皮疹，大便正常，小便也正常，想问问需不需要马上去医院';
  assert.equal(idx.isNearDuplicate(long), false);
  assert.equal(idx.isNearDuplicate(long.replace('三岁', '3岁')), true);
  assert.equal(idx.isNearDuplicate(long.slice(0, 30) + '完全不同的一段后续描述内容，包括各种其他的症状和检查结果以及用药的情况'), false);
  const s = new Hash64Set(4);
  for (let i = 0; i < 10000; i++) assert.equal(s.add(hash64(`k${i}`)), true);
  for (let i = 0; i < 10000; i += 97) assert.equal(s.add(hash64(`k${i}`)), false);
  assert.equal(s.size, 10000);
});

test('near-dup threshold is sharp: pairs of known shingle Jaccard below 0.6 kept, above 0.85 caught', () => {
  const d = generateDemo(9, { pretrain: 0, qa: 0, consultations: 120, safety: 0, rankings: 0 });
  const shingles = (t: string) => { const s = new Set<string>(); for (let i = 0; i + 5 <= t.length; i++) s.add(t.slice(i, i + 5)); return s; };
  const jaccard = (a: Set<string>, b: Set<string>) => { let x = 0; for (const v of a) if (b.has(v)) x++; return x / (a.size + b.size - x); };
  const low = [0, 0], high = [0, 0];
  d.consultations.forEach((c, i) => {
    const base = c.turns.map((t) => t.text).join('');
    for (const frac of [0.01, 0.03, 0.1, 0.2]) {
      const a = [...base];
      for (let k = 0; k < a.length * frac; k++) a[(k * 7919 + i) % a.length] = '码';
      const m = a.join('');
      const j = jaccard(shingles(base), shingles(m));
      const idx = new NearDupIndex();
      idx.isNearDuplicate(base);
      const dup = idx.isNearDuplicate(m);
      if (j < 0.6) { low[0]++; if (dup) low[1]++; }
      if (j >= 0.85) { high[0]++; if (dup) high[1]++; }
    }
  });
  assert.ok(low[0]! > 50 && high[0]! > 50, `${low} ${high}`);
  assert.ok(low[1]! / low[0]! <= 0.02, `false positives ${low[1]}/${low[0]}`);
  assert.ok(high[1]! / high[0]! >= 0.9, `recall ${high[1]}/${high[0]}`);
});

test('near-dup index memory cap: checked but not indexed past it, and reported', () => {
  const idx = new NearDupIndex({ maxBytes: 3 * 2 ** 20 });
  const texts: string[] = [];
  for (let i = 0; i < 20000; i++) texts.push(`样本${i}：${(i * 2654435761 % 1000003).toString(36)}患者描述头痛${i % 97}天伴${(i * 7) % 13}次呕吐，编号${i * 31}`);
  for (const t of texts) idx.isNearDuplicate(t);
  assert.ok(idx.indexFullAt !== undefined && idx.indexFullAt < 20000, `full at ${idx.indexFullAt}`);
  assert.ok(idx.bytes() <= 3 * 2 ** 20, `${idx.bytes()} bytes`);
  // documents indexed before the cap are still found
  assert.equal(idx.isNearDuplicate(texts[0]!), true);
});
