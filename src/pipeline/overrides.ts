// overrides.ts — `--set key.path=value` on the pipeline's command line: each value parsed as YAML (numbers,
// booleans, null, [lists], {mappings}, strings) and written into the raw config before validation, so an override
// is checked exactly as the same key in the file would be. No schema knowledge here (config.ts has it).
import { parse } from 'yaml';
import { ConfigError } from './config.js';

export interface Override { key: string[]; value: unknown; text: string }

/** `a.b.c=value` → path and YAML-parsed value; the malformed forms are errors naming the argument. */
export function parseOverride(text: string): Override {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new ConfigError(`[config] --set ${text}: expected key.path=value (e.g. sft.steps=50)`);
  const key = text.slice(0, eq).trim().split('.');
  if (key.some((k) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))) throw new ConfigError(`[config] --set ${text}: '${text.slice(0, eq)}' is not a key path (names joined by '.')`);
  const raw = text.slice(eq + 1);
  let value: unknown;
  try {
    // an empty value is YAML's null, as `key:` with nothing after it is in the file
    value = parse(raw);
  } catch (e) {
    throw new ConfigError(`[config] --set ${text}: the value is not valid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  return { key, value: value === undefined ? null : value, text };
}

/** The raw config with the overrides written in, in order (a later --set of the same key wins). Does not mutate `raw`. */
export function applyOverrides(raw: unknown, overrides: Override[]): Record<string, unknown> {
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw)))
    throw new ConfigError('[config] the config must be a mapping of keys');
  const root = structuredClone((raw ?? {}) as Record<string, unknown>);
  for (const o of overrides) {
    let node = root;
    for (const [i, k] of o.key.slice(0, -1).entries()) {
      const v = node[k];
      // a key left out (or null, e.g. `lora: null`) becomes a mapping when a key under it is set
      if (v === undefined || v === null) node[k] = {};
      else if (typeof v !== 'object' || Array.isArray(v))
        throw new ConfigError(`[config] --set ${o.text}: ${o.key.slice(0, i + 1).join('.')} is ${JSON.stringify(v)}, not a mapping`);
      node = node[k] as Record<string, unknown>;
    }
    node[o.key.at(-1)!] = o.value;
  }
  return root;
}
