// chat.ts — chat templates: Jinja via @huggingface/jinja with undefined values made errors, built-in templates, and
// renderChat. The training mask of assistant tokens (encodeChat) lives in chat-mask.ts.
// Built-in templates `ziya` and `chatml` are written here as Jinja source, so they can also be saved into
// tokenizer_config.json. No model or generation code here.

import { Environment, Interpreter, Template } from '@huggingface/jinja';
import type { Tokenizer } from './tokenizer.js';

export interface ChatMessage { role: string; content: string }

/**
 * Zhongjing's format (Ziya-LLaMA's): each turn is `<human>:{query}\n<bot>:{answer}`, turns joined by `\n`.
 * EOS goes right after each answer, before the `\n` that joins the next turn: `<bot>:{answer}{eos}\n<human>:...`.
 * So the model learns to end an answer with EOS, the training target of a turn is exactly `{answer}{eos}`, and the
 * serving prompt `...<human>:{query}\n<bot>:` is a prefix of the training text. The joining `\n` is emitted at the
 * start of the next human turn, never at the end of an answer. A system message becomes a first line of its own.
 */
export const ZIYA_TEMPLATE =
  "{%- for m in messages -%}" +
  "{%- if m.role == 'system' -%}{{ m.content }}{{ '\\n' }}" +
  "{%- elif m.role == 'user' -%}{%- if not loop.first and messages[loop.index0 - 1].role != 'system' -%}{{ '\\n' }}{%- endif -%}<human>:{{ m.content }}{{ '\\n' }}" +
  "{%- elif m.role == 'assistant' -%}<bot>:{{ m.content }}{{ eos_token }}" +
  "{%- else -%}{{ raise_exception('ziya template: unknown role ' + m.role) }}{%- endif -%}" +
  "{%- endfor -%}" +
  "{%- if add_generation_prompt -%}<bot>:{%- endif -%}";

/**
 * ChatML: `<|im_start|>{role}\n{content}<|im_end|>`, messages joined by `\n`, generation prompt
 * `<|im_start|>assistant\n`. The joining `\n` is written before the next message rather than after `<|im_end|>`,
 * which gives the same serving prompt as the usual ChatML and makes an assistant turn's target `{content}<|im_end|>`.
 */
export const CHATML_TEMPLATE =
  "{%- for m in messages -%}" +
  "{%- if not loop.first -%}{{ '\\n' }}{%- endif -%}<|im_start|>{{ m.role }}{{ '\\n' }}{{ m.content }}<|im_end|>" +
  "{%- endfor -%}" +
  "{%- if add_generation_prompt -%}{%- if messages | length > 0 -%}{{ '\\n' }}{%- endif -%}<|im_start|>assistant{{ '\\n' }}{%- endif -%}";

export const BUILTIN_TEMPLATES: Record<string, string> = { ziya: ZIYA_TEMPLATE, chatml: CHATML_TEMPLATE };

/** A template by built-in name, by name in the tokenizer's config ('default' or 'model' = its chat_template), or Jinja source. */
export function resolveTemplate(tok: Tokenizer | null, template: string): string {
  if (BUILTIN_TEMPLATES[template]) return BUILTIN_TEMPLATES[template]!;
  if (tok) {
    if (template === 'default' || template === 'model') {
      if (tok.config.chatTemplate === null) throw new Error("[chat] the tokenizer's config has no chat_template; pass --template ziya|chatml or Jinja source");
      return tok.config.chatTemplate;
    }
    if (tok.config.chatTemplates[template]) return tok.config.chatTemplates[template]!;
  }
  if (template.includes('{{') || template.includes('{%')) return template;
  throw new Error(`[chat] unknown template '${template}' (built-ins: ${Object.keys(BUILTIN_TEMPLATES).join(', ')}, or 'default' for tokenizer_config.json's)`);
}

type Node = { type: string; value?: unknown; object?: Node; property?: Node; computed?: boolean; callee?: Node };

function describe(n: Node | undefined): string {
  if (!n) return '?';
  switch (n.type) {
    case 'Identifier': return String(n.value);
    case 'MemberExpression': return n.computed ? `${describe(n.object)}[${describe(n.property)}]` : `${describe(n.object)}.${describe(n.property)}`;
    case 'StringLiteral': return JSON.stringify(n.value);
    case 'NumericLiteral': case 'IntegerLiteral': return String(n.value);
    case 'CallExpression': return `${describe(n.callee)}(...)`;
    default: return n.type;
  }
}

const templateCache = new Map<string, Template>();

/**
 * Renders Jinja with strict undefined values: printing an undefined variable or attribute throws, naming it, instead
 * of printing nothing (a typo such as `{{ mesage.content }}` would otherwise silently train on empty turns).
 * `is defined`, `if x`, and `default` still see undefined values as usual.
 */
export function renderTemplate(source: string, context: Record<string, unknown>): string {
  let tpl = templateCache.get(source);
  if (!tpl) {
    try { tpl = new Template(source); } catch (e) { throw new Error(`[chat-template] does not parse: ${(e as Error).message}`); }
    templateCache.set(source, tpl);
  }
  const env = new Environment();
  const globals: Record<string, unknown> = {
    false: false, true: true, none: null, False: false, True: true, None: null,
    raise_exception: (msg: unknown) => { throw new Error(`[chat-template] raise_exception: ${String(msg)}`); },
    range: (a: number, b?: number, step = 1) => {
      const [s, e] = b === undefined ? [0, a] : [a, b];
      const out: number[] = [];
      for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(i);
      return out;
    },
    strftime_now: () => { throw new Error('[chat-template] strftime_now is not available: pass the date in the context so renders are reproducible'); },
  };
  for (const [k, v] of Object.entries({ ...globals, ...context })) env.set(k, v);
  const undefinedSeen = new Set<string>();
  const it = new Interpreter(env) as unknown as {
    evaluate(n: Node, e: unknown): { type: string; toString(): string };
    evaluateBlock(statements: Node[], e: unknown): unknown;
    evaluateIdentifier(n: Node, e: unknown): { type: string };
    run(p: unknown): { value: string };
  };
  const origBlock = it.evaluateBlock.bind(it);
  const origIdent = it.evaluateIdentifier.bind(it);
  it.evaluateIdentifier = (n, e) => {
    const v = origIdent(n, e);
    if (v.type === 'UndefinedValue') undefinedSeen.add(String(n.value));
    return v;
  };
  it.evaluateBlock = (statements, e) => {
    let out = '';
    for (const st of statements) {
      const v = it.evaluate(st, e);
      if (v.type === 'UndefinedValue') throw new Error(`[chat-template] '${describe(st)}' is undefined (context has: ${Object.keys(context).join(', ')})`);
      if (v.type !== 'NullValue') out += v.toString();
    }
    const empty = origBlock([], e) as { constructor: new (s: string) => unknown };
    return new empty.constructor(out);
  };
  try {
    return it.run(tpl.parsed).value;
  } catch (e) {
    const msg = (e as Error).message;
    if (msg.startsWith('[chat-template]')) throw e;
    const hint = undefinedSeen.size ? ` (undefined: ${[...undefinedSeen].join(', ')})` : '';
    throw new Error(`[chat-template] render failed: ${msg}${hint}`);
  }
}

export interface ChatOptions {
  /** end with the template's generation prompt (serving); default: true when the last message is not the assistant's */
  addGenerationPrompt?: boolean;
  /** extra template variables (e.g. tools, a date) */
  context?: Record<string, unknown>;
}

function checkMessages(messages: ChatMessage[]): void {
  messages.forEach((m, i) => {
    if (!m || typeof m.role !== 'string') throw new Error(`[chat] messages[${i}].role: expected a string`);
    if (typeof m.content !== 'string') throw new Error(`[chat] messages[${i}].content: expected a string`);
  });
}

export function renderChat(tok: Tokenizer | null, template: string, messages: ChatMessage[], opts: ChatOptions = {}): string {
  checkMessages(messages);
  const addGen = opts.addGenerationPrompt ?? (messages.length === 0 || messages[messages.length - 1]!.role !== 'assistant');
  const c = tok?.config;
  return renderTemplate(resolveTemplate(tok, template), {
    messages: messages.map((m) => ({ ...m })),
    add_generation_prompt: addGen,
    // only the tokens the config names: a template that prints a missing eos_token fails instead of dropping it
    ...(c?.bosToken != null ? { bos_token: c.bosToken } : {}),
    ...(c?.eosToken != null ? { eos_token: c.eosToken } : {}),
    ...(c?.padToken != null ? { pad_token: c.padToken } : {}),
    ...(c?.unkToken != null ? { unk_token: c.unkToken } : {}),
    ...opts.context,
  });
}

export { encodeChat, type ChatEncoding } from './chat-mask.js';
