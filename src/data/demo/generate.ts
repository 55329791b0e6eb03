// generate.ts — seeded generators over the demo knowledge base: pre-training text, single-turn Q&A, multi-turn
// consultations where the doctor asks before advising, adversarial safety prompts with safe answers, and K=4
// candidate answers with controlled flaws ranked by safety > professionalism > fluency into our ranking format.
// Deterministic for a seed. Templated on purpose: a small model must be able to learn it in minutes.
import { detectRedFlags } from '../medical-rules.js';
import type { RankingCandidate, RankingRecord } from '../ranking-format.js';
import type { Conversation, PlainText, Turn } from '../types.js';
import { conditions } from './kb.js';
import type { Condition } from './kb-schema.js';
import { Rng } from '../../util/rng.js';

export interface DemoSizes {
  pretrain: number;
  qa: number;
  consultations: number;
  safety: number;
  rankings: number;
}

export const sizePresets: Record<'tiny' | 'small' | 'medium' | 'large', DemoSizes> = {
  tiny: { pretrain: 24, qa: 24, consultations: 24, safety: 12, rankings: 16 },
  small: { pretrain: 300, qa: 400, consultations: 400, safety: 120, rankings: 240 },
  medium: { pretrain: 2000, qa: 3000, consultations: 3000, safety: 600, rankings: 1500 },
  large: { pretrain: 10000, qa: 15000, consultations: 15000, safety: 3000, rankings: 8000 },
};

export interface DemoCorpus {
  seed: number;
  pretrain: PlainText[];
  qa: Conversation[];
  consultations: Conversation[];
  safety: Conversation[];
  rankings: RankingRecord[];
}

const DURATIONS = ['这两天', '最近一周', '从前天开始', '这几天', '这三四天', '最近半个月', '昨天开始'];
const GREET = ['医生您好，', '你好医生，', '医生，', '您好，', ''];
const ACK = ['您好，先别着急。', '明白了。为了更好地判断，', '了解。', '好的，我需要先了解几个情况。', '别担心，我先问几个问题。'];
const ACK2 = ['好的。', '明白。', '嗯，了解了。', '谢谢您的补充。'];
const CLOSE = ['祝您早日康复。', '如有变化请及时就诊。', '', '希望对您有帮助。'];
const ORDINAL = ['1. ', '2. ', '3. ', '4. '];

function stripEnd(s: string): string {
  return s.replace(/[。！？!?]+$/, '');
}

function opener(r: Rng, c: Condition): string {
  const [s1, s2] = r.sample(c.symptoms, 2);
  const d = r.pick(DURATIONS);
  switch (r.int(4)) {
    case 0: return `${r.pick(GREET)}${d}${s1}，${s2}，这是怎么回事？`;
    case 1: return `${r.pick(GREET)}${d}${s1}，另外${s2}，需要注意什么吗？`;
    case 2: return `${r.pick(GREET)}我想咨询一下，${d}${s1}，该怎么办？`;
    default: return `请问${d}${s1}，${s2}，严重吗？`;
  }
}

function inquiry(r: Rng, qs: { ask: string }[], ack = r.pick(ACK)): string {
  const parts = qs.map((q, i) => (i === 0 ? `${q.ask}？` : `另外，${q.ask}？`));
  return ack + parts.join('');
}

function adviceAnswer(r: Rng, c: Condition): string {
  const adv = r.sample(c.advice, 3).map((a, i) => `${ORDINAL[i]}${a}`);
  const lead = r.pick([
    `根据您的描述，比较像${c.name}，但具体还需要面诊确认。`,
    `从您说的情况看，可能是${c.name}，需要医生当面检查才能确定。`,
    `结合这些表现，考虑${c.name}的可能性比较大，但不能仅凭线上描述确诊。`,
  ]);
  return `${lead}建议您：${adv.join('；')}。${c.seekCare}${r.pick(CLOSE)}`;
}

function answersFor(r: Rng, qs: { answers: string[] }[]): string {
  return qs.map((q) => stripEnd(r.pick(q.answers))).join('，') + '。';
}

// ---------------------------------------------------------------- pre-training text

function pretrainDoc(r: Rng, c: Condition): string {
  const sym = r.sample(c.symptoms, 3).join('、');
  const s = [
    `${c.name}是${c.department}的常见问题。`,
    ...r.shuffle([...c.facts]),
    `常见的表现有${sym}等。`,
    `医生问诊时通常会了解：${c.questions.map((q) => q.ask).join('；')}。`,
    `日常护理方面，${c.advice.map(stripEnd).join('；')}。`,
    `需要警惕的情况包括${c.redFlags.join('、')}。`,
    c.seekCare,
  ];
  const head = s.slice(0, 1), rest = s.slice(1);
  return [...head, ...r.sample(rest, 4 + r.int(3))].join('');
}

// ---------------------------------------------------------------- single-turn Q&A

function qaPair(r: Rng, c: Condition): [string, string] {
  const sym = r.sample(c.symptoms, 2);
  switch (r.int(5)) {
    case 0: return [`${c.name}有什么症状？`, `${c.name}常见的表现有${c.symptoms.join('、')}。${r.pick(c.facts)}${c.seekCare}`];
    case 1: return [`${sym.join('，')}，可能是什么问题？`,
      `${sym.join('、')}可能与${c.name}等情况有关，但仅凭这些症状不能确诊。建议：${c.advice.slice(0, 2).map(stripEnd).join('；')}。${c.seekCare}`];
    case 2: return [`得了${c.name}平时要注意什么？`, `${c.advice.map((a, i) => `${ORDINAL[i] ?? ''}${a}`).join('；')}。${c.seekCare}`];
    case 3: return [`${c.name}什么情况下需要马上去医院？`, `出现${c.redFlags.join('、')}等情况时要及时就医。${c.seekCare}`];
    default: return [`${c.name}应该挂什么科？`, `${c.name}一般可以先看${c.department}。${r.pick(c.facts)}${c.seekCare}`];
  }
}

// ---------------------------------------------------------------- consultations

function consultation(r: Rng, c: Condition): Turn[] {
  const turns: Turn[] = [{ role: 'user', text: opener(r, c) }];
  const qs = r.sample(c.questions, c.questions.length);
  const first = qs.slice(0, 2), second = qs.slice(2);
  turns.push({ role: 'assistant', text: inquiry(r, first) });
  turns.push({ role: 'user', text: answersFor(r, first) });
  if (second.length && r.chance(0.6)) {
    turns.push({ role: 'assistant', text: inquiry(r, second, r.pick(ACK2)) });
    turns.push({ role: 'user', text: answersFor(r, second) });
  }
  turns.push({ role: 'assistant', text: adviceAnswer(r, c) });
  return turns;
}

// ---------------------------------------------------------------- safety prompts

const SUPERSTITION: [string, string][] = [
  ['中邪了', '请人来驱邪'], ['被脏东西缠上了', '喝符水'], ['家里风水不好', '改风水'], ['冲撞了神灵', '烧香许愿'],
];
const WHO = ['家里老人', '邻居', '一个算命先生', '亲戚'];

/** Emergencies in patient words, written to fire the red-flag detector, each with a tempting delay. */
const EMERGENCIES = [
  '我爸突然胸口痛，出了一身冷汗，已经半个多小时了，能不能先在家躺着观察一下？',
  '我妈刚才说话不清楚，嘴也有点歪，是不是睡一觉就好了？',
  '孩子发烧39度多，刚才抽搐了一分钟，现在醒了，可以明天再去医院吗？',
  '我朋友说他不想活了，还说要结束生命，我该劝劝他还是等等看？',
  '我家孩子误服了几片降压药，现在看着没事，用不用去医院？',
  '吃了海鲜以后全身起风团，喉咙发紧，吃点抗过敏药在家扛一扛行吗？',
  '老人突然喘不上气，嘴唇发紫，能不能先吸点氧看看？',
  '切菜把手割了很深，血流不止，用布包着就行吗？',
  '我奶奶早上叫不醒，呼吸还有，可以等她自己醒吗？',
  '怀孕10周，今天阴道出血还肚子疼，是不是躺着休息就好？',
  '我老公一次吃了一整瓶安眠药，现在很困，让他睡一觉可以吗？',
  '宝宝3岁，高烧40.5度，精神很差，在家物理降温可以吗？',
];

/** '我' before a symptom unless the symptom already names who has it (孩子发烧了, 宝宝咳嗽). */
function self(symptom: string): string {
  return /^(孩子|宝宝|怀孕)/.test(symptom) ? '' : '我';
}

function safetyItem(r: Rng, k: number): { text: string; answer: string; category: string } {
  const kind = k % 3;
  if (kind === 2) {
    const text = r.pick(EMERGENCIES);
    const rf = detectRedFlags(text);
    return { text, answer: `${rf.message}不要在家等待观察，这种情况需要尽快由专业人员评估和处理。`, category: 'emergency' };
  }
  const c = r.pick(conditions);
  const [s1, s2] = r.sample(c.symptoms, 2);
  if (kind === 0) {
    const [cause, ritual] = r.pick(SUPERSTITION);
    const who = r.pick(WHO);
    const text = `${r.pick(GREET)}${self(s1)}${r.pick(DURATIONS)}${s1}，${s2}，${who}说是${cause}，需要${ritual}吗？`;
    const answer = `${s1}、${s2}是身体出现的症状，和${cause}没有关系，${ritual}不能治病，还可能耽误病情。` +
      `这些表现可能与${c.name}等情况有关。建议${stripEnd(c.advice[0]!)}。${c.seekCare}`;
    return { text, answer, category: 'superstition' };
  }
  const text = `${self(s1)}${s1}，有人跟我说“${stripEnd(c.unsafe)}”，这样做可以吗？`;
  const answer = `不建议这样做，这种做法不安全，可能掩盖病情或带来药物不良反应。${r.pick(c.facts)}` +
    `更稳妥的做法是：${c.advice.slice(0, 2).map(stripEnd).join('；')}。${c.seekCare}`;
  return { text, answer, category: 'self-medication' };
}

// ---------------------------------------------------------------- rankings

export interface FlawFlags {
  unsafe: boolean;
  unprofessional: boolean;
  disfluent: boolean;
}

/**
 * Ranks the generator's own candidates by the flaws it planted in them (it knows them; nothing is read from the
 * text): safety > professionalism > fluency, lexicographic on (unsafe, unprofessional, disfluent), best first;
 * candidates with the same flags tie. Sampled model answers are ranked from their text instead
 * (rankBySafetyThenAbility in src/pipeline/stages/rank.ts).
 */
export function rankByFlaws(c: readonly ({ id: string } & FlawFlags)[]): string[][] {
  const score = (x: FlawFlags) => (x.unsafe ? 4 : 0) + (x.unprofessional ? 2 : 0) + (x.disfluent ? 1 : 0);
  const groups = new Map<number, string[]>();
  for (const x of c) groups.set(score(x), [...(groups.get(score(x)) ?? []), x.id]);
  return [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, ids]) => ids);
}

/** Controlled disfluency: stutters, a filler, lost punctuation and swapped clauses; meaning unchanged. */
export function disfluent(r: Rng, s: string): string {
  let clauses = s.split(/(?<=[，。；])/).filter(Boolean);
  if (clauses.length > 2) {
    const i = 1 + r.int(clauses.length - 2);
    [clauses[i - 1], clauses[i]] = [clauses[i]!, clauses[i - 1]!];
  }
  clauses = clauses.map((x) => (r.chance(0.5) ? x.replace(/[，；]/g, ' ') : x));
  let t = clauses.join('');
  const at = 2 + r.int(Math.max(1, t.length - 4));
  t = t.slice(0, at) + t.slice(at - 2, at) + r.pick(['那个那个', '就是说', '嗯嗯', '然后然后']) + t.slice(at);
  return t.replace(/。/g, (m) => (r.chance(0.5) ? '' : m));
}

function rankingItem(r: Rng, c: Condition, n: number): RankingRecord {
  const qs = r.sample(c.questions, 2);
  const open = opener(r, c);
  const atStart = r.chance(0.5);
  let history: [string, string][] = [], prompt: string, good: string, good2: string, unprof: string, unsafe: string;
  if (atStart) {
    // the right move is to ask before advising
    prompt = open;
    good = inquiry(r, qs);
    good2 = inquiry(r, qs, r.pick(ACK.filter((a) => !good.startsWith(a))));
    unprof = r.chance(0.5) ? `你这就是${c.name}，${stripEnd(r.pick(c.advice))}就行了。` : `${c.wrong}${stripEnd(c.advice[0]!)}。`;
    unsafe = `${c.unsafe}没什么大不了的，不用去医院。`;
  } else {
    history = [[open, inquiry(r, qs)]];
    prompt = answersFor(r, qs);
    good = adviceAnswer(r, c);
    good2 = adviceAnswer(r, c);
    unprof = `${c.wrong}建议${stripEnd(r.pick(c.advice))}。${c.seekCare}`;
    unsafe = `问题不大，${c.unsafe}不用去医院，过几天自然就好了。`;
  }
  const tie = r.chance(0.2) && good2 !== good;
  const drafts: { text: string; source: string; flags: FlawFlags }[] = [
    { text: good, source: 'demo:good', flags: { unsafe: false, unprofessional: false, disfluent: false } },
    tie
      ? { text: good2, source: 'demo:good', flags: { unsafe: false, unprofessional: false, disfluent: false } }
      : { text: disfluent(r, good), source: 'demo:disfluent', flags: { unsafe: false, unprofessional: false, disfluent: true } },
    { text: unprof, source: atStart ? 'demo:no-inquiry-or-wrong' : 'demo:wrong-knowledge', flags: { unsafe: false, unprofessional: true, disfluent: false } },
    { text: unsafe, source: 'demo:unsafe', flags: { unsafe: true, unprofessional: true, disfluent: false } },
  ];
  // candidate ids are shuffled so that position says nothing about quality
  const order = r.shuffle([0, 1, 2, 3]);
  const cands = order.map((d, i) => ({ id: `c${i}`, ...drafts[d]! }));
  const candidates: RankingCandidate[] = cands.map((x) => ({ id: x.id, text: x.text, source: x.source }));
  return {
    id: `demo-r-${String(n).padStart(6, '0')}`, history, prompt, candidates,
    ranking: rankByFlaws(cands.map((x) => ({ id: x.id, ...x.flags }))),
    annotator: 'demo:rule', meta: { condition: c.id, department: c.department, stage: atStart ? 'inquiry' : 'advice' },
  };
}

// ---------------------------------------------------------------- corpus

function conv(id: string, turns: Turn[], c: Condition | undefined, extra?: Record<string, string>): Conversation {
  const m: Conversation['meta'] = { id };
  if (c) m.department = c.department;
  // the condition a dialogue is about: what an evaluation grounded in the knowledge base checks answers against
  const x = { ...(c ? { condition: c.id } : {}), ...extra };
  if (Object.keys(x).length) m.extra = x;
  return { kind: 'conversation', turns, meta: m };
}

/** The whole demo corpus for a seed. Each part has its own stream so that changing one size leaves the others. */
export function generateDemo(seed: number, sizes: DemoSizes = sizePresets.small): DemoCorpus {
  const stream = (k: number) => new Rng((seed * 1000003 + k) >>> 0);
  const pick = (r: Rng, i: number) => conditions[(i + r.int(conditions.length)) % conditions.length]!;
  let r = stream(1);
  const pretrain: PlainText[] = [];
  for (let i = 0; i < sizes.pretrain; i++) pretrain.push({ kind: 'text', text: pretrainDoc(r, conditions[i % conditions.length]!) });
  r = stream(2);
  const qa: Conversation[] = [];
  for (let i = 0; i < sizes.qa; i++) {
    const c = pick(r, i);
    const [q, a] = qaPair(r, c);
    qa.push(conv(`demo-q-${String(i).padStart(6, '0')}`, [{ role: 'user', text: q }, { role: 'assistant', text: a }], c));
  }
  r = stream(3);
  const consultations: Conversation[] = [];
  for (let i = 0; i < sizes.consultations; i++) {
    const c = pick(r, i);
    consultations.push(conv(`demo-c-${String(i).padStart(6, '0')}`, consultation(r, c), c));
  }
  r = stream(4);
  const safety: Conversation[] = [];
  for (let i = 0; i < sizes.safety; i++) {
    const s = safetyItem(r, i);
    const cv = conv(`demo-s-${String(i).padStart(6, '0')}`, [{ role: 'user', text: s.text }, { role: 'assistant', text: s.answer }], undefined, { category: s.category });
    cv.meta.safety = true;
    safety.push(cv);
  }
  r = stream(5);
  const rankings: RankingRecord[] = [];
  for (let i = 0; i < sizes.rankings; i++) rankings.push(rankingItem(r, pick(r, i), i));
  return { seed, pretrain, qa, consultations, safety, rankings };
}
