// The native backend must implement every kernel on this machine: a kernel export that went missing would fall back
// to the reference silently, and the native-vs-reference tests would then compare the reference with itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeBackend } from '../../src/backend/native/index.js';

test('the native backend reports no fallback kernel', (t) => {
  const r = loadNativeBackend();
  if (!r.ok) { t.skip(`the native addon does not load (${r.error}): nothing to check`); return; }
  assert.deepEqual(r.backend.info().fallbacks, [], 'kernels that fall back to the reference');
});
