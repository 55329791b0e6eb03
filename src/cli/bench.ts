// bench.ts — `zhongjing bench <what>`: speed measurements. Each benchmark lives in its own file.
import type { Command } from './command.js';
import { groupCommand } from './subcommands.js';
import { benchGemm, flags as gemmFlags } from './bench-gemm.js';
import { benchTrain, flags as trainFlags } from './bench-train.js';
import { benchDecode, flags as decodeFlags } from './bench-decode.js';
import { benchTokenizer, flags as tokenizerFlags } from './bench-tokenizer.js';
import { benchServe, flags as serveFlags } from './bench-serve.js';
import { benchLoad, flags as loadFlags } from './bench-load.js';

const subcommands = {
  gemm: { summary: 'f32 and bf16 GEMM GFLOP/s (NN, NT, TN) at 1024³ and 4096×4096×1024', flags: gemmFlags, run: benchGemm },
  train: { summary: 'training tokens/s (forward + backward + AdamW) on the anchor shape, beside PyTorch', flags: trainFlags, run: benchTrain },
  decode: { summary: 'greedy KV-cache decoding tokens/s (64 new after a 128-token prompt; --batch 1,8 for aggregates by batch size), beside llama.cpp when installed', flags: decodeFlags, run: benchDecode },
  tokenizer: { summary: 'BPE training time on ~16 MB of Chinese text beside HF tokenizers (Rust); encode MB/s', flags: tokenizerFlags, run: benchTokenizer },
  load: { summary: 'checkpoint load wall time and peak RSS (sharded bf16 safetensors of a preset, fresh processes, warm cache)', flags: loadFlags, run: benchLoad },
  serve: { summary: 'chat-completions tokens/s at 1, 4 and 16 concurrent streams; time to first token', flags: serveFlags, run: benchServe },
};

export const benchCommand: Command = groupCommand('bench', {
  summary: 'speed benchmarks: ' + Object.keys(subcommands).join(', '),
  about: 'Each prints its anchor (PyTorch, llama.cpp, HF tokenizers) beside our figure, from the same run, where installed.',
  subcommands,
});
