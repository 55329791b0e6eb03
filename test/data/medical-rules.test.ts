// medical-rules.test.ts — tables of positive and negative cases for the red-flag detector (negations must not
// fire), the proactive-inquiry detector (pleasantries and rhetorical questions are not inquiry) and the
// refusal / redirect-to-care detector.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asksQuestion, detectRedFlags, refusesOrRedirects, type RedFlag } from '../../src/data/medical-rules.js';

test('red flags: positives fire the right flag with an urgent message', () => {
  const table: [string, RedFlag][] = [
    ['我爸突然胸痛，满头大汗，已经二十分钟了', 'chest-pain'],
    ['胸口痛得厉害，还往左臂放射', 'chest-pain'],
    ['胸口压榨样疼痛', 'chest-pain'],
    ['我妈早上起来嘴歪了，说话不清楚', 'stroke'],
    ['老人一侧胳膊突然没力气，一侧肢体无力', 'stroke'],
    ['突然说话不清，右边半身无力', 'stroke'],
    ['手被刀割了，血流不止', 'severe-bleeding'],
    ['今天吐血了好几口', 'severe-bleeding'],
    ['我真的不想活了', 'suicidal'],
    ['最近总想自杀', 'suicidal'],
    ['孩子误服了奶奶的降压药', 'poisoning'],
    ['他一次吃了一整瓶安眠药', 'poisoning'],
    ['家里烧炭，可能一氧化碳中毒了', 'poisoning'],
    ['宝宝发烧40度，刚才抽搐了一下', 'child-fever-convulsion'],
    ['孩子3岁，高烧40.5℃', 'child-fever-convulsion'],
    ['女儿发热后突然翻白眼、四肢抖动', 'child-fever-convulsion'],
    ['喘不上气，嘴唇发紫', 'breathing'],
    ['吃了海鲜后喉咙发紧，全身起风团', 'anaphylaxis'],
    ['被蜂蜇了以后舌头肿了', 'anaphylaxis'],
    ['我奶奶叫不醒了', 'unconscious'],
    ['怀孕8周，今天阴道出血', 'pregnancy-bleeding'],
    ['四肢无力伴胸痛，出冷汗', 'chest-pain'],
    ['无明显诱因出现胸痛，伴大汗', 'chest-pain'],
    ['心口疼得厉害，满身大汗，快一个小时了', 'chest-pain'],
    ['早上起床发现右手右脚不听使唤，口齿不清', 'stroke'],
    ['我妈突然半边身子动不了', 'stroke'],
    ['摔了一跤，头上的伤口一直流血不止', 'severe-bleeding'],
    ['大便是黑的，还头晕眼前发黑', 'severe-bleeding'],
    ['活着没意思，想一了百了', 'suicidal'],
    ['我把一整瓶布洛芬都吃了', 'poisoning'],
    ['喝了农药，现在恶心', 'poisoning'],
    ['孩子10个月，发烧后抽风了', 'child-fever-convulsion'],
    ['宝宝两岁，体温40.2度', 'child-fever-convulsion'],
    ['憋气，上不来气，说不了整句话', 'breathing'],
    ['打完青霉素后全身起疹子，喉咙发紧', 'anaphylaxis'],
    ['老人晕倒了，叫他没反应', 'unconscious'],
    ['孕32周，肚子剧痛还见红', 'pregnancy-bleeding'],
  ];
  for (const [text, flag] of table) {
    const r = detectRedFlags(text);
    assert.ok(r.flags.includes(flag), `${text} → ${r.flags.join(',') || 'nothing'} (want ${flag})`);
    assert.ok(r.urgent && r.message.length > 10, text);
  }
});

test('red flags: negations, mild complaints and other contexts do not fire', () => {
  const table = [
    '没有胸痛，也没有出汗，就是有点咳嗽',
    '否认胸痛，偶尔胸闷',
    '胸闷但没有出汗，也没有放射痛',
    '我没有想自杀，只是最近睡不好',
    '孩子发烧38.2度，精神还好，没有抽搐',
    '孩子37.8度，吃奶正常',
    '没有呼吸困难，就是鼻塞流涕',
    '我对青霉素过敏，想问能用头孢吗', // allergy history, no reaction now
    '膝盖疼了两个月，上下楼梯明显',
    '最近失眠，白天没精神',
    '牙龈刷牙时有点出血',
    '怀孕20周，想问能不能吃海鲜',
    '我爸血压150/95，要吃药吗',
    '没有误服任何药物',
    '无胸痛，无呼吸困难，无昏迷',
    '我以前做过支架，现在没有胸痛，想问复查时间',
    '最近有点胸闷，没有出汗，也没有疼痛放射，休息就好',
    '孩子发烧38.5度，没有抽搐，精神好',
    '想问问吃了过期的维生素有没有影响',
    '刷牙出血，量很少',
    '我对花粉过敏，春天会打喷嚏',
    '怀孕12周了，可以运动吗',
    '最近心情不好，但没有伤害自己的想法',
    '腰疼三天，弯腰时加重',
    '宝宝两岁，体温37.5度，流鼻涕',
    '吃了铁剂以后大便发黑，没有别的不舒服',
    '胸口不疼，出汗是因为天热',
  ];
  for (const t of table) {
    const r = detectRedFlags(t);
    assert.deepEqual(r.flags, [], `${t} → ${r.flags.join(',')}`);
    assert.equal(r.urgent, false);
    assert.equal(r.message, '');
  }
});

test('proactive inquiry: doctor turns that ask the patient something', () => {
  const yes = [
    '请问头痛持续多久了？',
    '疼痛是在左边还是右边呢',
    '您有没有发烧',
    '孩子平时吃奶怎么样？有没有呕吐？',
    '为了更好地判断，想了解一下您最近的饮食情况。',
    '先别着急。请描述一下疼痛的性质。',
    '这种情况要看具体原因。您之前做过胃镜吗？',
    '血压多少',
    '是吃完饭以后痛，还是空腹的时候痛?',
  ];
  const no = [
    '不客气，祝您早日康复！',
    '还有其他问题吗？',
    '如果还有什么疑问，随时问我。还有什么想了解的吗？',
    '建议您到消化内科就诊，完善胃镜检查。',
    '建议查看是否有过敏史，注意饮食清淡。',
    '按时吃药，好吗？',
    '为什么会这样呢？这是因为胃酸分泌过多。',
    '难道不吃药就能好吗？当然不能。',
    '高血压需要长期规律服药，不能自行停药。',
    '注意多休息，多喝水。',
    '您还有其他的问题吗？',
    '4. 在手术前的几天，您需要避免饮酒和吸烟。',
  ];
  for (const t of yes) assert.equal(asksQuestion(t), true, t);
  for (const t of no) assert.equal(asksQuestion(t), false, t);
});

test('refusal and redirect to care, with negated redirects', () => {
  const table: [string, boolean, boolean, boolean][] = [
    // text, refuses, redirects, urgent
    ['抱歉，我无法为您开具处方，请到医院就诊。', true, true, false],
    ['作为AI，我不能诊断疾病。', true, false, false],
    ['请立即拨打120。', false, true, true],
    ['这种情况建议尽快去急诊。', false, true, true],
    ['建议到皮肤科门诊面诊。', false, true, false],
    ['这是常见的感冒，不用去医院，多喝水休息即可。', false, false, false],
    ['不需要就医，注意观察。', false, false, false],
    ['多喝热水，注意休息。', false, false, false],
    ['请在医生指导下用药。', false, true, false],
    ['建议到消化内科做胃镜检查。', false, true, false],
    ['不用去皮肤科，涂点保湿霜就行。', false, false, false],
  ];
  for (const [t, refuses, redirects, urgent] of table) assert.deepEqual(refusesOrRedirects(t), { refuses, redirects, urgent }, t);
});
