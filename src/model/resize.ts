// resize.ts — fit a model's vocabulary to an extended tokenizer: every row of an old token in the embedding and the
// LM head is kept; each new row starts as the mean of the rows of the old tokens its text used to encode to (as
// Chinese-LLaMA-style extensions do), so the extended model initially behaves like the old one on that text.
// Models whose matrices have spare rows past their tokenizer (Qwen2.5: 151936 rows, 151665 tokens) place new
// tokens in those rows first and grow only past them.
import { LlamaForCausalLM } from './llama.js';
import { Tensor } from '../tensor/tensor.js';
import { fromBf16Array, toBf16Array } from './half.js';

/**
 * sources: new id → old ids (from newTokenSources). oldTokens: how many ids the old tokenizer had (default: the
 * model's rows); new ids lie in [oldTokens, newVocab), sources in [0, oldTokens). A new id without sources gets the
 * mean of the old tokens' rows; spare rows no new token takes are left as they were. When newVocab equals the model's
 * rows, the model's own tensors are written and the same model is returned; otherwise a grown copy that shares every
 * other tensor. f32 and bf16 matrices keep their dtype; quantized ones are refused.
 */
export function resizeVocabulary(model: LlamaForCausalLM, newVocab: number, sources: ReadonlyMap<number, readonly number[]>, oldTokens?: number): LlamaForCausalLM {
  const oldV = model.config.vocabSize;
  const nTok = oldTokens ?? oldV;
  if (!(Number.isInteger(newVocab) && newVocab >= oldV))
    throw new Error(`[resize] the new vocabulary (${newVocab}) must be an integer >= the old one (${oldV})`);
  if (!(Number.isInteger(nTok) && nTok >= 1 && nTok <= oldV))
    throw new Error(`[resize] the old tokenizer's size (${nTok}) must be an integer in [1, ${oldV}] (the model's rows)`);
  for (const [id, src] of sources) {
    if (!(id >= nTok && id < newVocab)) throw new Error(`[resize] new token id ${id} is outside [${nTok}, ${newVocab})`);
    for (const s of src) if (!(s >= 0 && s < nTok)) throw new Error(`[resize] new token ${id}: source id ${s} is not an old id`);
  }
  // a grown copy shares every other tensor with the old model, in whatever dtype it is held (a bf16 / quantized
  // frozen base stays as it is); only the (V, C) matrices are new storage
  const out = newVocab === oldV ? model : new LlamaForCausalLM({ ...model.config, vocabSize: newVocab }, 0, { init: 'deferred' });
  const old = new Map(model.namedParameters());
  const C = model.config.hiddenSize;
  for (const [name, p] of out.namedParameters()) {
    const src = old.get(name);
    if (!src) throw new Error(`[resize] internal: no tensor '${name}' in the old model`);
    const isVocab = name === 'model.embed_tokens.weight' || name === 'lm_head.weight';
    if (!isVocab) {
      if (out !== model) out.replaceParameter(name, src);
      continue;
    }
    if (src.dtype !== 'f32' && src.dtype !== 'bf16')
      throw new Error(`[resize] '${name}' is held as ${src.dtype}: rows can only be added to f32 or bf16 matrices (load the model with weights f32 or bf16)`);
    const from = src.dtype === 'f32' ? src.f32('resize') : fromBf16Array(src.data as Uint16Array);
    // f32 in place when the rows fit; otherwise (grown, or bf16) new values written back in the source's dtype
    const inPlace = out === model && src.dtype === 'f32';
    const dst = inPlace ? from : new Float32Array(p.size);
    if (!inPlace) dst.set(from);
    const mean = new Float32Array(C);
    for (let v = 0; v < nTok; v++) for (let c = 0; c < C; c++) mean[c]! += from[v * C + c]! / nTok;
    for (let id = nTok; id < newVocab; id++) {
      const s = sources.get(id);
      if (!s && id < oldV) continue; // a spare row no new token takes
      const row = dst.subarray(id * C, (id + 1) * C);
      if (!s || s.length === 0) { row.set(mean); continue; }
      row.fill(0);
      for (const o of s) for (let c = 0; c < C; c++) row[c]! += from[o * C + c]! / s.length;
    }
    if (inPlace) continue;
    const t = src.dtype === 'bf16' ? new Tensor(toBf16Array(dst), p.shape, 'bf16') : new Tensor(dst, p.shape);
    t.keep();
    t.requiresGrad = src.requiresGrad;
    t.name = src.name;
    out.replaceParameter(name, t);
  }
  return out;
}
