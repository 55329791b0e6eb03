// deltas.test.ts — streamed pieces never include the start of a possible stop string or an unfinished UTF-8
// character, and always concatenate to the final stop-trimmed text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeltaStream } from '../../src/serve/deltas.js';

function run(stops: string[], steps: string[]): { pieces: string[]; final: string } {
  const d = new DeltaStream(stops);
  const pieces = steps.map((s) => d.push(s));
  pieces.push(d.finish(steps[steps.length - 1]!));
  return { pieces, final: d.text };
}

test('deltas: a possible stop string is held back, then released when it does not complete', () => {
  const r = run(['<END>'], ['你好', '你好<E', '你好<EN', '你好<ENx', '你好<ENx再见']);
  assert.deepEqual(r.pieces, ['你好', '', '', '<ENx', '再见', '']);
  assert.equal(r.final, '你好<ENx再见');
});

test('deltas: a completed stop string ends the text before it, across token boundaries', () => {
  const r = run(['<END>', '###'], ['答：', '答：多喝水<EN', '答：多喝水<END>后面']);
  assert.equal(r.pieces.join(''), '答：多喝水');
  assert.equal(r.final, '答：多喝水');
  assert.equal(new DeltaStream(['###', '水']).finalText('多喝水###'), '多喝');
});

test('deltas: an unfinished character (trailing U+FFFD) waits for its next bytes', () => {
  const r = run([], ['咳', '咳\uFFFD', '咳\uFFFD\uFFFD', '咳嗽']);
  assert.deepEqual(r.pieces, ['咳', '', '', '嗽', '']);
  // a replacement character that stays (invalid bytes) is never shown: left out, and counted (issue 19, item 4)
  const s = run([], ['a\uFFFD', 'a\uFFFDb']);
  assert.equal(s.pieces.join(''), 'ab');
  assert.equal(run([], ['a\uFFFD']).pieces.join(''), 'a');
});
