// rl-models.ts — the models of an RLHF stage on as few base copies as the inputs allow. When the reward model's
// directory holds byte-identical base weights to the SFT model's (an RM trained as a LoRA adapter + score head on
// the pre-trained model the SFT adapter also sits on), the base is loaded once and carries every adapter: the SFT
// ones (frozen), the RM's (frozen, on only while scoring) and the new RL adapter (trainable). The roles are adapter
// sets switched by withActiveAdapters; otherwise (full-FT SFT, full RM) the RM gets its own copy and the reason.
import { join } from 'node:path';
import type { Tensor } from '../../tensor/tensor.js';
import { tidy } from '../../tensor/scope.js';
import { noGrad } from '../../autograd/grad-mode.js';
import type { LlamaForCausalLM } from '../../model/llama.js';
import { loadModelDir, readAdaptersList, type ModelDir } from '../../model/model-dir.js';
import type { WeightsOption } from '../../model/weights.js';
import type { KvCacheDType } from '../../model/kv-cache.js';
import { loadAdapter } from '../../model/lora-io.js';
import { compareBaseWeights, sameAdapterFolder } from '../../model/same-base.js';
import { ValueHead } from '../../model/value-head.js';
import { LoraAdapter, attachedAdapters, freezeParameters, withActiveAdapters, type LoraConfig } from '../../nn/lora.js';
import { scoreSequences } from './reward.js';

export interface RlModelsOptions {
  sftDir: string;
  rmDir: string;
  /** the new trainable adapter on the policy */
  adapter: { name: string; config: LoraConfig; seed: number; initSeed: number };
  /** where the one line on the base copies goes (with the reason when the RM gets its own) */
  log?: (line: string) => void;
  /** error prefix, e.g. 'ppo' */
  where?: string;
  /** the dtype the frozen base weights are held in (`model.loraBaseWeights`; default: as stored) */
  weights?: WeightsOption;
  /** what the policy's rollouts keep in their KV cache (`model.kvCache`; default f32) */
  kvCache?: KvCacheDType;
}

export interface RlModels {
  /** SFT weights + SFT adapters (frozen) + the new adapter; outside the role helpers it is in the policy state */
  policy: LlamaForCausalLM;
  sft: ModelDir;
  adapter: LoraAdapter;
  /** the model the score head reads: the policy object itself when the base is shared */
  rewardModel: LlamaForCausalLM;
  rewardHead: ValueHead;
  /** adapters that are on while scoring (some may be shared with the policy, e.g. a continued-pre-training one) */
  rewardActive: LoraAdapter[];
  /** distinct base-weight bytes held (policy ∪ reward model) over one base's bytes: 1 when shared, 2 when not */
  baseCopies: number;
  /** why the reward model has its own base copy (null when it shares the policy's) */
  unsharedReason: string | null;
  /** fn with the frozen reference: the SFT model (SFT-stage adapters on, the new one and the RM's off) */
  asReference<R>(fn: (reference: LlamaForCausalLM) => R): R;
  /** fn with the policy state made explicit (SFT adapters and the new one on, the RM's off) */
  asPolicy<R>(fn: (policy: LlamaForCausalLM) => R): R;
  /** reward-model score of prompt + response (only the RM's adapters on, its score head) */
  score(prompt: number[], response: number[]): number;
  /** every weight the stage holds, each tensor once (for the memory line): bases, adapters, the RM head */
  allWeights(): Tensor[];
}

function baseBytes(models: LlamaForCausalLM[]): number {
  const seen = new Set<Tensor>();
  let bytes = 0;
  for (const m of models) for (const p of m.parameters()) if (!seen.has(p)) { seen.add(p); bytes += (p.data as ArrayBufferView).byteLength; }
  return bytes;
}

/** Load the SFT policy and the reward model for an RL stage, sharing the base when the directories allow it. */
export function loadRlModels(o: RlModelsOptions): RlModels {
  const where = o.where ?? 'rl';
  const sft = loadModelDir(o.sftDir, { weights: o.weights, kvCache: o.kvCache });
  const policy = sft.model;
  freezeParameters(policy.parameters());
  for (const a of sft.adapters) a.setTrainable(false);
  const refActive = sft.adapters.filter((a) => a.enabled);
  const rmEntries = readAdaptersList(o.rmDir);
  const unsharedReason = compareBaseWeights(o.sftDir, o.rmDir);
  let rewardModel: LlamaForCausalLM, rewardHead: ValueHead | null, rewardActive: LoraAdapter[];
  if (unsharedReason === null) {
    rewardModel = policy;
    rewardHead = ValueHead.load(o.rmDir, policy.config.hiddenSize);
    const taken = new Set([...sft.adapters.map((a) => a.name), o.adapter.name]);
    rewardActive = [];
    for (const e of rmEntries) {
      if (!e.enabled) continue; // switched off in the RM: no part of its scores
      const folder = join(o.rmDir, 'adapters', e.name);
      // an adapter both stages carry (a continued-pre-training one) is the same object in every role
      const same = sft.adapters.find((a) => a.name === e.name && a.enabled
        && sameAdapterFolder(join(o.sftDir, 'adapters', e.name), folder));
      const ad = same ?? loadAdapter(folder, taken.has(e.name) ? `rm.${e.name}` : e.name, policy.namedLinears());
      if (!same) { ad.setTrainable(false); ad.enabled = false; taken.add(ad.name); }
      rewardActive.push(ad);
    }
  } else {
    o.log?.(`[${where}] two copies of the base weights: the reward model's differ from the SFT model's (${unsharedReason}); a LoRA reward model on the pre-trained model would share one`);
    const rm = loadModelDir(o.rmDir, { weights: o.weights });
    rewardModel = rm.model;
    rewardHead = rm.valueHead;
    freezeParameters(rewardModel.parameters());
    for (const a of rm.adapters) a.setTrainable(false);
    rewardActive = rm.adapters.filter((a) => a.enabled);
  }
  if (!rewardHead) throw new Error(`[${where}] ${o.rmDir} has no value_head.safetensors: is it a reward model?`);
  const head = rewardHead;
  const adapter = new LoraAdapter(o.adapter.name, o.adapter.config, o.adapter.seed).attach(policy.namedLinears(), o.adapter.initSeed);
  const policyActive = [...refActive, adapter];
  // the resting state is the policy's: generation and the losses call the policy model directly
  const on = new Set(policyActive);
  for (const a of attachedAdapters(policy.namedLinears())) a.enabled = on.has(a);
  const one = baseBytes([policy]);
  if (unsharedReason === null) o.log?.(`[${where}] one copy of the base weights (${(one / 2 ** 20).toFixed(1)} MiB) for policy, reference and reward model; adapters ${attachedAdapters(policy.namedLinears()).map((a) => a.name).join(', ')}`);
  return {
    policy, sft, adapter, rewardModel, rewardHead: head, rewardActive, unsharedReason,
    baseCopies: baseBytes([policy, rewardModel]) / one,
    asReference: (fn) => withActiveAdapters(policy, refActive, () => fn(policy)),
    asPolicy: (fn) => withActiveAdapters(policy, policyActive, () => fn(policy)),
    score: (prompt, response) => withActiveAdapters(rewardModel, rewardActive, () =>
      noGrad(() => tidy(() => scoreSequences(rewardModel, head, [[...prompt, ...response]]).item()))),
    allWeights: () => {
      const models = rewardModel === policy ? [policy] : [policy, rewardModel];
      return [...new Set([...models.flatMap((m) => [...m.parameters(), ...attachedAdapters(m.namedLinears()).flatMap((a) => a.parameters())]), ...head.parameters()])];
    },
  };
}
