import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isLatchError } from '../../../common/errors.ts';
import { exportBusMethods } from '../../../test/support/exportBusMethods.ts';
import { startDbus, type DbusHandle } from '../../../test/support/startDbus.ts';
import { createIdleSource } from './createIdleSource.ts';
import { dbusCallArgs, dbusErrorName, DbusTool, gvariantString, parseDbusBool, parseDbusUint } from './dbusCli.ts';
import { MUTTER_IDLE_MONITOR, MutterIdleSource } from './MutterIdleSource.ts';
import { ScreenSaverLockProbe } from './ScreenSaverLockProbe.ts';

// GNOME Shell cannot run here, so a stand-in owns org.gnome.Mutter.IdleMonitor on a private bus:
// what is tested is our real gdbus/dbus-send plumbing and parsing against a real dbus-daemon.
let dbusHandle: DbusHandle;
let env: NodeJS.ProcessEnv;

before(async () => {
  dbusHandle = await startDbus({ reuse: false });
  env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: dbusHandle.address };
  delete env.WAYLAND_DISPLAY;
});

after(async () => {
  await dbusHandle.stop();
});

const mutterReply = (value: { idle: bigint }) => [{ path: MUTTER_IDLE_MONITOR.path, method: MUTTER_IDLE_MONITOR.method, signature: 't', reply: () => [value.idle] }];

for (const tool of [DbusTool.GDBUS, DbusTool.DBUS_SEND]) {
  void test(`mutter via ${tool}: reads GetIdletime and the GNOME lock state`, async () => {
    const value = { idle: 4_321n };
    const screen = { active: false };
    const mutter = await exportBusMethods(dbusHandle.address, MUTTER_IDLE_MONITOR.dest, mutterReply(value));
    const saver = await exportBusMethods(dbusHandle.address, 'org.gnome.ScreenSaver', [
      { path: '/org/gnome/ScreenSaver', method: 'org.gnome.ScreenSaver.GetActive', signature: 'b', reply: () => [screen.active] },
    ]);
    try {
      const source = new MutterIdleSource({ tool, env, lockProbe: new ScreenSaverLockProbe({ tool, env }) });
      assert.deepEqual(await source.sample(), { idleMs: 4_321, locked: false });
      value.idle = 12n;
      screen.active = true;
      assert.deepEqual(await source.sample(), { idleMs: 12, locked: true });
      assert.equal(mutter.calls.get(MUTTER_IDLE_MONITOR.method), 2);
      source.close();
      await assert.rejects(source.sample(), (err) => isLatchError(err, ErrorCode.IDLE_SAMPLE_FAILED));
    } finally {
      await saver.stop();
      await mutter.stop();
    }
  });

  void test(`mutter via ${tool}: GNOME Shell gone is a failed sample, never 0 idle`, async () => {
    const source = new MutterIdleSource({ tool, env });
    await assert.rejects(source.sample(), (err) => isLatchError(err, ErrorCode.IDLE_SAMPLE_FAILED) && /not running/.test(err.message));
  });
}

void test('auto on Linux prefers Mutter when GNOME owns it, even with an X display', async () => {
  const mutter = await exportBusMethods(dbusHandle.address, MUTTER_IDLE_MONITOR.dest, mutterReply({ idle: 7n }));
  try {
    const source = await createIdleSource('auto', { platform: 'linux', vars: { ...env, DISPLAY: ':9999', WAYLAND_DISPLAY: 'wayland-0' } });
    assert.equal(source.kind, 'mutter');
    assert.deepEqual(await source.sample(), { idleMs: 7, locked: false });
    source.close();
  } finally {
    await mutter.stop();
  }
});

void test('mutter absent: --idle mutter and auto under Wayland are refused by name', async () => {
  await assert.rejects(createIdleSource('mutter', { platform: 'linux', vars: env }), (err) => isLatchError(err, ErrorCode.IDLE_UNAVAILABLE) && err.message.includes(MUTTER_IDLE_MONITOR.dest));
  await assert.rejects(createIdleSource('auto', { platform: 'linux', vars: { ...env, WAYLAND_DISPLAY: 'wayland-0', DISPLAY: ':0' } }), (err) => isLatchError(err, ErrorCode.IDLE_UNAVAILABLE) && /Wayland/.test(err.message));
  const noBus: NodeJS.ProcessEnv = { ...env, XDG_RUNTIME_DIR: '/nonexistent' };
  delete noBus.DBUS_SESSION_BUS_ADDRESS;
  await assert.rejects(createIdleSource('mutter', { platform: 'linux', vars: noBus }), (err) => isLatchError(err, ErrorCode.IDLE_UNAVAILABLE) && /DBUS_SESSION_BUS_ADDRESS/.test(err.message));
  assert.throws(() => new MutterIdleSource({ tool: 'gdbus', env: noBus }), (err) => isLatchError(err, ErrorCode.IDLE_UNAVAILABLE));
});

void test('lock probe: the freedesktop screensaver counts; one without GetActive reads as unlocked', async () => {
  const probe = new ScreenSaverLockProbe({ tool: 'gdbus', env, recheckMs: 0 });
  assert.equal(await probe.locked(), false, 'no screensaver on the bus');
  const screen = { active: true };
  const saver = await exportBusMethods(dbusHandle.address, 'org.freedesktop.ScreenSaver', [
    { path: '/org/freedesktop/ScreenSaver', method: 'org.freedesktop.ScreenSaver.GetActive', signature: 'b', reply: () => [screen.active] },
  ]);
  try {
    assert.equal(await probe.locked(), true);
    screen.active = false;
    assert.equal(await probe.locked(), false);
  } finally {
    await saver.stop();
  }
  // Owns the name but answers nothing (UnknownMethod): not a lock source, not an error.
  const mute = await exportBusMethods(dbusHandle.address, 'org.freedesktop.ScreenSaver', []);
  try {
    assert.equal(await probe.locked(), false);
  } finally {
    await mute.stop();
  }
});

void test('x11 with a session bus reports the screensaver lock', async () => {
  const saver = await exportBusMethods(dbusHandle.address, 'org.gnome.ScreenSaver', [
    { path: '/org/gnome/ScreenSaver', method: 'org.gnome.ScreenSaver.GetActive', signature: 'b', reply: () => [true] },
  ]);
  try {
    // The lock query runs even though this display does not exist; the xprintidle failure wins.
    const source = await createIdleSource('x11', { platform: 'linux', vars: { ...env, DISPLAY: ':9999' } });
    await assert.rejects(source.sample(), (err) => isLatchError(err, ErrorCode.IDLE_SAMPLE_FAILED));
    assert.equal(saver.calls.get('org.gnome.ScreenSaver.GetActive'), 1);
  } finally {
    await saver.stop();
  }
});

void test('D-Bus command-line replies and errors are read for both tools', () => {
  assert.equal(parseDbusUint('(uint64 1234,)\n'), 1234);
  assert.equal(parseDbusUint('method return time=1.2 sender=:1.3 -> destination=:1.4 serial=5 reply_serial=2\n   uint64 98765\n'), 98_765);
  assert.equal(parseDbusUint('(true,)'), undefined);
  assert.equal(parseDbusBool('(true,)\n'), true);
  assert.equal(parseDbusBool('(false,)\n'), false);
  assert.equal(parseDbusBool('method return time=1 sender=:1.0 -> destination=:1.9 serial=3 reply_serial=2\n   boolean true\n'), true);
  assert.equal(parseDbusBool('(uint64 1,)'), undefined);
  assert.equal(dbusErrorName('Error: GDBus.Error:org.freedesktop.DBus.Error.ServiceUnknown: The name is not activatable'), 'org.freedesktop.DBus.Error.ServiceUnknown');
  assert.equal(dbusErrorName('Error org.freedesktop.DBus.Error.UnknownMethod: no such method'), 'org.freedesktop.DBus.Error.UnknownMethod');
  assert.equal(gvariantString("it's a \\ test\n"), "'it\\'s a \\\\ test\\u000a'");
  assert.deepEqual(dbusCallArgs('dbus-send', { dest: 'a.b', path: '/a', method: 'a.b.C', args: ['x'] }), ['--session', '--print-reply', '--dest=a.b', '/a', 'a.b.C', 'string:x']);
});
