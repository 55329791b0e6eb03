// chat.test.ts — chat templates: built-in renders, strict undefined variables, tokenizer_config.json templates, and
// encodeChat's assistant mask checked against an oracle that locates each assistant turn in the serving render.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHATML_TEMPLATE, encodeChat, renderChat, renderTemplate, type ChatMessage } from '../../src/tokenizer/chat.js';
import { tokenStringToBytes, utf8Encode } from '../../src/tokenizer/bytes.js';
import { trainByteLevelBpe } from '../../src/tokenizer/train.js';
import { loadTokenizer, saveTokenizer } from '../../src/tokenizer/tokenizer-json.js';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { inlineCorpus } from './helpers.js';
import { tempDir } from '../helpers.js';

const CONVERSATIONS: ChatMessage[][] = [
  [{ role: 'user', content: '我头痛' }, { role: 'assistant', content: '多久了？' }],
  [{ role: 'user', content: '医生，我最近咳嗽三天了' }, { role: 'assistant', content: '有没有发热？' }, { role: 'user', content: '38.5度' },
    { role: 'assistant', content: '建议多喝水，注意休息。如症状加重请及时复诊。' }, { role: 'user', content: '谢谢' }, { role: 'assistant', content: '不客气' }],
  [{ role: 'system', content: '你是一名医生。' }, { role: 'user', content: 'Can I take 200 mg ibuprofen?' }, { role: 'assistant', content: ' Yes, twice daily 😀' },
    { role: 'user', content: '还有呢' }, { role: 'assistant', content: '' }],
  [{ role: 'user', content: 'x' }, { role: 'assistant', content: '多久了多久了\n\n  空格  ' }, { role: 'user', content: 'y' }, { role: 'assistant', content: ':多久' }],
  [{ role: 'assistant', content: '您好，哪里不舒服？' }, { role: 'user', content: '我头痛' }, { role: 'assistant', content: '“多久了？”' }],
];

let tokP: Promise<Tokenizer> | null = null;
function tokenizer(): Promise<Tokenizer> {
  // '>:“' recurs so that BPE merges the prompt's '>:' with an answer's opening quote: a straddling token
  const extra = Array.from({ length: 200 }, () => '<bot>:“多久了？”<human>:我头痛 Yes, twice');
  tokP ??= trainByteLevelBpe([...inlineCorpus(1500), ...extra], { vocabSize: 700, specialTokens: ['</s>', '<|im_start|>', '<|im_end|>'], eosToken: '</s>' });
  return tokP;
}

function tokenBytes(tok: Tokenizer, id: number): number {
  const t = tok.idToToken(id)!;
  return tok.isSpecial(id) ? utf8Encode(t).length : tokenStringToBytes(t)!.length;
}

/** Oracle: byte spans of each assistant answer + end marker in the serving render, found from the template's layout. */
function expectedMask(tok: Tokenizer, text: string, ids: number[], msgs: ChatMessage[], marker: string, end: string): number[] {
  const spans: [number, number][] = [];
  let from = 0;
  for (const m of msgs) {
    if (m.role !== 'assistant') continue;
    const piece = marker + m.content + end;
    const at = text.indexOf(piece, from);
    assert.ok(at >= 0, `assistant turn ${JSON.stringify(m.content)} not found in the render`);
    const s = utf8Encode(text.slice(0, at + marker.length)).length;
    spans.push([s, s + utf8Encode(m.content + end).length]);
    from = at + piece.length;
  }
  const out: number[] = [];
  let pos = 0;
  for (const id of ids) {
    const len = tokenBytes(tok, id);
    out.push(spans.some(([a, b]) => pos < b && pos + len > a) ? 1 : 0);
    pos += len;
  }
  return out;
}

test('built-in templates render the documented layouts (EOS right after each ziya answer)', () => {
  const c = CONVERSATIONS[0]!;
  assert.equal(renderChat(null, 'ziya', [...c, { role: 'user', content: '三天' }], { context: { eos_token: '</s>' } }),
    '<human>:我头痛\n<bot>:多久了？</s>\n<human>:三天\n<bot>:');
  assert.equal(renderChat(null, 'chatml', [...c, { role: 'user', content: '三天' }]),
    '<|im_start|>user\n我头痛<|im_end|>\n<|im_start|>assistant\n多久了？<|im_end|>\n<|im_start|>user\n三天<|im_end|>\n<|im_start|>assistant\n');
});

for (const [name, marker, endOf] of [['ziya', '<bot>:', '</s>'], ['chatml', '<|im_start|>assistant\n', '<|im_end|>']] as const) {
  test(`${name}: the assistant mask is exactly the assistant turns' tokens in the serving render`, async () => {
    const tok = await tokenizer();
    let straddles = 0;
    for (const conv of CONVERSATIONS) {
      const r = encodeChat(tok, name, conv);
      assert.deepEqual(r.ids, tok.encode(r.text));
      assert.deepEqual([...r.assistantMask], expectedMask(tok, r.text, r.ids, conv, marker, endOf), `${name}: ${JSON.stringify(r.text)}`);
      straddles += r.promptBoundaryMerges.length;
      // the serving prompt before each assistant turn is a prefix of the training text, and has no assistant tokens
      conv.forEach((m, i) => {
        if (m.role !== 'assistant') return;
        const serve = encodeChat(tok, name, conv.slice(0, i), { addGenerationPrompt: true });
        assert.ok(r.text.startsWith(serve.text) && serve.text.endsWith(marker));
        assert.deepEqual([...serve.assistantMask], expectedMask(tok, serve.text, serve.ids, conv.slice(0, i), marker, endOf));
      });
    }
    if (name === 'ziya') assert.ok(straddles > 0, 'the fixture should include a token straddling "<bot>:" and the answer');
  });
}

test('a chat_template from tokenizer_config.json renders and masks like the built-in it spells', async () => {
  const tok = await tokenizer();
  tok.config.chatTemplate = CHATML_TEMPLATE;
  const dir = tempDir('zj-chat-');
  await saveTokenizer(tok, dir);
  const loaded = await loadTokenizer(dir);
  for (const conv of CONVERSATIONS) {
    const a = encodeChat(loaded, 'default', conv), b = encodeChat(tok, 'chatml', conv);
    assert.deepEqual(a.ids, b.ids);
    assert.deepEqual(a.assistantMask, b.assistantMask);
  }
});

test('unknown template variables fail at render time, naming the variable; defined-tests still work', () => {
  assert.throws(() => renderTemplate('{{ mesages }}', { messages: [] }), /'mesages' is undefined/);
  assert.throws(() => renderTemplate('{% for m in messages %}{{ m.conten }}{% endfor %}', { messages: [{ role: 'user', content: 'x' }] }), /'m\.conten' is undefined/);
  assert.throws(() => renderTemplate("{{ 'a' + foo }}", {}), /foo/);
  assert.equal(renderTemplate("{% if tools is defined %}T{% endif %}{{ x | default('d') }}{% if not y %}n{% endif %}", {}), 'dn');
  assert.throws(() => renderChat(null, 'ziya', [{ role: 'doctor', content: 'x' }]), /unknown role doctor/);
  // a tokenizer without an EOS cannot render ziya training text: it fails rather than dropping the EOS
  assert.throws(() => renderChat(null, 'ziya', CONVERSATIONS[0]!), /'eos_token' is undefined/);
});

test('templates that hide, transform or repeat assistant content are rejected, not silently mis-masked', async () => {
  const tok = await tokenizer();
  const hides = "{% for m in messages %}{% if m.role != 'assistant' %}{{ m.content }}{% endif %}{% endfor %}";
  assert.throws(() => encodeChat(tok, hides, CONVERSATIONS[1]!), /messages\[1\]: the template does not print/);
  const upper = '{% for m in messages %}{{ m.content | upper }}{% endfor %}';
  assert.throws(() => encodeChat(tok, upper, CONVERSATIONS[1]!), /messages\[1\]: the template does not print/);
  const twice = '{% for m in messages %}{{ m.content }}{{ m.content }}{% endfor %}';
  assert.throws(() => encodeChat(tok, twice, CONVERSATIONS[1]!), /more than once/);
  // a template whose last turn differs from earlier ones is fine: each turn's content is located in the full render
  const last = '{% for m in messages %}{% if loop.last %}LAST:{% endif %}{{ m.content }}|{% endfor %}';
  const r = encodeChat(tok, last, CONVERSATIONS[1]!, { addGenerationPrompt: false });
  assert.deepEqual(r.assistantSpans.map(([a, b]) => r.text.slice(a, b)), ['有没有发热？', '建议多喝水，注意休息。如症状加重请及时复诊。', '不客气']);
});
