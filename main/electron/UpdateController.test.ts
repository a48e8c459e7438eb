import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultUpdateOptions, UpdateController } from './UpdateController.ts';
import type { Updater, UpdateControllerOptions } from './UpdateController.ts';

class UpdaterStandIn implements Updater {
  autoDownload = false;
  autoInstallOnAppQuit = false;
  allowPrerelease = false;
  channel: string | null = null;
  checks = 0;
  installs: Array<[boolean | undefined, boolean | undefined]> = [];
  fail = false;
  readonly listeners = new Map<string, (arg: never) => void>();
  checkForUpdates(): Promise<unknown> {
    this.checks += 1;
    return this.fail ? Promise.reject(new Error('net::ERR_NAME_NOT_RESOLVED')) : Promise.resolve(null);
  }
  quitAndInstall(isSilent?: boolean, isForceRunAfter?: boolean): void {
    this.installs.push([isSilent, isForceRunAfter]);
  }
  on(event: string, listener: (arg: never) => void): unknown {
    this.listeners.set(event, listener);
    return this;
  }
}

function harness(overrides: Partial<UpdateControllerOptions>) {
  const updater = new UpdaterStandIn();
  const lines: string[] = [];
  const timers: Array<{ fn: () => void; ms: number; cleared: boolean }> = [];
  const controller = new UpdateController({
    ...defaultUpdateOptions(),
    updater,
    policy: {},
    isPackaged: true,
    log: (line) => lines.push(line),
    setTimer: (fn, ms) => {
      const t = { fn, ms, cleared: false };
      timers.push(t);
      return t;
    },
    clearTimer: (t) => {
      (t as { cleared: boolean }).cleared = true;
    },
    ...overrides,
  });
  return { updater, lines, timers, controller };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('autoUpdate false in the policy: no check is ever made', () => {
  const { updater, timers, controller, lines } = harness({ policy: { autoUpdate: false } });
  assert.deepEqual(controller.start(), { enabled: false, reason: 'policy' });
  assert.equal(timers.length, 0);
  assert.equal(updater.checks, 0);
  assert.match(lines.join('\n'), /managed policy/);
});

test('a development run never updates', () => {
  const { controller, timers } = harness({ isPackaged: false });
  assert.deepEqual(controller.start(), { enabled: false, reason: 'development' });
  assert.equal(timers.length, 0);
});

test('a pinned channel is set on the updater; checks repeat at the interval, also after a failure', async () => {
  const { updater, timers, controller, lines } = harness({ policy: { updateChannel: 'beta' } });
  assert.deepEqual(controller.start(), { enabled: true, channel: 'beta' });
  assert.equal(updater.channel, 'beta');
  assert.equal(updater.allowPrerelease, true);
  assert.equal(updater.autoDownload, true);
  assert.equal(updater.autoInstallOnAppQuit, true);
  assert.equal(timers[0]?.ms, 60_000);
  updater.fail = true;
  timers[0]?.fn();
  await flush();
  assert.equal(updater.checks, 1);
  assert.match(lines.join('\n'), /update check failed: net::ERR_NAME_NOT_RESOLVED/);
  assert.equal(timers[1]?.ms, 4 * 3_600_000);
  updater.fail = false;
  timers[1]?.fn();
  await flush();
  assert.equal(updater.checks, 2);
  assert.equal(timers.length, 3);
  controller.stop();
  assert.equal(timers[2]?.cleared, true);
});

test('no channel in the policy: electron-updater keeps the channel the build was published to', () => {
  const { updater, controller } = harness({});
  assert.deepEqual(controller.start(), { enabled: true, channel: null });
  assert.equal(updater.channel, null);
  assert.equal(updater.allowPrerelease, false);
  assert.ok(updater.listeners.has('error'));
});

test('at quit a downloaded update is installed silently; nothing downloaded, nothing installed', () => {
  const { updater, controller, timers } = harness({});
  controller.start();
  assert.equal(controller.installDownloaded(), false);
  assert.equal(timers[0]?.cleared, true);
  const emit = updater.listeners.get('update-downloaded') as ((info: { version: string }) => void) | undefined;
  emit?.({ version: '0.2.0' });
  assert.equal(controller.installDownloaded(), true);
  assert.deepEqual(updater.installs, [[true, false]]);
});
