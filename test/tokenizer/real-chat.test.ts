// real-chat.test.ts — real models' own chat templates (Qwen2.5, Qwen3, Llama-3 from their tokenizer_config.json; a
// Llama-2 layout written here, since its package ships none) render exactly as @huggingface/jinja renders them, and
// encodeChat's mask is exactly each assistant turn as the template emits it plus its end-of-turn token.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Template } from '@huggingface/jinja';
import { encodeChat, renderChat, type ChatMessage } from '../../src/tokenizer/chat.js';
import { tokenStringToBytes, utf8Encode } from '../../src/tokenizer/bytes.js';
import { loadTokenizer } from '../../src/tokenizer/tokenizer-json.js';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { modelDir, readModelJson, REAL_MODELS, skipMessage } from './real-models.js';

/**
 * Meta's Llama-2-chat layout, written here from its published description (`<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n
 * {user} [/INST] {answer} </s>` per exchange): the @lenml Llama-2 package carries no chat_template.
 */
const LLAMA2_TEMPLATE =
  "{%- if messages[0].role == 'system' -%}{%- set sys = messages[0].content -%}{%- set rest = messages[1:] -%}" +
  "{%- else -%}{%- set sys = none -%}{%- set rest = messages -%}{%- endif -%}" +
  "{%- for m in rest -%}" +
  "{%- if m.role == 'user' -%}{{ bos_token + '[INST] ' }}{%- if loop.first and sys is not none -%}{{ '<<SYS>>\\n' + sys + '\\n<</SYS>>\\n\\n' }}{%- endif -%}{{ m.content | trim }}{{ ' [/INST]' }}" +
  "{%- elif m.role == 'assistant' -%}{{ ' ' + (m.content | trim) + ' ' + eos_token }}" +
  "{%- else -%}{{ raise_exception('llama-2 layout: user and assistant turns after an optional system message') }}{%- endif -%}" +
  "{%- endfor -%}";

const SYSTEM = '你是一名经验丰富的中医医生，请耐心询问病情。';
const CONSULT: ChatMessage[] = [
  { role: 'system', content: SYSTEM },
  { role: 'user', content: '医生您好，我最近三天一直头痛，还有点发烧。' },
  { role: 'assistant', content: '您好！体温最高多少度？有没有咳嗽、流涕？' },
  { role: 'user', content: '最高38.5℃，有点咳嗽。' },
  { role: 'assistant', content: '  建议多喝水、注意休息；可服用对乙酰氨基酚 500 mg。\n如超过三天不退烧，请到医院就诊。  ' },
  { role: 'user', content: 'Thanks! 需要查血常规吗？😷' },
  { role: 'assistant', content: '需要，血常规能区分细菌和病毒感染。' },
];
/** Qwen3 strips the reasoning of assistant turns before the last question from what it renders. */
const THINKING: ChatMessage[] = [
  { role: 'user', content: '我失眠怎么办？' },
  { role: 'assistant', content: '<think>\n先问病程。\n</think>\n\n失眠多久了？' },
  { role: 'user', content: '两个月' },
  { role: 'assistant', content: '建议规律作息，睡前避免咖啡。' },
];

interface Case { name: string; template: (tok: Tokenizer) => string; eot: string }
const CASES: Record<string, Case> = {
  'qwen2.5': { name: 'qwen2.5', template: () => 'default', eot: '<|im_end|>' },
  qwen3: { name: 'qwen3', template: () => 'default', eot: '<|im_end|>' },
  llama3: { name: 'llama3', template: () => 'default', eot: '<|eot_id|>' },
  llama2: { name: 'llama2', template: () => LLAMA2_TEMPLATE, eot: '</s>' },
};

/** What each template emits for assistant turn k of `msgs` (oracle written from reading each template). */
function emitted(name: string, msgs: ChatMessage[], k: number): { marker: string; body: string } {
  const c = msgs[k]!.content;
  if (name === 'qwen2.5') return { marker: '<|im_start|>assistant\n', body: c + '<|im_end|>' };
  if (name === 'qwen3') {
    const lastUser = msgs.map((m) => m.role).lastIndexOf('user');
    const answer = c.includes('</think>') ? c.split('</think>').pop()!.replace(/^\n+/, '') : c;
    const last = k > lastUser && k === msgs.length - 1;
    // that branch prints content.lstrip('\n'); @huggingface/jinja 0.5.11 ignores strip arguments and strips all
    // leading whitespace (Python would strip newlines only): the oracle follows the renderer we are compared with
    return { marker: '<|im_start|>assistant\n', body: (last ? '<think>\n\n</think>\n\n' + answer.trimStart() : answer) + '<|im_end|>' };
  }
  if (name === 'llama3') return { marker: '<|start_header_id|>assistant<|end_header_id|>\n\n', body: c.trim() + '<|eot_id|>' };
  return { marker: ' [/INST]', body: ' ' + c.trim() + ' </s>' };
}

/** Bytes of original text each token covers, worked out independently of the tokenizer's own offset code. */
function tokenTextBytes(tok: Tokenizer, ids: number[]): number[] {
  let segmentStart = true;
  return ids.map((id) => {
    const t = tok.idToToken(id)!;
    if (tok.addedTokens.some((a) => a.id === id)) { segmentStart = true; return utf8Encode(t).length; }
    if (tok.model.byteLevel) return tokenStringToBytes(t)!.length;
    let n = 0;
    if (/^<0x[0-9A-F]{2}>$/.test(t)) n = 1;
    else for (const ch of t) n += ch === '\u2581' ? 1 : utf8Encode(ch).length;
    // SentencePiece's Prepend normalizer adds one ▁ at the start of each text segment: no text behind it
    if (segmentStart && t.startsWith('\u2581')) n -= 1;
    segmentStart = false;
    return n;
  });
}

function expectedMask(tok: Tokenizer, name: string, text: string, ids: number[], msgs: ChatMessage[]): number[] {
  const spans: [number, number][] = [];
  let from = 0;
  msgs.forEach((m, k) => {
    if (m.role !== 'assistant') return;
    const { marker, body } = emitted(name, msgs, k);
    const at = text.indexOf(marker + body, from);
    assert.ok(at >= 0, `${name}: assistant turn ${k} (${JSON.stringify(body)}) not found in ${JSON.stringify(text)}`);
    const s = utf8Encode(text.slice(0, at + marker.length)).length;
    spans.push([s, s + utf8Encode(body).length]);
    from = at + marker.length + body.length;
  });
  const out: number[] = [];
  let pos = 0;
  for (const len of tokenTextBytes(tok, ids)) {
    out.push(spans.some(([a, b]) => pos < b && pos + Math.max(len, 1) > a) ? 1 : 0);
    pos += len;
  }
  assert.equal(pos, utf8Encode(text).length, `${name}: token byte lengths do not add up to the text`);
  return out;
}

function special(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

for (const m of REAL_MODELS) {
  const dir = modelDir(m);
  const c = CASES[m.name]!;
  test(`${m.name}: its chat template renders like @huggingface/jinja and masks exactly the assistant turns`, { skip: dir ? false : skipMessage(m) }, async () => {
    const tok = await loadTokenizer(dir!);
    const cfg = readModelJson(dir!).config as Record<string, unknown>;
    const template = c.template(tok);
    const source = template === 'default' ? String(cfg.chat_template) : template;
    assert.equal(template === 'default' ? tok.config.chatTemplate : source, source);
    const ref = new Template(source);
    const bos = special(cfg.bos_token), eos = special(cfg.eos_token);
    const convs = [CONSULT, CONSULT.slice(1, 5), CONSULT.slice(0, 6), THINKING];
    for (const conv of convs) {
      for (const gen of [false, true]) {
        const want = ref.render({ messages: conv, add_generation_prompt: gen, ...(bos ? { bos_token: bos } : {}), ...(eos ? { eos_token: eos } : {}) });
        assert.equal(renderChat(tok, template, conv, { addGenerationPrompt: gen }), want, `${m.name} gen=${gen}`);
      }
      const r = encodeChat(tok, template, conv);
      assert.deepEqual(r.ids, tok.encode(r.text));
      assert.deepEqual([...r.assistantMask], expectedMask(tok, m.name, r.text, r.ids, conv), `${m.name}: ${JSON.stringify(r.text)}`);
      // every assistant turn is trained on, and each masked run ends with the end-of-turn token
      const eotId = tok.tokenToId(c.eot)!;
      const runs = r.assistantMask.reduce((n, x, i) => n + (x && !r.assistantMask[i - 1] ? 1 : 0), 0);
      assert.equal(runs, conv.filter((x) => x.role === 'assistant').length);
      r.assistantMask.forEach((x, i) => { if (x && !r.assistantMask[i + 1]) assert.equal(r.ids[i], eotId, `${m.name}: a masked run ends with ${c.eot}`); });
    }
    // BOS: written by the template exactly once where the model expects it; never added a second time
    const r = encodeChat(tok, template, CONSULT);
    if (bos && source.includes('bos_token')) {
      const bosId = tok.tokenToId(bos)!;
      assert.equal(r.ids[0], bosId);
      assert.notEqual(r.ids[1], bosId);
    }
    if (m.name === 'llama2') {
      assert.equal(tok.config.addBosToken, true);
      assert.deepEqual(tok.encode('头痛', { addSpecialTokens: true }).slice(0, 1), [tok.tokenToId('<s>')]);
      assert.equal(r.ids.filter((x) => x === tok.tokenToId('<s>')).length, 3, 'one <s> per exchange');
    }
  });
}
