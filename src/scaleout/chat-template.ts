// chat-template.ts — our chat templates written the way LLaMA-Factory v0.9.3 reads a tokenizer's own template
// (data/template.py parse_template: with `template` unset it renders probe conversations and cuts them into
// user / assistant / system slots). The serving prompt of every turn is byte-identical to src/tokenizer/chat.ts's
// render; the only difference in training text is a '\n' after each answer's EOS, which generation never reaches.
import { BUILTIN_TEMPLATES } from '../tokenizer/chat.js';

/** Zhongjing's `<human>:…\n<bot>:` turns, each answer ending `{eos}\n` (a slot parse_template can cut). */
const ZIYA_ENGINE =
  "{%- for m in messages -%}" +
  "{%- if m.role == 'system' -%}{{ m.content }}{{ '\\n' }}" +
  "{%- elif m.role == 'user' -%}<human>:{{ m.content }}{{ '\\n' }}" +
  "{%- elif m.role == 'assistant' -%}<bot>:{{ m.content }}{{ eos_token }}{{ '\\n' }}" +
  "{%- endif -%}{%- endfor -%}" +
  "{%- if add_generation_prompt -%}<bot>:{%- endif -%}";

const CHATML_ENGINE =
  "{%- for m in messages -%}<|im_start|>{{ m.role }}{{ '\\n' }}{{ m.content }}<|im_end|>{{ '\\n' }}{%- endfor -%}" +
  "{%- if add_generation_prompt -%}<|im_start|>assistant{{ '\\n' }}{%- endif -%}";

export const ENGINE_TEMPLATES: Record<'ziya' | 'chatml', string> = { ziya: ZIYA_ENGINE, chatml: CHATML_ENGINE };

/** The engine template for one of our built-in template names; an unknown name is an export error. */
export function engineTemplate(name: string): string {
  if (!(name in ENGINE_TEMPLATES) || !BUILTIN_TEMPLATES[name])
    throw new Error(`[export recipe] tokenizer.template: '${name}' has no engine form (known: ${Object.keys(ENGINE_TEMPLATES).join(', ')})`);
  return ENGINE_TEMPLATES[name as 'ziya' | 'chatml'];
}
