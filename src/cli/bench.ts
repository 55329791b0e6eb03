// bench.ts — `zhongjing bench <what>`: speed measurements. Each benchmark lives in its own file.
import type { Command } from './command.js';
import { benchGemm } from './bench-gemm.js';
import { benchTrain } from './bench-train.js';
import { benchDecode } from './bench-decode.js';
import { benchTokenizer } from './bench-tokenizer.js';
import { benchServe } from './bench-serve.js';

const benches: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
  gemm: { summary: 'f32 and bf16 GEMM GFLOP/s (NN, NT, TN) at 1024³ and 4096×4096×1024', run: benchGemm },
  train: { summary: 'training tokens/s (forward + backward + AdamW) on the anchor shape, beside PyTorch', run: benchTrain },
  decode: { summary: 'greedy KV-cache decoding tokens/s (batch 1, 256 new after 128), beside llama.cpp when installed', run: benchDecode },
  tokenizer: { summary: 'BPE training time on ~16 MB of Chinese text beside HF tokenizers (Rust); encode MB/s', run: benchTokenizer },
  serve: { summary: 'chat-completions tokens/s at 1, 4 and 16 concurrent streams; time to first token', run: benchServe },
};

export const benchCommand: Command = {
  name: 'bench',
  summary: 'speed benchmarks: ' + Object.keys(benches).join(', '),
  async run(argv) {
    const [what, ...rest] = argv;
    const b = what ? benches[what] : undefined;
    if (!b) {
      const list = Object.entries(benches).map(([k, v]) => `  ${k.padEnd(10)}${v.summary}`).join('\n');
      console.log(`usage: zhongjing bench <what> [flags]  (zhongjing bench <what> --help)\n\n${list}`);
      return what === undefined || what === '--help' || what === '-h' ? 0 : 2;
    }
    return b.run(rest);
  },
};
