// helpers.ts — shared by the tokenizer tests: where ../shared/refdata is, texts read from it at test time (never
// copied into the repo), inline corpora written for these tests, and the two independent reference tokenizers.

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { Tokenizer as HfJsTokenizer } from '@huggingface/tokenizers';

export const REFDATA = resolve(process.cwd(), '../shared/refdata');
export const hasRefdata = existsSync(join(REFDATA, 'zhongjing', 'CMtMedQA_test.json'));
export const SKIP_REFDATA = '../shared/refdata is absent: the comparison on third-party medical text is skipped';

/** Every string inside a JSON value, depth first. */
function strings(v: unknown, out: string[]): string[] {
  if (typeof v === 'string') { if (v.trim()) out.push(v); } else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) strings(x, out);
  return out;
}

export interface RefTexts { chinese: string[]; english: string[]; digits: string[]; emoji: string[]; mixed: string[] }

/** Texts of each kind from the refdata files; small enough to keep the suite fast. */
export function refTexts(limit = 300): RefTexts {
  const cm = strings(JSON.parse(readFileSync(join(REFDATA, 'zhongjing', 'CMtMedQA_test.json'), 'utf8')), []);
  const english: string[] = [];
  for (const d of readdirSync(REFDATA)) {
    const p = join(REFDATA, d, 'README.md');
    if (statSync(join(REFDATA, d)).isDirectory() && existsSync(p)) english.push(...readFileSync(p, 'utf8').split(/\n\n+/));
  }
  const ceval = readdirSync(join(REFDATA, 'ceval', 'val')).flatMap((f) => readFileSync(join(REFDATA, 'ceval', 'val', f), 'utf8').split('\n'));
  const sft = readFileSync(join(REFDATA, 'medicalgpt', 'data', 'sft', 'medical_sft_1K_format.jsonl'), 'utf8').split('\n').filter(Boolean);
  // the few refdata lines with emoji (chat logs); raw lines, JSON punctuation included
  const emojiFiles = [join(REFDATA, 'mie', 'data', 'test.json'), join(REFDATA, 'promptcblue', 'datasets', 'PromptCBLUE', 'toy_examples', 'train.json')];
  const all = emojiFiles.filter(existsSync).flatMap((f) => readFileSync(f, 'utf8').split('\n'));
  return {
    chinese: cm.slice(0, limit),
    english: english.filter((s) => !/[\u4e00-\u9fff]/.test(s)).slice(0, limit),
    digits: ceval.filter((l) => /\d/.test(l)).slice(0, limit),
    emoji: all.filter((s) => /\p{Extended_Pictographic}/u.test(s)).slice(0, limit),
    mixed: [...sft.slice(0, limit), ...english.filter((s) => /[\u4e00-\u9fff]/.test(s)).slice(0, 50)],
  };
}

/** Text for training in tests: refdata files when present. */
export function refCorpus(maxChars: number): string {
  const files = [join(REFDATA, 'medicalgpt', 'data', 'pretrain', 'fever.txt'), join(REFDATA, 'huatuo-llama-med', 'data', 'llama_data.json')];
  return files.map((f) => readFileSync(f, 'utf8')).join('\n').slice(0, maxChars);
}

/** Our own small corpus: Chinese medical-style sentences, English, digits, emoji and code, generated deterministically. */
export function inlineCorpus(lines = 3000, seed = 7): string[] {
  const sym = ['头痛', '发热', '咳嗽', '腹泻', '失眠', '乏力', '胸闷', '恶心', '皮疹', '关节痛'];
  const dru = ['布洛芬', '阿莫西林', '对乙酰氨基酚', '奥美拉唑', '二甲双胍', '连花清瘟胶囊'];
  const adv = ['建议多喝水，注意休息。', '请尽快到医院就诊。', '饮食宜清淡，忌辛辣。', '如症状加重请及时复诊。'];
  const eng = ["The patient's fever was 38.5°C", "We're monitoring blood pressure", 'Take 200 mg twice daily', "It isn't serious; don't worry"];
  const emo = ['😀', '🙏', '👩‍⚕️', '🇨🇳', '❤️'];
  let s = seed;
  const r = (n: number): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return (s >>> 8) % n; };
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const k = r(5);
    if (k === 0) out.push(`患者${r(80) + 1}岁，${sym[r(sym.length)]}${r(10) + 1}天，伴${sym[r(sym.length)]}。医生：${adv[r(adv.length)]}`);
    else if (k === 1) out.push(`${eng[r(eng.length)]} (${r(1000)}/${r(100)}) ${emo[r(emo.length)]}`);
    else if (k === 2) out.push(`<human>:我${sym[r(sym.length)]}，能吃${dru[r(dru.length)]}吗？\n<bot>:可以，每次${r(500)}mg，${adv[r(adv.length)]}`);
    else if (k === 3) out.push(`体温${36 + r(5)}.${r(10)}℃，血压${100 + r(60)}/${60 + r(40)}mmHg，心率${60 + r(60)}次/分。\t\n  `);
    else out.push(`function f${r(50)}(x) { return x * ${r(9)}; }  // ${sym[r(sym.length)]} ${emo[r(emo.length)]}`);
  }
  return out;
}

/** Strings that stress the pipeline: whitespace runs, CRLF, contractions, every kind of digit, astral characters. */
export const EDGE_TEXTS = [
  '', ' ', '   ', '\n', '\r\n\r\n', '\t\t x', 'a  b   c', "I'M HE'LL WE'D they've", '１２３ ٣٤ 12345', '😀😀 👩‍⚕️🇨🇳',
  '中文English混合123abc，！？。', '  leading and trailing  ', 'x\u00a0y\u3000z', 'ﬁ é é', '<s>', '</s>中文<s>', '\u0085\ufeff',
  '患者：我最近头痛发烧38.5度，吃了布洛芬200mg。医生：建议多喝水。',
];

export function hfJs(tokenizerJson: object, configJson: object = {}): HfJsTokenizer {
  return new HfJsTokenizer(tokenizerJson as never, configJson as never);
}

export function hfJsIds(t: HfJsTokenizer, text: string): number[] {
  return t.encode(text, { add_special_tokens: false }).ids;
}

/** The Rust `tokenizers` package (dev dependency), or null when it cannot load on this platform. */
export function rustTokenizers(): { fromString(s: string): { encode(t: string, p: null, o: object): Promise<{ getIds(): number[] }> } } | null {
  try {
    return (createRequire(import.meta.url)('tokenizers') as { Tokenizer: never }).Tokenizer;
  } catch {
    return null;
  }
}

/** A deterministic generator of arbitrary UTF-16 strings: ASCII, CJK, astral, combining marks, controls, lone surrogates. */
export function randomStrings(n: number, seed = 1): string[] {
  let s = seed;
  const r = (k: number): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s % k; };
  const pools = [
    () => String.fromCharCode(32 + r(95)),
    () => String.fromCharCode(0x4e00 + r(0x5000)),
    () => String.fromCodePoint(0x1f300 + r(0x300)),
    () => String.fromCodePoint(0x20000 + r(0x1000)),
    () => String.fromCharCode(0x300 + r(0x70)),
    () => String.fromCharCode(r(32)),
    () => String.fromCharCode(0xd800 + r(0x800)), // lone surrogate half
    () => ' \t\n\r\u3000\u00a0'[r(6)]!,
    () => String.fromCharCode(r(0x10000)),
  ];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let x = '';
    const len = r(40);
    for (let j = 0; j < len; j++) x += pools[r(pools.length)]!();
    out.push(x);
  }
  return out;
}

/**
 * A small LLaMA-style (SentencePiece BPE, byte fallback, ▁ metaspace) tokenizer.json built here from `lines`: the
 * `nChars` most frequent characters, then `nMerges` merges learned inside ▁-led words. 'legacy' spells the pipeline
 * as LLaMA-1/2 files converted by older transformers (Prepend + Replace normalizer); 'metaspace' as newer ones do.
 */
export function buildSentencePieceJson(lines: string[], nChars: number, nMerges: number, format: 'legacy' | 'metaspace',
  learn: (c: { symbols: Int32Array; wordStart: Int32Array; wordCount: Int32Array }, o: { maxMerges: number; minFrequency: number; newSymbol(a: number, b: number): number }) => { a: number; b: number; result: number }[]): object {
  const M = '\u2581';
  const words = new Map<string, number>();
  for (const l of lines) for (const w of (M + l.split(' ').join(M)).split(new RegExp(`(?=${M})`, 'u'))) if (w) words.set(w, (words.get(w) ?? 0) + 1);
  const chars = new Map<string, number>();
  for (const [w, c] of words) for (const ch of w) chars.set(ch, (chars.get(ch) ?? 0) + c);
  const kept = [...chars].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, nChars).map(([ch]) => ch);
  const tokens = ['<unk>', '<s>', '</s>', ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`), ...kept];
  const ids = new Map(tokens.map((t, i) => [t, i]));
  const symbols: number[] = [], starts = [0], counts: number[] = [];
  for (const [w, c] of words) {
    // unknown characters end a run: merges never cross them
    let run: number[] = [];
    const flush = (): void => { if (run.length > 1) { symbols.push(...run); starts.push(symbols.length); counts.push(c); } run = []; };
    for (const ch of w) { const id = ids.get(ch); if (id === undefined) flush(); else run.push(id); }
    flush();
  }
  const merges = learn({ symbols: Int32Array.from(symbols), wordStart: Int32Array.from(starts), wordCount: Int32Array.from(counts) }, {
    maxMerges: nMerges, minFrequency: 2,
    newSymbol(a, b) { const s = tokens[a]! + tokens[b]!; let id = ids.get(s); if (id === undefined) { id = tokens.length; tokens.push(s); ids.set(s, id); } return id; },
  });
  const special = (id: number, content: string): object => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const decoder = { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: M }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] };
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: format === 'legacy' ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: M }, { type: 'Replace', pattern: { String: ' ' }, content: M }] } : null,
    pre_tokenizer: format === 'legacy' ? null : { type: 'Metaspace', replacement: M, prepend_scheme: 'first', split: false },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder,
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false,
      vocab: Object.fromEntries(tokens.map((t, i) => [t, i])), merges: merges.map((m) => [tokens[m.a]!, tokens[m.b]!]),
    },
  };
}
