// vocab-extend.ts — tokenizer.extend in an export: our tokenizer stage run on the exported data (the same new tokens
// a zhongjing run learns) into tokenizer/, and extend_vocab.py, which gives model/base that tokenizer and grows and
// fills the vocabulary matrices as our pretrain stage does (model/resize.ts: each new row the mean of its old pieces'
// rows). LLaMA-Factory v0.9.3's own add_tokens (hparams/model_args.py: comma-separated, added as HF added tokens, rows
// initialised by noisy mean in model_utils/embedding.py) would tokenize differently from our learned merges, so it is
// not used; its additional_target (finetuning_args.py → PEFT modules_to_save) trains the embedding beside LoRA.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RunContext } from '../pipeline/context.js';
import { EXTENSION_FILE, runTokenizer } from '../pipeline/stages/tokenizer.js';

export const TOKENIZER_DIR = 'tokenizer';
/** where prepare_model.py puts the base before extend_vocab.py writes model/base from it */
export const UNEXTENDED_DIR = 'model/base-unextended';
/** HF module names of the embedding and the LM head (LLaMA, Qwen2, Qwen3), as LLaMA-Factory's adapter.py derives them */
export const VOCAB_MODULES = 'embed_tokens,lm_head';

/** Run our tokenizer stage in the export's work run (its data stage already ran) and copy the result to `outDir`. */
export async function exportExtendedTokenizer(ctx: RunContext, outDir: string): Promise<string[]> {
  await runTokenizer(ctx);
  mkdirSync(outDir, { recursive: true });
  const files = ['tokenizer.json', 'tokenizer_config.json', EXTENSION_FILE];
  for (const f of files) copyFileSync(join(ctx.root, 'tokenizer', f), join(outDir, f));
  return files.map((f) => `${TOKENIZER_DIR}/${f}`);
}

export const EXTEND_VOCAB_PY = `"""Written by zhongjing export recipe: OUT_DIR = BASE_DIR with zhongjing's extended tokenizer (tokenizer.extend).

usage: python3 extend_vocab.py BASE_DIR TOKENIZER_DIR OUT_DIR
TOKENIZER_DIR holds tokenizer.json (the base's tokenizer with the learned tokens appended: no id moves) and
extension.json (baseVocabSize, newIds, sources: new id -> the old ids its text encoded to). As zhongjing's pretrain
stage does: the embedding and an untied LM head get a row for every new id (spare rows first, grown past them), each
the mean of its sources' rows (the mean of all old rows when it has none); every other value stays. The rest of
BASE_DIR (tokenizer_config.json with the chat template, generation config) is copied; its slow-tokenizer files are
not, as they do not know the new tokens.
"""
import json, os, shutil, sys

if len(sys.argv) != 4:
    sys.exit("usage: extend_vocab.py BASE_DIR TOKENIZER_DIR OUT_DIR")
base, tok_dir, out = sys.argv[1:]
import torch
from transformers import AutoModelForCausalLM

ext = json.load(open(os.path.join(tok_dir, "extension.json"), encoding="utf-8"))
n_old = ext["baseVocabSize"]
# the new ids and their sources are ids of the tokenizer they were learned on: the base must have that one
ours = json.load(open(os.path.join(tok_dir, "tokenizer.json"), encoding="utf-8"))["model"]["vocab"]
theirs_file = os.path.join(base, "tokenizer.json")
if not os.path.exists(theirs_file):
    sys.exit(f"extend_vocab.py: {theirs_file} is missing; the extension needs the base's tokenizer.json to check it against")
theirs = json.load(open(theirs_file, encoding="utf-8"))["model"]["vocab"]
if {t: i for t, i in ours.items() if i < n_old} != theirs:
    sys.exit(f"extend_vocab.py: {theirs_file} is not the tokenizer the new tokens were learned on (zhongjing's tokenizer.from); "
             "export with a scaleout.model that has the same tokenizer, or without tokenizer.extend")
model = AutoModelForCausalLM.from_pretrained(base, torch_dtype="auto")
rows = model.get_input_embeddings().weight.shape[0]
need = max([rows] + [i + 1 for i in ext["newIds"]])
if need > rows:
    model.resize_token_embeddings(need)
mats = [model.get_input_embeddings().weight]
head = model.get_output_embeddings()
if head is not None and head.weight.data_ptr() != mats[0].data_ptr():
    mats.append(head.weight)
with torch.no_grad():
    for w in mats:
        mean = w[:n_old].float().mean(0)
        for i in ext["newIds"]:
            src = ext["sources"].get(str(i)) or []
            w[i] = (w[src].float().mean(0) if src else mean).to(w.dtype)
model.config.vocab_size = need
os.makedirs(out, exist_ok=True)
model.save_pretrained(out, safe_serialization=True)
skip = {"tokenizer.json", "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json", "config.json", "generation_config.json"}
for f in os.listdir(base):
    p = os.path.join(base, f)
    if f in skip or f.startswith(".") or f.endswith((".safetensors", ".bin", ".pt", ".pth", ".index.json")) or not os.path.isfile(p):
        continue
    shutil.copy(p, os.path.join(out, f))
shutil.copy(os.path.join(tok_dir, "tokenizer.json"), os.path.join(out, "tokenizer.json"))
print(f"{out}: {base} with {len(ext['newIds'])} new tokens, vocabulary matrices {rows} -> {need} rows")
`;
