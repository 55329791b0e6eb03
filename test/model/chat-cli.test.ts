// chat-cli.test.ts — `zhongjing chat --prompt` on a tiny model directory with a trained tokenizer: it answers
// deterministically (greedy), stops at max new tokens, and the streamed text is the final answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chatCommand } from '../../src/cli/chat.js';
import { LlamaForCausalLM, presets } from '../../src/model/llama.js';
import { saveModelDir } from '../../src/model/model-dir.js';
import { saveTokenizer, trainByteLevelBpe } from '../../src/tokenizer/index.js';
import { exportModelDirToGguf } from '../../src/model/gguf-export.js';
import { tempDir } from '../helpers.js';

test('chat --prompt answers once, greedy and reproducible', async () => {
  const dir = tempDir('zj-chat-');
  const corpus = ['患者主诉头痛三天，伴有发热。', '建议多喝水，注意休息。', 'The patient has a fever.'];
  const tok = await trainByteLevelBpe(Array.from({ length: 10 }, () => corpus).flat(),
    { vocabSize: 300, specialTokens: ['<|endoftext|>', '<|im_start|>', '<|im_end|>'], eosToken: '<|im_end|>' });
  await saveTokenizer(tok, dir);
  saveModelDir(dir, new LlamaForCausalLM({ ...presets.tiny, vocabSize: tok.vocabSize, hiddenSize: 32, intermediateSize: 48, numLayers: 1, numHeads: 2, numKvHeads: 1 }, 3));
  const run = async (model = dir, extra: string[] = []) => {
    const out: string[] = [];
    const w = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => { out.push(String(s)); return true; }) as typeof process.stdout.write;
    try {
      assert.equal(await chatCommand.run([...extra, '--model', model, '--prompt', '头痛怎么办？', '--template', 'chatml', '--max-new-tokens', '12', '--temperature', '0']), 0);
    } finally {
      process.stdout.write = w;
    }
    return out.join('');
  };
  const a = await run();
  assert.ok(a.endsWith('\n') && a.length > 1, JSON.stringify(a));
  assert.equal(await run(), a);
  // the same model as a GGUF file (tokenizer inside it) answers the same; --weights quantizes at load and still answers
  const gguf = join(dir, 'model.gguf');
  exportModelDirToGguf(dir, gguf, 'f32');
  assert.equal(await run(gguf), a);
  assert.equal(await run(dir, ['--weights', 'bf16']).then((t) => t.length > 1), true);
  assert.equal(await run(gguf, ['--weights', 'q8_0']).then((t) => t.endsWith('\n')), true);
  await assert.rejects(chatCommand.run(['--model', dir, '--weights', 'q3', '--prompt', 'x']), /--weights must be one of auto\|f32\|bf16\|q8_0\|q4_0/);
});
