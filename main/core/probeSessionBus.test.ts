import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { probeSessionBus, unixPaths } from './probeSessionBus.ts';
import { startDbus } from '../../test/support/startDbus.ts';

void test('unix paths of a D-Bus address list: path, abstract, escapes; other transports skipped', () => {
  assert.deepEqual(unixPaths('unix:path=/run/user/1000/bus'), ['/run/user/1000/bus']);
  assert.deepEqual(unixPaths('unix:abstract=/tmp/dbus-Xy,guid=0123'), ['\0/tmp/dbus-Xy']);
  assert.deepEqual(unixPaths('tcp:host=127.0.0.1,port=5;unix:path=/tmp/a%20b'), ['/tmp/a b']);
  assert.deepEqual(unixPaths('launchd:env=X'), []);
  assert.deepEqual(unixPaths(''), []);
});

void test('a real dbus-daemon answers; a missing socket and a silent one are named', async () => {
  const bus = await startDbus({ reuse: false });
  const dir = await mkdtemp(join(tmpdir(), 'latch-bus-probe-'));
  const held: Socket[] = [];
  const silent = createServer((socket) => held.push(socket));
  const silentPath = join(dir, 'silent');
  await new Promise<void>((resolve) => silent.listen(silentPath, resolve));
  try {
    assert.equal(await probeSessionBus(bus.address, 5_000), null);
    assert.match((await probeSessionBus(`unix:path=${join(dir, 'none')}`, 5_000)) ?? '', /cannot reach the session bus .*ENOENT/);
    const started = Date.now();
    assert.match((await probeSessionBus(`unix:path=${silentPath}`, 300)) ?? '', /did not answer within 300 ms/);
    assert.ok(Date.now() - started < 5_000);
    // The first address that answers wins.
    assert.equal(await probeSessionBus(`unix:path=${join(dir, 'none')};${bus.address}`, 5_000), null);
  } finally {
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    await bus.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
