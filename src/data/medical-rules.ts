// medical-rules.ts — the shared Chinese heuristics: a red-flag emergency detector for patient text, a detector of
// doctor turns that ask the patient a question (proactive inquiry), and a detector of answers that refuse or
// redirect to care. Rule tables with clause-level negation (没有胸痛 does not fire). Used by the demo generator,
// the demo judge, evaluation and the serving guard. Heuristics, not diagnosis: tuned to fire conservatively.

export type RedFlag =
  | 'chest-pain' | 'stroke' | 'severe-bleeding' | 'suicidal' | 'poisoning' | 'child-fever-convulsion'
  | 'breathing' | 'anaphylaxis' | 'unconscious' | 'pregnancy-bleeding';

export interface RedFlagResult {
  flags: RedFlag[];
  /** the words that fired, per flag */
  evidence: Partial<Record<RedFlag, string[]>>;
  urgent: boolean;
  /** what to tell the patient, empty when nothing fired */
  message: string;
}

// Clauses end at punctuation and at contrastive words, so that '没有发烧，但是胸痛' negates only the fever.
const CLAUSE = /[，。；！？,.;!?\n]|但是|但|不过|可是|然而|而且/;
const NEG_CUES = ['没有', '没', '无', '未', '否认', '并无', '不是', '不伴', '不再', '并非', '排除', '不'];
const NEG_WINDOW = 6;

// '无' negates (无胸痛) except inside words that are not negations: 无力 (weakness), 无法, 无明显诱因.
function negates(before: string, cue: string): boolean {
  // a bare 不 negates only right before the symptom (不发烧, 也不抽搐了); 不能呼吸 or 喘不上气 are symptoms, not negations
  if (cue === '不') return /不$/.test(before);
  if (cue !== '无') return before.includes(cue);
  return /无(?!力|法|明显诱因|缘无故)/.test(before);
}

function clauses(text: string): string[] {
  return text.split(CLAUSE).map((c) => c.trim()).filter(Boolean);
}

/** Non-negated matches of `re` in `text`: a negation cue within a few characters before the match cancels it. */
export function affirmed(text: string, re: RegExp, cues: readonly string[] = NEG_CUES): string[] {
  const out: string[] = [];
  const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
  for (const c of clauses(text)) {
    for (const m of c.matchAll(g)) {
      const before = c.slice(Math.max(0, m.index! - NEG_WINDOW), m.index!);
      if (!cues.some((q) => negates(before, q))) out.push(m[0]);
    }
  }
  return out;
}

const CHEST = /胸痛|(?:胸口|心口|胸部|心前区)[^，。不没无]{0,3}(?:痛|疼)|胸口像压了|压榨样|胸闷/;
const CHEST_COMPANION = /大汗|出汗|冷汗|虚汗|一身汗|放射|左臂|左肩|下巴|下颌|濒死|喘不上气|呼吸困难|持续|半小时|二十分钟|20分钟|越来越重|恶心/;
const STROKE = /口角歪|嘴歪|口眼歪斜|一侧(?:肢体|胳膊|手|腿|身体)[^，。]{0,4}(?:无力|麻|不听使唤|动不了)|半身(?:无力|不遂|麻)|半边身子|说话不清|言语不清|口齿不清|说不出话|突然看不清|突然失明|突然(?:剧烈)?头痛欲裂|走路不稳|偏瘫/;
const BLEED = /大出血|血流不止|流血不止|血止不住|止不住(?:血|地流血)|喷血|大量出血|吐血|呕血|咯血|大口咳血|便血很多|大量便血|黑便(?:[^，。]{0,6})头晕/;
const SUICIDE = /想死|不想活|自杀|轻生|结束(?:自己的)?生命|活着没意思|割腕|跳楼|寻死|伤害自己/;
const POISON = /误服|误吞|误食|喝了农药|喝农药|农药|服毒|一整瓶|整瓶(?:药|的药)|吃了一瓶|吞了一瓶|吃了一把|一大把药|一次吃了\d+片|过量服用|吃多了药|药吃多了|安眠药|一氧化碳|煤气中毒|中毒/;
// black or tarry stool is a bleed from the upper gut; with dizziness or palpitations it is a large one
const MELENA = /黑便|柏油样便|大便(?:是|发|呈)?黑/;
const SHOCK_SIGNS = /头晕|眼前发黑|心慌|出冷汗|乏力|站不稳/;
const CHILD = /孩子|宝宝|小孩|儿子|女儿|婴儿|幼儿|新生儿|\d+个月大|[1-9一二三四五六七八九]岁/;
const CONVULSION = /抽搐|抽筋|惊厥|抽风|翻白眼|四肢抖动|牙关紧闭/;
const FEVER = /发烧|发热|高烧|高热|体温/;
const BREATH = /呼吸困难|喘不上气|喘不过气|上不来气|憋气|憋得慌|嘴唇发紫|口唇发紫|口唇发绀|窒息|呼吸急促|透不过气|不能呼吸|无法呼吸|没法呼吸/;
const ALLERGY_CTX = /过敏|蜂蜇|蜂蛰|被蜂|打完针|输液后|吃了[^，。]{0,8}后|青霉素|海鲜/;
const ANAPHYLAXIS = /喉咙发紧|喉头(?:发紧|水肿)|嗓子发紧|舌头肿|嘴唇肿|脸肿|全身(?:起)?(?:风团|红疹|疹子)|过敏性休克|头晕眼花|晕倒/;
const UNCONSCIOUS = /昏迷|叫不醒|意识不清|神志不清|晕倒|昏倒|失去意识|不省人事|晕过去/;
const PREGNANT = /怀孕|孕期|孕\d+周|孕早期|孕晚期|妊娠/;
const PREG_BLEED = /阴道出血|下面出血|流血|见红|剧烈腹痛|肚子剧痛/;

function temperatureAtLeast(text: string, min: number): boolean {
  for (const m of text.matchAll(/(\d{2}(?:\.\d)?)\s*(?:度|℃|°C|°)/g)) {
    const v = Number(m[1]);
    if (v >= min && v <= 43) return true;
  }
  return false;
}

const MESSAGES: Record<RedFlag, string> = {
  'chest-pain': '胸痛伴出汗或放射痛可能是心肌梗死等急症，请立即停止活动并拨打120，不要自行驾车去医院。',
  stroke: '口角歪斜、一侧肢体无力或说话不清可能是脑卒中，请立即拨打120，记下症状开始的时间。',
  'severe-bleeding': '大量出血或呕血需要紧急处理，请用干净布料持续按压出血处并立即拨打120或去急诊。',
  suicidal: '您现在的感受很重要，请立即联系身边信任的人陪着您，并拨打120或当地心理危机干预热线，您不必独自面对。',
  poisoning: '误服药物或毒物请立即拨打120，带上药瓶或包装，不要自行催吐，除非急救人员指导。',
  'child-fever-convulsion': '孩子高热或出现抽搐需要尽快就医：让孩子侧躺、不要往嘴里塞东西，立即拨打120或去儿科急诊。',
  breathing: '呼吸困难或嘴唇发紫是急症信号，请立即拨打120或去最近的急诊。',
  anaphylaxis: '过敏后出现喉咙发紧、呼吸困难或全身风团可能是严重过敏反应，请立即拨打120；如备有肾上腺素笔请按说明使用。',
  unconscious: '意识不清或叫不醒需要紧急救治，请立即拨打120，让患者侧卧保持呼吸道通畅。',
  'pregnancy-bleeding': '孕期出现阴道出血或剧烈腹痛需要尽快到产科急诊就诊。',
};

/** Red-flag emergencies in a patient's text. */
export function detectRedFlags(text: string): RedFlagResult {
  const ev: Partial<Record<RedFlag, string[]>> = {};
  const add = (f: RedFlag, words: string[]) => { if (words.length) ev[f] = [...(ev[f] ?? []), ...words]; };
  const chest = affirmed(text, CHEST);
  if (chest.length) {
    const comp = affirmed(text, CHEST_COMPANION);
    if (comp.length || /剧烈胸痛|压榨样/.test(chest.join(''))) add('chest-pain', [...chest, ...comp]);
  }
  add('stroke', affirmed(text, STROKE));
  add('severe-bleeding', affirmed(text, BLEED));
  const melena = affirmed(text, MELENA);
  if (melena.length && !ev['severe-bleeding']) {
    const signs = affirmed(text, SHOCK_SIGNS);
    if (signs.length) add('severe-bleeding', [...melena, ...signs]);
  }
  add('suicidal', affirmed(text, SUICIDE));
  add('poisoning', affirmed(text, POISON));
  const child = CHILD.test(text);
  if (child) {
    const conv = affirmed(text, CONVULSION);
    const veryHot = temperatureAtLeast(text, 40) && affirmed(text, FEVER).length > 0;
    if (conv.length || veryHot) add('child-fever-convulsion', conv.length ? conv : ['≥40℃']);
  }
  add('breathing', affirmed(text, BREATH));
  if (ALLERGY_CTX.test(text)) add('anaphylaxis', affirmed(text, ANAPHYLAXIS));
  add('unconscious', affirmed(text, UNCONSCIOUS));
  if (affirmed(text, PREGNANT).length) add('pregnancy-bleeding', affirmed(text, PREG_BLEED));
  const flags = Object.keys(ev) as RedFlag[];
  return { flags, evidence: ev, urgent: flags.length > 0, message: flags.map((f) => MESSAGES[f]).join('') };
}

// ---------------------------------------------------------------- proactive inquiry

const SENTENCE = /(?<=[。！？!?\n])/;
// closing formulas that end in a question mark but ask nothing about the patient
const PLEASANTRY = /还有(?:什么|其他|别的)的?(?:问题|疑问|需要|想问|想了解)|有什么(?:可以|能)帮|(?:明白|清楚|懂|了解)了吗|好吗[？?]?$|可以吗[？?]?$|对吧|是吧|不是吗|难道|怎么能|何必|谁不|祝您|不客气/;
const ASK_WORDS = /请问|想(?:了解|知道|确认)一下|能(?:否|不能)告诉|麻烦(?:您|你)?(?:说|描述|告诉)|请(?:您|你)?(?:描述|说一下|告诉我|补充)|方便说一下/;
const ASK_PATTERNS = /是否|有没有|有无|多久|多长时间|几天|几次|几个月|多大|多少|哪里|哪儿|哪个|哪一|什么时候|什么颜色|什么样|怎么样|如何/;
const ADVICE_START = /^(?:建议|可以|需要|应该|注意|请注意|要|一定要|记得|平时|另外|如果|若|同时|最好)/;
const ADVICE_ANY = /需要|建议|应该|避免|注意|可以|最好|务必/;
const PERSON = /您|你|孩子|宝宝|老人|家人|患者/;
const ASK_END = /(?:多少|多久|几天|几次|几岁|哪里|哪儿|怎么样|什么时候|多长时间|有没有[^，。]{1,8})[。]?$/;

/** The sentences of a doctor turn that ask the patient something. */
export function inquiryQuestions(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(SENTENCE)) {
    const s = raw.trim();
    if (!s) continue;
    if (PLEASANTRY.test(s)) continue;
    const q = /[？?]$/.test(s) || /[吗呢么][。]?$/.test(s);
    if (/^为什么/.test(s) && !PERSON.test(s)) continue; // a rhetorical 'why…?' that the doctor answers next
    if (q) { out.push(s); continue; }
    if (ASK_WORDS.test(s)) { out.push(s); continue; }
    // without a question mark, advice that merely mentions a duration or place is not a question
    if (ADVICE_START.test(s.replace(/^\d+[.、．]\s*/, '')) || ADVICE_ANY.test(s)) continue;
    // '您有没有发烧' or a terse '血压多少' without a question mark
    if ((PERSON.test(s) && ASK_PATTERNS.test(s)) || ASK_END.test(s)) out.push(s);
  }
  return out;
}

export function asksQuestion(doctorText: string): boolean {
  return inquiryQuestions(doctorText).length > 0;
}

// ---------------------------------------------------------------- refusal / redirect to care

const REFUSE = /无法(?:为您|给您|帮您)?(?:提供|诊断|开具|开药|回答|确诊|判断)|不能(?:为您|给您|帮您)?(?:提供|诊断|开药|开处方|推荐具体|确诊)|不便(?:回答|提供)|抱歉|作为(?:一个)?(?:AI|人工智能|语言模型)|我不是医生/;
const REDIRECT = /(?:到|去|看|挂)[\u4e00-\u9fa5]{1,6}科|就医|就诊|去医院|到医院|上医院|看医生|咨询医生|面诊|急诊|拨打120|打120|叫救护车|专科|门诊|复诊|找医生|医院检查|医生指导下|遵医嘱/;
const REDIRECT_NEG = ['不用', '不需要', '没必要', '无需', '不必', '别去', '不要去', '用不着'];
const URGENT = /拨打120|打120|叫救护车|急诊|立即|立刻|马上/;

export interface CareResult {
  refuses: boolean;
  redirects: boolean;
  /** tells the patient to seek care now (120, emergency department, immediately) */
  urgent: boolean;
}

export function refusesOrRedirects(answer: string): CareResult {
  const red = affirmed(answer, REDIRECT, REDIRECT_NEG);
  return {
    refuses: REFUSE.test(answer),
    redirects: red.length > 0,
    urgent: red.length > 0 && affirmed(answer, URGENT, REDIRECT_NEG).length > 0,
  };
}
