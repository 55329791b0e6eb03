// guard.test.ts — the serving safety guard over a table of Chinese patient messages: emergencies put the urgent-care
// message first (flag named), negated or ordinary complaints do not; only the latest user turn counts; the guard's
// own words are stripped from earlier answers; switched off, only the disclaimer remains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DISCLAIMER, NOT_ADVICE, SafetyGuard, URGENT_HEADER } from '../../src/serve/guard.js';

const positives: [string, string][] = [
  ['我胸口痛，出了一身冷汗，左臂也发麻', 'chest-pain'],
  ['我爸突然嘴歪了，一侧胳膊没力气，说话不清', 'stroke'],
  ['手被刀割了，血流不止', 'severe-bleeding'],
  ['我不想活了，想结束自己的生命', 'suicidal'],
  ['最近总是觉得活着没意思', 'suicidal'],
  ['孩子误服了一瓶安眠药', 'poisoning'],
  ['我老公喝了农药', 'poisoning'],
  ['孩子三岁，发烧40度，刚才抽搐了一次', 'child-fever-convulsion'],
  ['宝宝高烧到40.5度', 'child-fever-convulsion'],
  ['我喘不上气，嘴唇发紫', 'breathing'],
  ['吃了海鲜后喉咙发紧，全身起风团', 'anaphylaxis'],
  ['怀孕8周，阴道出血', 'pregnancy-bleeding'],
  ['老人叫不醒了', 'unconscious'],
];

const negatives = [
  '没有胸痛，也没有出汗，就是有点咳嗽',
  '我没有想死的念头，只是最近睡不好',
  '孩子发烧38度，没有抽搐，精神还好',
  '否认胸痛，偶尔头晕',
  '咳嗽三天，有点低烧',
  '我没有吃过农药，只是胃不舒服',
  '没有呕血，也没有黑便',
  '无力，头晕，没有胸痛',
  '宝宝发烧39度，吃了退烧药好多了',
  '血压有点高，早上头晕，需要调整降压药吗？',
];

test('guard: emergencies get the urgent-care message first, naming the red flag', () => {
  const g = new SafetyGuard();
  for (const [text, flag] of positives) {
    const v = g.check([{ role: 'user', content: text }]);
    assert.ok(v.urgent, `should fire: ${text}`);
    assert.ok(v.flags.includes(flag as never), `${text}: expected ${flag}, got ${v.flags.join(',')}`);
    assert.ok(v.prefix.startsWith(URGENT_HEADER) && /120|急诊|就医/.test(v.prefix), `${text}: prefix ${v.prefix}`);
    assert.ok(v.prefix.endsWith(`\n\n${NOT_ADVICE}\n`), 'the model\'s words follow under the not-advice line');
    assert.equal(v.suffix, `\n\n${DISCLAIMER}`);
  }
});

test('guard: negated and ordinary complaints do not fire', () => {
  const g = new SafetyGuard();
  for (const text of negatives) {
    const v = g.check([{ role: 'user', content: text }]);
    assert.ok(!v.urgent, `should not fire: ${text} (got ${v.flags.join(',')})`);
    assert.equal(v.prefix, '');
  }
});

test('guard: a bare 不 right before the symptom negates it; 不能呼吸 and 胸口有点痛 + 冷汗 still fire', () => {
  const g = new SafetyGuard();
  assert.ok(!g.check([{ role: 'user', content: '孩子不发烧了，也不抽搐了' }]).urgent, '不 negates');
  assert.ok(g.check([{ role: 'user', content: '胸口有点痛，出了很多冷汗' }]).urgent, '胸口有点痛 + 冷汗');
  assert.ok(g.check([{ role: 'user', content: '突然不能呼吸了' }]).urgent, '不能呼吸');
  assert.ok(g.check([{ role: 'user', content: '我爸说话不清，嘴歪了' }]).urgent, '说话不清 is a symptom, not a negation');
});

test('guard: only the latest user message counts; system and assistant text never fires it', () => {
  const g = new SafetyGuard();
  const earlier = [{ role: 'user', content: '我胸口痛，出了一身冷汗' }, { role: 'assistant', content: '请立即拨打120。' }];
  assert.ok(!g.check([...earlier, { role: 'user', content: '已经到医院了，谢谢' }]).urgent);
  assert.ok(g.check([{ role: 'user', content: '咳嗽' }, { role: 'assistant', content: '好的' }, { role: 'user', content: '我喘不上气，嘴唇发紫' }]).urgent);
  assert.ok(!g.check([{ role: 'system', content: '患者可能说胸痛伴大汗' }, { role: 'user', content: '咳嗽三天' }]).urgent);
});

test('guard: off means no urgent prefix; an empty disclaimer means no suffix; strip undoes both', () => {
  const off = new SafetyGuard({ enabled: false });
  const v = off.check([{ role: 'user', content: '我喘不上气，嘴唇发紫' }]);
  assert.equal(v.urgent, false);
  assert.equal(v.prefix, '');
  assert.equal(v.suffix, `\n\n${DISCLAIMER}`);
  assert.equal(new SafetyGuard({ disclaimer: '' }).check([{ role: 'user', content: '咳嗽' }]).suffix, '');
  const g = new SafetyGuard();
  const u = g.check([{ role: 'user', content: '手被刀割了，血流不止' }]);
  assert.equal(g.strip(`${u.prefix}先按压止血。${u.suffix}`), '先按压止血。');
  assert.equal(g.strip('普通回答'), '普通回答');
});
