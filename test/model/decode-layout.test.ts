// decode-layout.test.ts — toDecodeLayout (src/model/decode-layout.ts): a model loaded for decoding gets its q8_0 /
// q4_0 matrices in the panel layout where the backend has the kernel for it, in place (the same bytes, no copy), and
// decodes the same tokens as before; untied and tied tables alike. Where the backend lacks the kernel (the reference
// here; AVX2 or ZJ_QUANT_INTERLEAVE=0 natively) nothing moves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LlamaForCausalLM, presets, type LlamaConfig } from '../../src/model/llama.js';
import { generate } from '../../src/model/generate.js';
import { toDecodeLayout } from '../../src/model/decode-layout.js';
import { toWeightFormat } from '../../src/ops/quant.js';
import { backend } from '../../src/backend/index.js';
import { isPanelLayout } from '../../src/tensor/dtype.js';
import { diff, referenceBackend, Rng, withBackend } from '../helpers.js';

// vocabulary 80 and every projection a multiple of 16 rows: all of them have whole panels
const cfg: LlamaConfig = { ...presets.tiny, vocabSize: 80, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 64 };

function quantizedModel(fmt: 'q8_0' | 'q4_0', tie: boolean): LlamaForCausalLM {
  const m = new LlamaForCausalLM({ ...cfg, tieWordEmbeddings: tie }, 5);
  for (const [n, p] of m.namedParameters()) if (!n.endsWith('norm.weight')) { const d = p.f32(); for (let i = 0; i < d.length; i++) d[i] = d[i]! * 15; }
  for (const [n, p] of m.namedParameters()) if (p.rank === 2) m.replaceParameter(n, toWeightFormat(p, fmt).keep());
  return m;
}

for (const fmt of ['q8_0', 'q4_0'] as const)
  for (const tie of [false, true])
    test(`toDecodeLayout ${fmt}${tie ? ', tied embeddings' : ''}: every matrix in the panel layout, in place, and the same greedy tokens`, (t) => {
      if (!backend().quantPanelsSupported(fmt)) return t.skip(`this backend (${backend().info().isa}) has no panel-layout kernel`);
      const m = quantizedModel(fmt, tie);
      const r = new Rng(3);
      const prompts = Array.from({ length: 6 }, (_, i) => Array.from({ length: 1 + i }, () => r.int(cfg.vocabSize)));
      const before = prompts.map((p) => generate(m, [p], { maxNewTokens: 8 }));
      const batchBefore = generate(m, prompts, { maxNewTokens: 8 });
      const storage = new Map(m.namedParameters().filter(([, p]) => p.rank === 2).map(([n, p]) => [n, p.data]));
      const moved = toDecodeLayout(m);
      const mats = m.namedParameters().filter(([, p]) => p.rank === 2);
      assert.equal(moved, mats.length, 'every 2-D weight moved');
      for (const [n, p] of mats) {
        assert.equal(p.dtype, `${fmt}x16`, n);
        assert.equal(p.data, storage.get(n), `${n}: rearranged in its own buffer, not copied`);
      }
      assert.equal(toDecodeLayout(m), 0, 'a second call finds nothing left to move');
      const batchAfter = generate(m, prompts, { maxNewTokens: 8 });
      // the batch takes the same panel kernel over the same block sums before and after: the same bits
      assert.deepEqual(batchAfter.ids, batchBefore.ids);
      assert.deepEqual(batchAfter.logProbs, batchBefore.logProbs);
      prompts.forEach((p, i) => {
        // one row took the one-row kernel before, the panel kernel now: another f32 order of the same block sums
        const one = generate(m, [p], { maxNewTokens: 8 });
        assert.deepEqual(one.ids[0], before[i]!.ids[0], `prompt ${i}`);
        const d = diff(one.logProbs[0]!, before[i]!.logProbs[0]!).maxAbs;
        assert.ok(d < 5e-2, `prompt ${i}: log-probs differ by ${d}`);
      });
    });

test('toDecodeLayout on the reference backend: nothing moves (it has no kernel of its own for the layout)', () => {
  withBackend(referenceBackend, () => {
    const m = quantizedModel('q4_0', false);
    assert.equal(toDecodeLayout(m), 0);
    assert.ok(m.namedParameters().every(([, p]) => !isPanelLayout(p.dtype)));
  });
});
