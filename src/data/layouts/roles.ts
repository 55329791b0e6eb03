// roles.ts — speaker labels of the field's dialogue files (Chinese and English) → our roles, extensible with
// `--roles 'label=user,…'`. A label is matched whole (trimmed, ASCII case-insensitive); an unknown label is never
// guessed. Which key of a turn holds the label is turn-objects.ts's business, not this file's.
import { RecordError } from '../errors.js';
import type { Role } from '../types.js';

const DEFAULTS: Record<Role, string[]> = {
  user: ['user', 'human', 'patient', 'client', 'customer', 'questioner', 'asker', '病人', '患者', '家属', '患者家属', '病人家属',
    '用户', '求助者', '提问者', '咨询者', '病友', '来访者', '<user>', '<human>'],
  assistant: ['assistant', 'gpt', 'bot', 'doctor', 'model', 'chatgpt', 'ai', 'physician', 'dr', '医生', '大夫', '医师',
    '助手', '专家', '主治医生', '主任医师', '医生助手', '<bot>', '<assistant>'],
  system: ['system', '系统'],
};

export type RoleLabels = Record<string, Role>;

function norm(label: string): string {
  return label.trim().toLowerCase();
}

/** The label → role table: the defaults, then the user's labels (which win over a default of the same name). */
export class RoleTable {
  private readonly map = new Map<string, Role>();

  constructor(extra: RoleLabels = {}) {
    for (const [role, labels] of Object.entries(DEFAULTS) as [Role, string[]][]) for (const l of labels) this.map.set(norm(l), role);
    for (const [l, r] of Object.entries(extra)) this.map.set(norm(l), r);
  }

  /** The role of a label, or undefined when the label is not known. */
  of(label: string): Role | undefined {
    return this.map.get(norm(label));
  }

  /** Every label, longest first (so '患者家属' is tried before '患者' when matching prefixes). */
  labels(): string[] {
    return [...this.map.keys()].sort((a, b) => b.length - a.length);
  }
}

const DEFAULT_TABLE = new RoleTable();

export function roleTable(extra?: RoleLabels): RoleTable {
  return extra && Object.keys(extra).length ? new RoleTable(extra) : DEFAULT_TABLE;
}

/** The role of `label` at `field`, or a RecordError that says how to name it. */
export function roleOfLabel(t: RoleTable, label: unknown, field: string): Role {
  if (typeof label !== 'string') throw new RecordError(field, `expected a speaker label string, got ${label === null ? 'null' : typeof label}`);
  const r = t.of(label);
  if (!r) throw new RecordError(field, `unknown speaker '${label}' (name it with --roles '${label.trim()}=user' or '${label.trim()}=assistant')`);
  return r;
}

/** Parses `家长=user,主任=assistant`; every role must be user, assistant or system. */
export function parseRoles(s: string): RoleLabels {
  const out: RoleLabels = {};
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const eq = part.lastIndexOf('=');
    if (eq <= 0) throw new Error(`[data] --roles: expected label=role, got '${part}'`);
    const label = part.slice(0, eq).trim(), role = part.slice(eq + 1).trim().toLowerCase();
    if (role !== 'user' && role !== 'assistant' && role !== 'system') throw new Error(`[data] --roles: '${part}': the role must be user, assistant or system`);
    out[label] = role;
  }
  if (!Object.keys(out).length) throw new Error('[data] --roles: no label=role pairs given');
  return out;
}
