// prefixed.ts — dialogues stored as lists of role-prefixed strings (["病人：…", "医生：…"], "Patient: …"), with full-
// and half-width colons and optional 【】/[] around the label; the list may be the record or sit under any key.
// Every element must carry a known label (roles.ts): one that does not is an error naming it, never a guess.
import { RecordError } from '../errors.js';
import type { RoleTable } from './roles.js';
import type { Turn } from '../types.js';

const cache = new WeakMap<RoleTable, RegExp>();

function prefixRe(roles: RoleTable): RegExp {
  let re = cache.get(roles);
  if (!re) {
    const alt = roles.labels().map((l) => l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
    re = new RegExp(`^\\s*[【\\[]?(${alt})[】\\]]?\\s*[:：]`, 'i');
    cache.set(roles, re);
  }
  return re;
}

/** The label a string opens with ('病人' for '病人：我头痛'), or undefined. */
export function prefixLabel(s: string, roles: RoleTable): { label: string; rest: string } | undefined {
  const m = prefixRe(roles).exec(s);
  return m ? { label: m[1]!, rest: s.slice(m[0].length).trim() } : undefined;
}

const isStrList = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string');

/**
 * Where a record keeps its role-prefixed list: null for the record itself, a key, or undefined when it has none.
 * A list counts when it has two or more elements, its first and most elements carry a label and both sides speak;
 * the conversion then checks every element.
 */
export function findPrefixedList(v: unknown, roles: RoleTable): string | null | undefined {
  // two elements at least, and both sides speaking: a one-element list is Huatuo's way of storing one string, and a
  // patient's question may well open with '大夫：'
  const looks = (l: string[]) => {
    if (l.length < 2 || prefixLabel(l[0]!, roles) === undefined) return false;
    const p = l.map((s) => prefixLabel(s, roles));
    const sides = new Set(p.map((x) => x && roles.of(x.label)));
    return 2 * p.filter(Boolean).length >= l.length && sides.has('user') && sides.has('assistant');
  };
  if (isStrList(v)) return looks(v) ? null : undefined;
  if (typeof v !== 'object' || v === null) return undefined;
  const keys = Object.entries(v as Record<string, unknown>).filter(([, x]) => isStrList(x) && looks(x)).map(([k]) => k);
  if (keys.length > 1) throw new RecordError('turns', `several lists of role-prefixed strings (${keys.join(', ')}); pick one with --map turns=KEY`);
  return keys[0];
}

/** The turns of a role-prefixed list, with the labels seen. An element without a label is an error at its index. */
export function prefixedTurns(list: string[], field: string, roles: RoleTable): { turns: Turn[]; labels: string[] } {
  const turns: Turn[] = [], labels: string[] = [];
  list.forEach((s, i) => {
    const p = prefixLabel(s, roles);
    if (!p) throw new RecordError(`${field}[${i}]`, `no speaker label before a colon in '${s.slice(0, 30)}' (every element must start with one, e.g. 病人： or 医生：; add labels with --roles)`);
    turns.push({ role: roles.of(p.label)!, text: p.rest });
    labels.push(p.label);
  });
  return { turns, labels };
}
