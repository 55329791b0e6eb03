// bench-decode.test.ts — `bench decode` runs end to end on a tiny shape and reports its figures as JSON
// (without llama.cpp: its agreement is llama-cpp.test.ts's job, and its speed is not asserted anywhere).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchDecode } from '../../src/cli/bench-decode.js';

test('bench decode --json on the tiny preset', async () => {
  const log = console.log;
  const lines: string[] = [];
  console.log = (s: string) => lines.push(s);
  try {
    assert.equal(await benchDecode(['--preset', 'tiny', '--prompt', '8', '--new', '6', '--rounds', '1', '--llama-cpp=false', '--json']), 0);
  } finally {
    console.log = log;
  }
  const j = JSON.parse(lines[0]!);
  assert.ok(j.tokensPerS > 0 && j.prefillTokensPerS > 0 && j.peakRssMiB > 0);
  assert.equal(j.newTokens, 6);
  if (!('skipped' in j.llamaCpp)) assert.ok(j.llamaCpp.tokensPerS > 0 && j.ratio > 0);
});
