// injection.ts — turn-marker injection: the strings a message's content must not contain because the rendered prompt
// would read them as structure — every added or special token of the tokenizer, and the turn markers of the active
// chat template, plain-text ones (`<human>:`, `<bot>:`) included, found by rendering the template around probe
// contents. Used by the server, `chat` and the data checks; it refuses, it never rewrites content.
import { BUILTIN_TEMPLATES, renderChat, renderTemplate, resolveTemplate, type ChatMessage } from './chat.js';
import type { Tokenizer } from './tokenizer.js';

export interface Marker {
  text: string;
  /** 'token': an added/special token of the tokenizer; 'turn': text the template writes between messages */
  kind: 'token' | 'turn';
}

export interface Injection {
  /** index of the message in the list given */
  index: number;
  marker: Marker;
}

// probe contents: letters only (a template may trim or escape), unlikely to occur in any template's own text
const probe = (i: number) => `QZXPROBE${i}QZX`;

function render(tok: Tokenizer | null, template: string, messages: ChatMessage[], gen: boolean): string {
  if (tok) return renderChat(tok, template, messages, { addGenerationPrompt: gen });
  // no tokenizer: the template's token variables become empty, so only its literal text is seen
  return renderTemplate(resolveTemplate(null, template), { messages, add_generation_prompt: gen, bos_token: '', eos_token: '', pad_token: '', unk_token: '' });
}

/**
 * The template's own text between, before and after messages, cut into lines and trimmed: each line is a marker
 * (for ChatML `<|im_start|>user`, `<|im_end|>`; for ziya `<human>:`, `<bot>:`). Tries a conversation with a system
 * message first, then without (templates that refuse a system role).
 */
export function templateMarkers(tok: Tokenizer | null, template: string): string[] {
  const shapes: string[][] = [['system', 'user', 'assistant', 'user', 'assistant', 'user'], ['user', 'assistant', 'user', 'assistant', 'user']];
  let lastError: unknown;
  for (const roles of shapes) {
    const messages = roles.map((role, i) => ({ role, content: probe(i) }));
    let text: string;
    try {
      text = render(tok, template, messages, true);
    } catch (e) {
      lastError = e;
      continue;
    }
    const out = new Set<string>();
    let rest = text;
    for (let i = 0; i <= messages.length; i++) {
      const at = i < messages.length ? rest.indexOf(probe(i)) : rest.length;
      if (at < 0) continue; // a template may drop a message (e.g. a system prompt it replaces)
      for (const line of rest.slice(0, at).split(/\r?\n/)) {
        const t = line.trim();
        if (t.length >= 2) out.add(t);
      }
      rest = rest.slice(at + (i < messages.length ? probe(i).length : 0));
    }
    return [...out];
  }
  throw new Error(`[injection] cannot render the chat template to find its turn markers: ${(lastError as Error)?.message ?? lastError}`);
}

/**
 * Every string a message must not contain under this tokenizer and template, longest first. The built-in templates'
 * markers are included whichever template is active: a model fine-tuned from one layout may still follow another's.
 */
export function injectionMarkers(tok: Tokenizer | null, template: string): Marker[] {
  const m = new Map<string, Marker>();
  for (const t of tok?.addedTokens ?? []) if (t.content.length > 0) m.set(t.content, { text: t.content, kind: 'token' });
  const turn = [...templateMarkers(tok, template), ...Object.keys(BUILTIN_TEMPLATES).flatMap((b) => templateMarkers(null, b))];
  for (const t of turn) if (!m.has(t)) m.set(t, { text: t, kind: 'turn' });
  return [...m.values()].sort((a, b) => b.text.length - a.text.length);
}

/** The first marker found in `content` (longest markers are tried first), or null. */
export function findMarker(content: string, markers: readonly Marker[]): Marker | null {
  for (const mk of markers) if (content.includes(mk.text)) return mk;
  return null;
}

/** The first message whose content holds a marker, or null. */
export function findInjection(messages: readonly { content: string }[], markers: readonly Marker[]): Injection | null {
  for (let i = 0; i < messages.length; i++) {
    const mk = findMarker(messages[i]!.content, markers);
    if (mk) return { index: i, marker: mk };
  }
  return null;
}

/** One sentence for an error: what was found and why it is refused. */
export function describeInjection(inj: Injection): string {
  const what = inj.marker.kind === 'token' ? 'the special/added token' : "the chat template's turn marker";
  return `messages[${inj.index}].content contains ${what} ${JSON.stringify(inj.marker.text)}, which would be read as conversation structure (a forged turn), not text`;
}

/** A training record's problem, located as the data layer locates them: file:line: field: reason. */
export interface LocatedInjection { file: string; line: number; field: string; reason: string }

/**
 * Every turn of a training record whose text holds a marker. Such a record would teach the model a conversation
 * structure that is not the one it shows (a forged turn inside a turn), so the caller leaves it out and reports it.
 * `at` locates records that carry no source of their own.
 */
export function recordInjections(r: { turns: readonly { text: string }[]; source?: { file: string; line: number } },
  markers: readonly Marker[], at: { file: string; line: number }): LocatedInjection[] {
  const where = r.source ?? at;
  const out: LocatedInjection[] = [];
  r.turns.forEach((t, i) => {
    const mk = findMarker(t.text, markers);
    if (mk) out.push({ ...where, field: `turns[${i}].text`, reason: `contains ${mk.kind === 'token' ? 'the special/added token' : "the chat template's turn marker"} ${JSON.stringify(mk.text)} (a forged turn); record left out` });
  });
  return out;
}

export const formatInjection = (p: LocatedInjection) => `${p.file}:${p.line}: ${p.field}: ${p.reason}`;
