// lora-io.ts — PEFT adapter folders: adapter_config.json (peft_type LORA: r, lora_alpha, lora_dropout,
// target_modules, use_rslora) and adapter_model.safetensors with PEFT tensor names
// (base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight). PEFT options we do not implement
// (DoRA, fan_in_fan_out, trained biases, modules_to_save, per-layer rank patterns) are refused by field name.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoraAdapter, type LoraConfig, type LoraLinear } from '../nn/lora.js';
import { SafetensorsFile, writeSafetensors, type StDtype } from './safetensors.js';
import { atomicWriteJson } from './atomic.js';

const PREFIX = 'base_model.model.';

export function parseAdapterConfig(json: unknown, file: string): LoraConfig {
  const bad = (field: string, why: string): never => { throw new Error(`[lora] ${file}: ${field}: ${why}`); };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return bad('(root)', 'expected a JSON object');
  const j = json as Record<string, unknown>;
  if (j.peft_type !== undefined && j.peft_type !== 'LORA') bad('peft_type', `${JSON.stringify(j.peft_type)} is not supported (only LORA)`);
  const r = j.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r <= 0) bad('r', `expected a positive integer, got ${JSON.stringify(r)}`);
  const alpha = j.lora_alpha ?? r;
  if (typeof alpha !== 'number' || !(alpha > 0)) bad('lora_alpha', `expected a positive number, got ${JSON.stringify(alpha)}`);
  const drop = j.lora_dropout ?? 0;
  if (typeof drop !== 'number' || !(drop >= 0 && drop < 1)) bad('lora_dropout', `expected a number in [0, 1), got ${JSON.stringify(drop)}`);
  const tm = j.target_modules;
  if (!(typeof tm === 'string' || (Array.isArray(tm) && tm.length > 0 && tm.every((t) => typeof t === 'string'))))
    bad('target_modules', `expected a list of module names or a regex string, got ${JSON.stringify(tm)}`);
  if (j.use_dora === true) bad('use_dora', 'DoRA is not supported');
  if (j.fan_in_fan_out === true) bad('fan_in_fan_out', 'only the [out, in] Linear layout is supported');
  if (j.bias !== undefined && j.bias !== 'none') bad('bias', `${JSON.stringify(j.bias)} is not supported (only "none")`);
  if (j.modules_to_save !== undefined && j.modules_to_save !== null && !(Array.isArray(j.modules_to_save) && j.modules_to_save.length === 0))
    bad('modules_to_save', 'fully trained extra modules are not supported');
  if (j.layers_to_transform !== undefined && j.layers_to_transform !== null) bad('layers_to_transform', 'not supported');
  for (const k of ['rank_pattern', 'alpha_pattern'])
    if (j[k] !== undefined && j[k] !== null && Object.keys(j[k] as object).length) bad(k, 'per-module ranks are not supported');
  const rs = j.use_rslora ?? false;
  if (typeof rs !== 'boolean') bad('use_rslora', `expected true or false, got ${JSON.stringify(rs)}`);
  return { r: r as number, loraAlpha: alpha as number, loraDropout: drop as number, targetModules: tm as string[] | string, useRslora: rs as boolean };
}

export function adapterConfigJson(c: LoraConfig, baseModel = ''): Record<string, unknown> {
  return {
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: baseModel, inference_mode: true,
    r: c.r, lora_alpha: c.loraAlpha, lora_dropout: c.loraDropout, target_modules: c.targetModules,
    use_rslora: c.useRslora, use_dora: false, bias: 'none', fan_in_fan_out: false, modules_to_save: null,
    init_lora_weights: true, layers_to_transform: null, rank_pattern: {}, alpha_pattern: {},
  };
}

/** Load a PEFT folder and attach it to `linears` (name → module). The adapter starts enabled, frozen. */
export function loadAdapter(dir: string, name: string, linears: [string, LoraLinear][]): LoraAdapter {
  const cfgPath = join(dir, 'adapter_config.json');
  if (!existsSync(cfgPath)) throw new Error(`[lora] ${dir}: adapter_config.json is missing`);
  let json: unknown;
  try { json = JSON.parse(readFileSync(cfgPath, 'utf8')); } catch (e) { throw new Error(`[lora] ${cfgPath}: not valid JSON (${(e as Error).message})`); }
  const cfg = parseAdapterConfig(json, cfgPath);
  const adapter = new LoraAdapter(name, cfg).attach(linears);
  const file = new SafetensorsFile(join(dir, 'adapter_model.safetensors'));
  try {
    const names = new Set(file.names());
    for (const [n, slot] of adapter.modules) {
      for (const [which, t] of [['lora_A', slot.A], ['lora_B', slot.B]] as const) {
        // PEFT writes names without the adapter name; some versions keep ".default"
        const cands = [`${PREFIX}${n}.${which}.weight`, `${PREFIX}${n}.${which}.default.weight`];
        const key = cands.find((c) => names.has(c));
        if (!key) throw new Error(`[lora] ${file.path}: missing ${cands[0]} (target_modules match ${n})`);
        const e = file.entry(key);
        if (e.shape.join() !== t.shape.join())
          throw new Error(`[lora] ${file.path}: ${key} has shape [${e.shape}], the model needs [${t.shape}]`);
        file.readF32(key, t.f32());
        names.delete(key);
      }
    }
    if (names.size) throw new Error(`[lora] ${file.path}: tensors for modules the config does not target: ${[...names].slice(0, 3).join(', ')}`);
  } catch (e) {
    adapter.detach();
    throw e;
  } finally {
    file.close();
  }
  adapter.setTrainable(false);
  return adapter;
}

export function saveAdapter(dir: string, adapter: LoraAdapter, opts: { dtype?: StDtype; baseModel?: string } = {}): void {
  const tensors = adapter.namedParameters().map(([n, t]) => ({ name: PREFIX + n, shape: t.shape, data: t.f32('saveAdapter') }));
  writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors, { dtype: opts.dtype ?? 'F32', metadata: { format: 'pt' } });
  atomicWriteJson(join(dir, 'adapter_config.json'), adapterConfigJson(adapter.config, opts.baseModel));
}
