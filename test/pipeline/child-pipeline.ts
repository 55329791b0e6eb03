// child-pipeline.ts — run by the resume test in a child process: the tiny recipe up to `sft`, with a checkpoint
// every SFT step, so the parent can kill -9 it mid-SFT and run it again.
import { validateConfig } from '../../src/pipeline/config.js';
import { runPipeline } from '../../src/pipeline/run.js';

const [runsDir, name] = [process.argv[2]!, process.argv[3]!];
const cfg = validateConfig({
  name, runsDir, seed: 5,
  data: { demo: 'tiny', devFraction: 0.2 },
  tokenizer: { vocabSize: 400 },
  model: { preset: 'tiny', hiddenSize: 32, layers: 2, heads: 4, kvHeads: 2, intermediateSize: 64 },
  pretrain: { steps: 4, batchSize: 4, seqLen: 32 },
  sft: { steps: 40, batchSize: 4, maxLen: 512, saveEvery: 1 },
});
await runPipeline(cfg, { quiet: true, until: 'sft' });
