import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { ErrorCode, isLatchError } from '../../common/errors.ts';
import type { NotificationRequest } from '../core/notify/Notifier.ts';
import { ElectronNotifier } from './ElectronNotifier.ts';
import type { NotificationInit, NotificationLike } from './ElectronNotifier.ts';

/** Stands in for Electron's Notification: an emitter that records show/close. */
class FakeNotification extends EventEmitter implements NotificationLike {
  readonly init: NotificationInit;
  shown = false;
  closed = false;
  constructor(init: NotificationInit) {
    super();
    this.init = init;
  }
  show(): void {
    this.shown = true;
  }
  close(): void {
    this.closed = true;
    this.emit('close');
  }
}

const WARNING: NotificationRequest = { id: 'latch-session', title: 'Latch session ends in 2m 00s', body: 'Renew to stay signed in.', actions: [{ id: 'renew', label: 'Renew' }], urgency: 'critical' };

function setup(platform: NodeJS.Platform, supported = true) {
  const created: FakeNotification[] = [];
  const activated: Array<[string, string | undefined]> = [];
  const notifier = new ElectronNotifier({
    createNotification: (init) => {
      const n = new FakeNotification(init);
      created.push(n);
      return n;
    },
    isSupported: () => supported,
    platform,
    icon: '/app/icon.png',
    onActivated: (req, action) => activated.push([req.id, action]),
  });
  return { notifier, created, activated };
}

test('macOS and Windows: a Renew button; pressing it reports the renew action', async () => {
  for (const platform of ['darwin', 'win32'] as const) {
    const { notifier, created, activated } = setup(platform);
    assert.equal(notifier.supportsActions, true);
    const handle = await notifier.show(WARNING);
    const native = created[0];
    assert.ok(native?.shown);
    assert.deepEqual(native.init, { title: WARNING.title, body: WARNING.body, actions: [{ type: 'button', text: 'Renew' }], urgency: 'critical', timeoutType: 'never', icon: '/app/icon.png' });
    const actions: string[] = [];
    handle.on('action', (id) => actions.push(id));
    native.emit('action', { actionIndex: 0 });
    native.emit('click');
    assert.deepEqual(actions, ['renew']);
    assert.deepEqual(activated, [['latch-session', 'renew'], ['latch-session', undefined]]);
  }
});

test('Linux: no buttons (Electron shows none there); a click renews', async () => {
  const { notifier, created } = setup('linux');
  assert.equal(notifier.supportsActions, false);
  const handle = await notifier.show(WARNING);
  assert.deepEqual(created[0]?.init.actions, []);
  const actions: string[] = [];
  handle.on('action', (id) => actions.push(id));
  created[0]?.emit('click');
  assert.deepEqual(actions, ['renew']);
});

test('the same id replaces the shown notification; close reasons are reported once', async () => {
  const { notifier, created } = setup('linux');
  const first = await notifier.show(WARNING);
  const reasons: string[] = [];
  first.on('closed', (r) => reasons.push(r));
  const second = await notifier.show({ ...WARNING, title: 'Latch session ends in 1m 00s' });
  assert.equal(created[0]?.closed, true);
  assert.deepEqual(reasons, ['closed']);
  const secondReasons: string[] = [];
  second.on('closed', (r) => secondReasons.push(r));
  created[1]?.emit('close');
  assert.deepEqual(secondReasons, ['dismissed']);
  const end = await notifier.show({ id: 'latch-session', title: 'Signed out: idle for 15 min', body: 'Sign in again to continue.', actions: [], urgency: 'normal' });
  assert.equal(created[2]?.init.timeoutType, 'default');
  await end.close();
  assert.equal(created[2]?.closed, true);
  assert.equal(end.closed, true);
});

test('unsupported or closed: NOTIFY_UNAVAILABLE', async () => {
  const { notifier } = setup('linux', false);
  await assert.rejects(notifier.show(WARNING), (e: unknown) => isLatchError(e, ErrorCode.NOTIFY_UNAVAILABLE));
  const open = setup('darwin');
  const handle = await open.notifier.show(WARNING);
  await open.notifier.close();
  assert.equal(handle.closed, true);
  await assert.rejects(open.notifier.show(WARNING), (e: unknown) => isLatchError(e, ErrorCode.NOTIFY_UNAVAILABLE));
});
