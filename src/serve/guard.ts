// guard.ts — the serving safety guard: looks at the patient's latest words with the shared red-flag detector
// (src/data/medical-rules.ts: detectRedFlags) and decides what goes before and after the model's answer — an
// urgent-care message first, whatever the model says, and a standing disclaimer. It writes no rules of its own.
import { detectRedFlags, type RedFlag } from '../data/medical-rules.js';
import type { ChatMessage } from '../tokenizer/chat.js';

export interface GuardOptions {
  /** red-flag detection (default on) */
  enabled?: boolean;
  /** appended after every answer; '' turns it off (default DISCLAIMER) */
  disclaimer?: string;
}

export const DISCLAIMER = '（本回答由研究用 AI 模型生成，不是医生，不能替代医生的诊断和治疗；如症状加重请及时就医。）';
export const URGENT_HEADER = '【紧急提示】';
/**
 * After an emergency the model's words still follow (a patient may need them to describe things to the ambulance
 * crew), but under this line, which says they are not advice: docs/serving.md, "Safety guard".
 */
export const NOT_ADVICE = '—— 以下为模型自动生成的文字，不是医疗建议；请先按上面的提示就医 ——';

export interface GuardVerdict {
  urgent: boolean;
  flags: RedFlag[];
  /** text that goes before the model's answer ('' when nothing fired) */
  prefix: string;
  /** text that goes after it ('' when the disclaimer is off) */
  suffix: string;
}

export class SafetyGuard {
  readonly enabled: boolean;
  readonly disclaimer: string;

  constructor(opts: GuardOptions = {}) {
    this.enabled = opts.enabled ?? true;
    this.disclaimer = opts.disclaimer ?? DISCLAIMER;
  }

  /**
   * Only the latest user message is checked: an emergency mentioned several turns ago has already been answered
   * with the urgent message, and repeating it on every later turn would teach people to skip it.
   */
  check(messages: ChatMessage[]): GuardVerdict {
    const suffix = this.disclaimer ? `\n\n${this.disclaimer}` : '';
    const last = [...messages].reverse().find((m) => m.role === 'user');
    if (!this.enabled || !last) return { urgent: false, flags: [], prefix: '', suffix };
    const r = detectRedFlags(last.content);
    if (!r.urgent) return { urgent: false, flags: [], prefix: '', suffix };
    return { urgent: true, flags: r.flags, prefix: `${URGENT_HEADER}${r.message}\n\n${NOT_ADVICE}\n`, suffix };
  }

  /**
   * An earlier answer as the model wrote it: clients send back what they were shown, and the guard's own words in
   * the prompt would make the model imitate them instead of answering.
   */
  strip(answer: string): string {
    let s = answer;
    if (s.startsWith(URGENT_HEADER)) {
      const sep = s.indexOf(`${NOT_ADVICE}\n`);
      const i = s.indexOf('\n\n');
      s = sep >= 0 ? s.slice(sep + NOT_ADVICE.length + 1) : i < 0 ? '' : s.slice(i + 2);
    }
    const suffix = this.disclaimer ? `\n\n${this.disclaimer}` : '';
    if (suffix && s.endsWith(suffix)) s = s.slice(0, -suffix.length);
    return s;
  }
}
