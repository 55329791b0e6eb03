// launch.ts — the export's launchers: run.sh (the steps in order on one node × N GPUs or several nodes, through
// llamafactory-cli with torchrun's variables; `--dry-run` prints every command), a SLURM batch script over it, and
// prepare_model.py, which gives the base model our chat template (or links it as it is, when the stage YAMLs name
// a LLaMA-Factory template for the model's own). Text generation only: nothing runs here.
import type { Plan } from './stage-yaml.js';
import { BASE_DIR } from './stage-yaml.js';
import { TOKENIZER_DIR, UNEXTENDED_DIR } from './vocab-extend.js';

export const yamlName = (i: number, name: string): string => `yaml/${String(i + 1).padStart(2, '0')}-${name}.yaml`;

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** templateFile: our chat template for prepare_model.py to write into model/base; null keeps the model's own */
/** extended: tokenizer.extend — prepare_model.py writes UNEXTENDED_DIR and extend_vocab.py makes model/base from it */
export function runSh(plan: Plan, base: string, nodes: number, gpus: number, templateFile: string | null, extended = false): string {
  const prepared = extended ? UNEXTENDED_DIR : BASE_DIR;
  const lines = [
    '#!/usr/bin/env bash',
    '# Written by `zhongjing export recipe`: runs the recipe with LLaMA-Factory v0.9.3 (see README.md).',
    '#   ./run.sh [--dry-run]        one node: NPROC_PER_NODE GPUs',
    '#   NNODES=2 NODE_RANK=0|1 MASTER_ADDR=host MASTER_PORT=29500 ./run.sh   on every node (shared filesystem)',
    'set -euo pipefail',
    'cd "$(dirname "$0")"',
    'DRY=0',
    'if [[ "${1:-}" == "--dry-run" ]]; then DRY=1; elif [[ -n "${1:-}" ]]; then echo "usage: $0 [--dry-run]" >&2; exit 2; fi',
    `NNODES=\${NNODES:-${nodes}}`, `NPROC_PER_NODE=\${NPROC_PER_NODE:-${gpus}}`, 'NODE_RANK=${NODE_RANK:-0}',
    'MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}', 'MASTER_PORT=${MASTER_PORT:-29500}',
    `if (( NNODES * NPROC_PER_NODE != ${plan.world} )); then`,
    `  echo "run.sh: note: the YAMLs' batch sizes were computed for ${plan.world} GPUs, this launch has $((NNODES * NPROC_PER_NODE)); re-export with --nodes/--gpus to keep the recipe's batch" >&2`,
    'fi',
    'run() { if (( DRY )); then echo "$*"; else echo "+ $*" >&2; "$@"; fi; }',
    '# steps that write one shared folder run on node 0; the other nodes wait for its marker',
    'once() { local mark="$1"; shift',
    '  if (( NODE_RANK == 0 )); then run "$@"; (( DRY )) || touch "$mark"',
    '  elif (( DRY )); then echo "wait for $mark"',
    '  else while [[ ! -e "$mark" ]]; do sleep 30; done; fi; }',
    'train() { run env FORCE_TORCHRUN=1 NNODES="$NNODES" NODE_RANK="$NODE_RANK" NPROC_PER_NODE="$NPROC_PER_NODE" MASTER_ADDR="$MASTER_ADDR" MASTER_PORT="$MASTER_PORT" llamafactory-cli train "$1"; }',
    `once ${prepared}/.ready python3 prepare_model.py ${q(base)} ${prepared}${templateFile ? ` ${templateFile}` : ''}`,
  ];
  if (extended) lines.push(`once ${BASE_DIR}/.ready python3 extend_vocab.py ${prepared} ${TOKENIZER_DIR} ${BASE_DIR}`);
  plan.steps.forEach((s, i) => {
    const y = yamlName(i, s.name);
    if (s.kind === 'train') lines.push(`train ${y}`);
    else lines.push(`once ${String(s.yaml.export_dir)}/.ready llamafactory-cli export ${y}`);
  });
  return lines.join('\n') + '\n';
}

export function slurmSh(name: string, nodes: number, gpus: number): string {
  return [
    '#!/usr/bin/env bash',
    '# Written by `zhongjing export recipe`: `sbatch slurm.sh` starts run.sh once per node (one task per node).',
    `#SBATCH --job-name=zj-${name}`, `#SBATCH --nodes=${nodes}`, '#SBATCH --ntasks-per-node=1', `#SBATCH --gpus-per-node=${gpus}`,
    '#SBATCH --cpus-per-task=16', '#SBATCH --output=slurm-%j.log',
    'set -euo pipefail',
    'export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
    'export MASTER_PORT=${MASTER_PORT:-29500}',
    'export NNODES=$SLURM_NNODES',
    `export NPROC_PER_NODE=${gpus}`,
    'srun --export=ALL bash -c \'NODE_RANK=$SLURM_NODEID ./run.sh "$@"\' _ "$@"',
  ].join('\n') + '\n';
}

/** Links the base model's files into model/base; with a template file, rewrites tokenizer_config.json's chat_template. */
export const PREPARE_MODEL_PY = `"""Written by zhongjing export recipe: model/base = the base model (with our chat template when one is given).

usage: python3 prepare_model.py MODEL_ID_OR_PATH OUT_DIR [TEMPLATE_FILE]
LLaMA-Factory v0.9.3 reads the tokenizer's chat_template when a stage YAML names no template, so training,
merged checkpoints and any server (vLLM, SGLang, zhongjing serve) render the same prompts. Without TEMPLATE_FILE
the model keeps its own chat template and the stage YAMLs name the engine's template for it (template: ...).
"""
import json, os, sys

if len(sys.argv) not in (3, 4):
    sys.exit("usage: prepare_model.py MODEL_ID_OR_PATH OUT_DIR [TEMPLATE_FILE]")
src, out = sys.argv[1], sys.argv[2]
template_file = sys.argv[3] if len(sys.argv) == 4 else None
if not os.path.isdir(src):
    from huggingface_hub import snapshot_download
    src = snapshot_download(src)
os.makedirs(out, exist_ok=True)
if template_file is None:
    for f in os.listdir(src):
        if not os.path.exists(os.path.join(out, f)):
            os.symlink(os.path.abspath(os.path.join(src, f)), os.path.join(out, f))
    print(f"{out}: {src} with its own chat template")
    sys.exit(0)
from transformers import AutoTokenizer

template = open(template_file, encoding="utf-8").read()
tok = AutoTokenizer.from_pretrained(src)
# the engine cuts its slots after the text the tokenizer adds on its own (BOS for LLaMA); the template must render it
if tok.encode("") and tok.bos_token:
    template = "{{ bos_token }}" + template
for f in os.listdir(src):
    if f == "tokenizer_config.json" or os.path.exists(os.path.join(out, f)):
        continue
    os.symlink(os.path.abspath(os.path.join(src, f)), os.path.join(out, f))
cfg_path = os.path.join(src, "tokenizer_config.json")
cfg = json.load(open(cfg_path, encoding="utf-8")) if os.path.exists(cfg_path) else {}
cfg["chat_template"] = template
json.dump(cfg, open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8"), ensure_ascii=False, indent=2)
print(f"{out}: {src} with the zhongjing chat template")
`;
