import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isLatchError } from '../../../common/errors.ts';
import { NoneIdleSource } from '../../core/idle/NoneIdleSource.ts';
import { SuspendAwareIdleSource } from '../../core/idle/SuspendAwareIdleSource.ts';
import { createIdleSource } from './createIdleSource.ts';

void test('none is the NoneIdleSource itself, so the host can markActive() on renew', async () => {
  const source = await createIdleSource('none', { platform: 'linux', vars: {} });
  assert.ok(source instanceof NoneIdleSource);
  assert.equal(source.kind, 'none');
  source.close();
});

void test('OS sources come suspend-aware and keep their kind', async () => {
  const source = await createIdleSource('x11', { platform: 'linux', vars: { DISPLAY: ':9999', PATH: process.env.PATH ?? '' } });
  assert.ok(source instanceof SuspendAwareIdleSource);
  assert.equal(source.kind, 'x11');
  source.close();
});

void test('a platform source on the wrong platform names the platform it needs', async () => {
  await assert.rejects(createIdleSource('windows', { platform: 'darwin', vars: {} }), (err) => isLatchError(err, ErrorCode.IDLE_UNAVAILABLE) && /Windows/.test(err.message));
  await assert.rejects(createIdleSource('macos', { platform: 'win32', vars: {} }), (err) => isLatchError(err, ErrorCode.IDLE_UNAVAILABLE) && /macOS/.test(err.message));
  const windowsAuto = await createIdleSource('auto', { platform: 'win32', vars: {} });
  assert.equal(windowsAuto.kind, 'windows');
  windowsAuto.close();
  const macAuto = await createIdleSource('auto', { platform: 'darwin', vars: {} });
  assert.equal(macAuto.kind, 'macos');
  macAuto.close();
});
