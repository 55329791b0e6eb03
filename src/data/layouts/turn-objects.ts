// turn-objects.ts — finds a dialogue stored as a list of turn objects under any key with any speaker/text key
// names ({"dialogue": [{"speaker": "医生", "utterance": "…"}]}): the speaker key is the one whose every value is a
// known speaker label (roles.ts), the text key the one string key left. When that does not single out one list, one
// speaker key and one text key, the error lists the candidates and the --map flag that picks one. Never guesses.
import { RecordError } from '../errors.js';
import type { RoleTable } from './roles.js';

type Obj = Record<string, unknown>;

export interface TurnListLayout {
  /** the key holding the list, or null when the record itself is the list */
  listKey: string | null;
  speakerKey: string;
  textKey: string;
}

/** Preferred names, used only to break a tie between keys that would otherwise be equally valid. */
const SPEAKER_NAMES = ['role', 'from', 'speaker', 'sender', 'author', 'who', 'side', 'type', '角色', '说话人'];
const TEXT_NAMES = ['text', 'content', 'value', 'utterance', 'sentence', 'message', 'msg', 'utt', 'words', '内容', '话语', '文本'];

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

type ListVerdict = { layout: TurnListLayout } | { error: RecordError } | null;

function analyse(list: Obj[], listKey: string | null, roles: RoleTable): ListVerdict {
  const where = listKey ?? 'record';
  const keys = [...new Set(list.flatMap((t) => Object.keys(t)))];
  const speakers: string[] = [];
  let partial: { key: string; unknown: string[] } | null = null;
  for (const k of keys) {
    const vals = list.map((t) => t[k]);
    if (!vals.every((v) => typeof v === 'string')) continue;
    const known = (vals as string[]).filter((v) => roles.of(v) !== undefined);
    if (known.length === vals.length) speakers.push(k);
    else if (known.length * 2 >= vals.length && new Set(vals).size <= 8 && !partial)
      partial = { key: k, unknown: [...new Set((vals as string[]).filter((v) => roles.of(v) === undefined))] };
  }
  if (!speakers.length) {
    if (partial) {
      const u = partial.unknown.slice(0, 4);
      return { error: new RecordError(`${where}[].${partial.key}`, `unknown speaker label${u.length > 1 ? 's' : ''} ${u.map((x) => `'${x}'`).join(', ')} (name ${u.length > 1 ? 'them' : 'it'} with --roles '${u[0]}=user' or '${u[0]}=assistant')`) };
    }
    return null;
  }
  let speakerKey = speakers[0]!;
  if (speakers.length > 1) {
    const same = speakers.every((k) => list.every((t) => roles.of(t[k] as string) === roles.of(t[speakers[0]!] as string)));
    const named = speakers.filter((k) => SPEAKER_NAMES.includes(k));
    if (!same || named.length !== 1)
      return { error: new RecordError(where, `ambiguous speaker key: ${speakers.join(', ')} all hold speaker labels; pick one with --map speaker=KEY,text=KEY${listKey ? `,turns=${listKey}` : ''}`) };
    speakerKey = named[0]!;
  }
  const texts = keys.filter((k) => k !== speakerKey && !speakers.includes(k)
    && list.every((t) => t[k] === undefined || t[k] === null || typeof t[k] === 'string')
    && list.some((t) => typeof t[k] === 'string' && (t[k] as string).trim() !== ''));
  if (!texts.length) return { error: new RecordError(where, `turn objects with speaker key '${speakerKey}' but no text key (keys: ${keys.join(', ')}); name it with --map speaker=${speakerKey},text=KEY`) };
  let textKey = texts[0]!;
  if (texts.length > 1) {
    const named = texts.filter((k) => TEXT_NAMES.includes(k));
    if (named.length !== 1)
      return { error: new RecordError(where, `ambiguous text key: ${texts.join(', ')} could each be the turn text; pick one with --map speaker=${speakerKey},text=KEY${listKey ? `,turns=${listKey}` : ''}`) };
    textKey = named[0]!;
  }
  return { layout: { listKey, speakerKey, textKey } };
}

/**
 * The turn list of a record (an object, or itself a list of objects), or null when nothing in it looks like turns.
 * Throws RecordError when it does look like turns but the layout is ambiguous or a speaker label is unknown.
 */
export function findTurnObjects(v: unknown, roles: RoleTable): TurnListLayout | null {
  const lists: [string | null, Obj[]][] = [];
  if (Array.isArray(v)) { if (v.length && v.every(isObj)) lists.push([null, v as Obj[]]); }
  else if (isObj(v)) for (const [k, x] of Object.entries(v)) if (Array.isArray(x) && x.length && x.every(isObj)) lists.push([k, x as Obj[]]);
  const found: TurnListLayout[] = [];
  let firstError: RecordError | null = null;
  for (const [k, list] of lists) {
    const r = analyse(list, k, roles);
    if (!r) continue;
    if ('error' in r) firstError ??= r.error;
    else found.push(r.layout);
  }
  if (found.length > 1)
    throw new RecordError('turns', `several lists of turns (${found.map((f) => f.listKey).join(', ')}); pick one with --map turns=KEY,speaker=KEY,text=KEY`);
  if (found.length === 1) return found[0]!;
  if (firstError) throw firstError;
  return null;
}

export function describeTurnObjects(l: TurnListLayout): string {
  return `turn objects ${l.listKey === null ? 'as the record' : `under '${l.listKey}'`} (speaker '${l.speakerKey}', text '${l.textKey}')`;
}
