// resize.ts — grow a model's vocabulary after a tokenizer extension: every existing row of the embedding and the
// LM head is kept; each new row starts as the mean of the rows of the old tokens its text used to encode to (as
// Chinese-LLaMA-style extensions do), so the extended model initially behaves like the old one on that text.
import { LlamaForCausalLM } from './llama.js';

/** sources: new id → old ids (from newTokenSources); a new id without sources gets the mean of all old rows. */
export function resizeVocabulary(model: LlamaForCausalLM, newVocab: number, sources: ReadonlyMap<number, readonly number[]>): LlamaForCausalLM {
  const oldV = model.config.vocabSize;
  if (!(Number.isInteger(newVocab) && newVocab >= oldV))
    throw new Error(`[resize] the new vocabulary (${newVocab}) must be an integer >= the old one (${oldV})`);
  for (const [id, src] of sources) {
    if (!(id >= oldV && id < newVocab)) throw new Error(`[resize] new token id ${id} is outside [${oldV}, ${newVocab})`);
    for (const s of src) if (!(s >= 0 && s < oldV)) throw new Error(`[resize] new token ${id}: source id ${s} is not an old id`);
  }
  const out = new LlamaForCausalLM({ ...model.config, vocabSize: newVocab }, 0, { init: false });
  const old = new Map(model.namedParameters());
  const C = model.config.hiddenSize;
  for (const [name, p] of out.namedParameters()) {
    const src = old.get(name);
    if (!src) throw new Error(`[resize] internal: no tensor '${name}' in the old model`);
    const dst = p.f32('resize'), from = src.f32('resize');
    if (src.size === p.size) { dst.set(from); continue; }
    // embed_tokens.weight / lm_head.weight: (V, C) rows
    dst.set(from);
    const mean = new Float32Array(C);
    for (let v = 0; v < oldV; v++) for (let c = 0; c < C; c++) mean[c]! += from[v * C + c]! / oldV;
    for (let id = oldV; id < newVocab; id++) {
      const s = sources.get(id);
      const row = dst.subarray(id * C, (id + 1) * C);
      if (!s || s.length === 0) { row.set(mean); continue; }
      row.fill(0);
      for (const o of s) for (let c = 0; c < C; c++) row[c]! += from[o * C + c]! / s.length;
    }
  }
  return out;
}
