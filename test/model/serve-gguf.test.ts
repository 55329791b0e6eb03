// serve-gguf.test.ts — `serve --model file.gguf`: the serving worker loads a GGUF file (tokenizer from its metadata)
// and answers as the model directory it was exported from; `weights` reaches the worker (q8_0 in memory answers too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { exportModelDirToGguf } from '../../src/model/gguf-export.js';
import { jsonOf, post, start, tinyModel, user } from '../serve/helpers.js';

test('serve: a GGUF file answers as its model directory; --weights q8_0 serves', async () => {
  // a GGUF file carries no generation_config.json: without a repetition penalty both answer from the same defaults
  const t = await tinyModel({ generation: { repetitionPenalty: 1 } });
  try {
    const gguf = join(t.dir, '..', 'tiny.gguf');
    exportModelDirToGguf(t.dir, gguf, 'f32');
    const ask = async (model: string, weights?: 'q8_0') => {
      const s = await start(model, { guard: { enabled: false, disclaimer: '' }, ...(weights ? { weights } : {}) });
      try {
        const j = await jsonOf(post(s.url, { messages: [user('咳嗽三天，晚上加重')], max_tokens: 10, ignore_eos: true, temperature: 0 }));
        return j.choices[0].message.content as string;
      } finally {
        await s.close();
      }
    };
    const fromDir = await ask(t.dir), fromGguf = await ask(gguf);
    assert.equal(fromGguf, fromDir);
    assert.equal(typeof (await ask(gguf, 'q8_0')), 'string');
  } finally {
    t.remove();
  }
});
