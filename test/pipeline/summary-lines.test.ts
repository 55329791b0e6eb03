// summary-lines.test.ts — what `demo` / `pipeline` print at the end: `--only sft` names only the sft folder (no
// report or final model that were never made); a full run names the report and the final model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summaryLines } from '../../src/pipeline/run.js';

test('--only prints only what it made; a full run prints the report and the final model', () => {
  const only = summaryLines({ root: '/r', final: '/r/final', ran: ['sft'], skipped: [], seconds: {} }, 'demo', 3).join('\n');
  assert.match(only, /sft: \/r\/sft/);
  assert.doesNotMatch(only, /report|final model|try it/);
  const all = summaryLines({ root: '/r', final: '/r/final', ran: ['ppo', 'eval', 'report', 'export'], skipped: ['data', 'tokenizer', 'pretrain', 'sft', 'sample', 'rank', 'rm'], seconds: {} }, 'demo', 9).join('\n');
  assert.match(all, /report: \/r\/report\/report\.html/);
  assert.match(all, /final model: \/r\/final/);
  assert.doesNotMatch(all, /  sft:/, 'skipped stages are not listed as made');
});
