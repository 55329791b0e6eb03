// readme.ts — the README.md written into an export: what each file is, how to launch, what was not carried over.
import type { PipelineConfig } from '../pipeline/config.js';
import { LF_RELEASE } from './lf-keys.js';
import type { Plan } from './stage-yaml.js';
import { yamlName } from './launch.js';

export function exportReadme(cfg: PipelineConfig, plan: Plan, counts: Record<string, number>, base: string, template: { engine: string; why: string }): string {
  const steps = plan.steps.map((s, i) => `| \`${yamlName(i, s.name)}\` | ${s.kind === 'train' ? `\`llamafactory-cli train\` (stage \`${String(s.yaml.stage)}\`) → \`${String(s.yaml.output_dir)}\`` : `\`llamafactory-cli export\`: merge → \`${String(s.yaml.export_dir)}\``} |`);
  return `# ${cfg.name}: the zhongjing recipe for LLaMA-Factory ${LF_RELEASE}

Written by \`zhongjing export recipe\` for ${plan.world} GPU(s) (${cfg.scaleout.nodes} node(s) × ${cfg.scaleout.gpusPerNode}); base model \`${base}\`.
Install: \`pip install llamafactory==0.9.3 deepspeed\` (its pins: trl 0.8.6–0.9.6, transformers ≤ 4.52.4). Then:

    ./run.sh --dry-run                  # print every command
    ./run.sh                            # one node, NPROC_PER_NODE=${cfg.scaleout.gpusPerNode} GPUs
    NNODES=2 NODE_RANK=0 MASTER_ADDR=host0 ./run.sh   # and NODE_RANK=1 on the second node (shared filesystem)
    sbatch slurm.sh                     # SLURM: one run.sh per node
    zhongjing import llamafactory . --out runs/${cfg.name}-lf   # read the results back

| file | what it is |
|---|---|
| \`data/dataset_info.json\` | declares every data file: formatting, columns, tags, ranking flag |
| \`data/*.jsonl\` | ${Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join(', ')} records |
${steps.join('\n')}
| \`deepspeed/ds_*.json\` | ZeRO-2 / ZeRO-3, with and without CPU offload; the YAMLs use \`${cfg.scaleout.deepspeed}\` |
${template.engine === 'chat_template.jinja'
    ? '| `prepare_model.py`, `chat_template.jinja` | `model/base` = the base with our chat template in tokenizer_config.json, so training and serving render alike |'
    : `| \`prepare_model.py\` | \`model/base\` = the base as it is, its own chat template kept; every training YAML names LLaMA-Factory's \`template: ${template.engine}\` (${template.why}) |`}
${cfg.tokenizer.extend ? `| \`tokenizer/\`, \`extend_vocab.py\` | tokenizer.extend: our tokenizer with the new tokens learned on \`data/\`'s pretraining text (\`extension.json\`: each new id's old pieces); \`extend_vocab.py\` turns \`model/base-unextended\` into \`model/base\` with it, each new embedding / LM-head row the mean of its old pieces' rows (needs torch + transformers) |\n` : ''}| \`run.sh\`, \`slurm.sh\` | the steps in order; torchrun variables NNODES, NODE_RANK, NPROC_PER_NODE, MASTER_ADDR, MASTER_PORT |

The reward model is trained on the rankings known at export time (expert rankings and the demo's sets). Candidate
answers for new rankings can come from the big SFT model served anywhere: \`sample.endpoint\` in the pipeline config
(zhongjing's docs/scale-out.md).

## Not carried over
${plan.notes.map((n) => `- ${n}`).join('\n') || '- nothing'}
`;
}
