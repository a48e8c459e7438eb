import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, isLatchError } from '../../../common/errors.ts';
import type { NotificationCloseReason, NotificationHandle, NotificationRequest } from '../../core/notify/Notifier.ts';
import { startDbus, type DbusHandle } from '../../../test/support/startDbus.ts';
import { startDunst, type DunstHandle } from '../../../test/support/startDunst.ts';
import { monitorNotifications, type NotificationMonitor } from '../../../test/support/monitorNotifications.ts';
import { startXvfb, type XvfbHandle } from '../../../test/support/startXvfb.ts';
import { closeReasonFromCode, FreedesktopNotifier } from './FreedesktopNotifier.ts';

// Real parts: a private dbus-daemon (so no other test's daemon answers), Xvfb, dunst with
// timeout = 0, observed with dbus-monitor and driven with dunstctl.
let bus: DbusHandle;
let xvfb: XvfbHandle;
let dunst: DunstHandle;
let monitor: NotificationMonitor;

before(async () => {
  bus = await startDbus({ reuse: false });
  xvfb = await startXvfb();
  dunst = await startDunst({ busAddress: bus.address, display: xvfb.display });
  monitor = await monitorNotifications(bus.address);
});

after(async () => {
  await monitor.stop();
  await dunst.stop();
  await xvfb.stop();
  await bus.stop();
});

const warning = (over: Partial<NotificationRequest> = {}): NotificationRequest => ({
  id: 'session-warning',
  title: 'Latch session ends in 2:00',
  body: 'Idle for 13 minutes. Renew to keep your tunnels open.',
  actions: [{ id: 'renew', label: 'Renew' }],
  urgency: 'critical',
  ...over,
});

async function waitForDisplayed(count: number, timeoutMs = 1_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = -1;
  while (performance.now() < deadline) {
    last = await dunst.countDisplayed();
    if (last === count) return;
    await sleep(25);
  }
  assert.fail(`dunst displays ${last} notifications, expected ${count} within ${timeoutMs} ms`);
}

function closedReason(handle: NotificationHandle, timeoutMs = 1_000): Promise<NotificationCloseReason> {
  return Promise.race([
    once(handle, 'closed').then(([reason]) => reason as NotificationCloseReason),
    sleep(timeoutMs).then(() => assert.fail(`no 'closed' within ${timeoutMs} ms`)),
  ]);
}

void test('freedesktop: a warning with Renew reaches dunst, its action comes back within 1 s, close() removes it', async () => {
  const notifier = new FreedesktopNotifier({ busAddress: bus.address });
  try {
    const handle = await notifier.show(warning());
    const seen = await monitor.waitForNotify((n) => n.summary === 'Latch session ends in 2:00', 1_000);
    assert.deepEqual(seen.actions, ['renew', 'Renew', 'default', 'Renew']);
    assert.equal(seen.urgency, 2);
    assert.equal(seen.appName, 'Latch');
    await waitForDisplayed(1);

    const action = once(handle, 'action');
    const invokedAt = performance.now();
    await dunst.action(0);
    const [actionId] = (await Promise.race([action, sleep(1_000).then(() => assert.fail('no action within 1 s'))])) as [string];
    assert.equal(actionId, 'renew');
    assert.ok(performance.now() - invokedAt < 1_000);

    const closed = closedReason(handle);
    await handle.close();
    assert.equal(await closed, 'closed');
    assert.equal(handle.closed, true);
    await waitForDisplayed(0);
    assert.equal(notifier.openCount, 0);
  } finally {
    await notifier.close();
  }
});

void test('freedesktop: with the click mapping off, the single Renew button itself is invoked', async () => {
  const notifier = new FreedesktopNotifier({ busAddress: bus.address, clickRunsFirstAction: false });
  try {
    const handle = await notifier.show(warning({ title: 'single action' }));
    const seen = await monitor.waitForNotify((n) => n.summary === 'single action', 1_000);
    assert.deepEqual(seen.actions, ['renew', 'Renew']);
    await waitForDisplayed(1);
    const action = once(handle, 'action');
    await dunst.action(0);
    assert.deepEqual(await Promise.race([action, sleep(1_000).then(() => assert.fail('no action within 1 s'))]), ['renew']);
    await monitor.waitForSignal((s) => s.member === 'ActionInvoked' && s.detail === 'renew', 1_000);
    await handle.close();
    await waitForDisplayed(0);
  } finally {
    await notifier.close();
  }
});

void test('freedesktop: showing the same id again replaces it in place; the earlier handle ends', async () => {
  const notifier = new FreedesktopNotifier({ busAddress: bus.address });
  try {
    const first = await notifier.show(warning({ title: 'ends in 2:00' }));
    const firstClosed = closedReason(first);
    const second = await notifier.show(warning({ title: 'ends in 1:00' }));
    assert.equal(await firstClosed, 'closed');
    const seen = await monitor.waitForNotify((n) => n.summary === 'ends in 1:00', 1_000);
    assert.ok(seen.replacesId > 0, 'the second Notify names the first id to replace');
    await waitForDisplayed(1);
    // Another id is a second notification.
    const other = await notifier.show(warning({ id: 'session-absolute', title: 'absolute' }));
    await waitForDisplayed(2);
    assert.equal(notifier.openCount, 2);
    // close() of the notifier removes all it shows.
    const secondClosed = closedReason(second);
    const otherClosed = closedReason(other);
    await notifier.close();
    assert.equal(await secondClosed, 'closed');
    assert.equal(await otherClosed, 'closed');
    await waitForDisplayed(0);
    await assert.rejects(notifier.show(warning()), (err) => isLatchError(err, ErrorCode.NOTIFY_FAILED));
  } finally {
    await notifier.close();
  }
});

void test('freedesktop: dismissed by the user is reported as such, and no action follows', async () => {
  const notifier = new FreedesktopNotifier({ busAddress: bus.address });
  try {
    const handle = await notifier.show(warning({ title: 'dismiss me' }));
    await waitForDisplayed(1);
    let actions = 0;
    handle.on('action', () => actions++);
    const closed = closedReason(handle);
    // dunstctl close: the user closing the notification (spec reason 2).
    const { runCommand } = await import('../../../main/cli/idle/runCommand.ts');
    const res = await runCommand('dunstctl', ['close-all'], { env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus.address }, timeoutMs: 3_000 });
    assert.ok(res.ok);
    assert.equal(await closed, 'dismissed');
    assert.equal(actions, 0);
    assert.equal(notifier.openCount, 0);
  } finally {
    await notifier.close();
  }
});

void test('freedesktop: no daemon on the bus, or no bus at all, is NOTIFY_UNAVAILABLE', async () => {
  const empty = await startDbus({ reuse: false });
  try {
    const notifier = new FreedesktopNotifier({ busAddress: empty.address });
    await assert.rejects(notifier.show(warning()), (err) => isLatchError(err, ErrorCode.NOTIFY_UNAVAILABLE) && /no notification daemon/.test(err.message));
    await notifier.close();
  } finally {
    await empty.stop();
  }
  const gone = new FreedesktopNotifier({ busAddress: 'unix:path=/nonexistent/latch-bus' });
  await assert.rejects(gone.show(warning()), (err) => isLatchError(err, ErrorCode.NOTIFY_UNAVAILABLE));
  await gone.close();
  const none = new FreedesktopNotifier({ busAddress: undefined });
  await assert.rejects(none.show(warning()), (err) => isLatchError(err, ErrorCode.NOTIFY_UNAVAILABLE) && /DBUS_SESSION_BUS_ADDRESS/.test(err.message));
});

void test('freedesktop: close reasons follow the spec codes', () => {
  assert.deepEqual([1, 2, 3, 4, 9].map(closeReasonFromCode), ['expired', 'dismissed', 'closed', 'unknown', 'unknown']);
});
