import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineSnapshot } from '../../common/engineState.ts';
import { SIGNED_OUT } from '../../common/engineState.ts';
import { TrayController, trayView } from './TrayController.ts';
import type { TrayActions, TrayMenuItem } from './TrayController.ts';

const POLICY = { idleTimeoutMs: 900_000, maxDurationMs: 3_600_000, warnBeforeMs: 120_000, maxRenewals: 3, activity: 'input', onLock: 'idle', groups: ['production'] } as const;

function active(overrides: Partial<EngineSnapshot> = {}): EngineSnapshot {
  return {
    ...SIGNED_OUT,
    phase: 'active',
    session: { sessionId: 's1', user: 'ann', proxyUrl: 'https://proxy', idleRemainingMs: 600_000, absoluteRemainingMs: 3_000_000, renewalsLeft: 2, policy: { ...POLICY, groups: [...POLICY.groups] } },
    resources: [{ id: 'db', group: 'production' }, { id: 'web', group: 'staging' }],
    tunnels: [{ resourceId: 'db', host: '127.0.0.1', port: 5433, connections: 1 }],
    ...overrides,
  };
}

function recorder() {
  const calls: string[] = [];
  const actions: TrayActions = {
    connect: (id) => calls.push(`connect ${id}`),
    disconnect: (id) => calls.push(`disconnect ${id}`),
    copyAddress: (id) => calls.push(`copy ${id}`),
    renew: () => calls.push('renew'),
    openWindow: () => calls.push('open'),
    signOut: () => calls.push('signOut'),
    quit: () => calls.push('quit'),
  };
  return { calls, actions };
}

const find = (menu: TrayMenuItem[], label: string): TrayMenuItem | undefined =>
  menu.find((m) => m.label === label) ?? menu.flatMap((m) => m.submenu ?? []).find((m) => m.label === label);

test('each phase has its icon state', () => {
  const { actions } = recorder();
  assert.equal(trayView(SIGNED_OUT, 0, actions).state, 'signed-out');
  assert.equal(trayView(active(), 0, actions).state, 'connected');
  assert.equal(trayView(active({ phase: 'warning', warning: { kind: 'idle', remainingMs: 100_000, canRenew: true } }), 0, actions).state, 'warning');
  assert.equal(trayView(active({ phase: 'offline' }), 0, actions).state, 'offline');
  assert.equal(trayView({ ...SIGNED_OUT, phase: 'ended', ended: { reason: 'idle', message: 'Signed out: idle for 15 min', local: false, wiped: true } }, 0, actions).state, 'signed-out');
});

test('the tooltip counts down from the snapshot and says why a session ended', () => {
  const { actions } = recorder();
  assert.equal(trayView(active(), 0, actions).tooltip, 'Latch — Connected: idle timeout in 10m 00s, session limit in 50m 00s');
  assert.equal(trayView(active(), 61_000, actions).tooltip, 'Latch — Connected: idle timeout in 8m 59s, session limit in 48m 59s');
  const ended = trayView({ ...SIGNED_OUT, phase: 'ended', ended: { reason: 'idle', message: 'Signed out: idle for 15 min', local: false, wiped: true } }, 0, actions);
  assert.equal(ended.tooltip, 'Latch — Signed out: idle for 15 min');
  assert.equal(ended.menu[0]?.label, 'Signed out: idle for 15 min');
});

test('the menu: per resource connect/disconnect and copy, Renew, Open, Sign out, Quit', () => {
  const { actions, calls } = recorder();
  const { menu } = trayView(active(), 0, actions);
  assert.deepEqual(menu.filter((m) => m.type !== 'separator').map((m) => m.label), ['ann — idle timeout in 10m 00s', 'db — 127.0.0.1:5433', 'web', 'Renew', 'Open Latch', 'Sign out', 'Quit']);
  find(menu, 'Disconnect')?.click?.();
  find(menu, 'Copy local address (127.0.0.1:5433)')?.click?.();
  find(menu, 'Connect')?.click?.();
  assert.equal(find(menu, 'Copy local address')?.enabled, false);
  find(menu, 'Renew')?.click?.();
  find(menu, 'Open Latch')?.click?.();
  find(menu, 'Sign out')?.click?.();
  find(menu, 'Quit')?.click?.();
  assert.deepEqual(calls, ['disconnect db', 'copy db', 'connect web', 'renew', 'open', 'signOut', 'quit']);
});

test('Renew is disabled without renewals or when renewing cannot help; signed out offers sign-in', () => {
  const { actions } = recorder();
  const none = active();
  if (none.session) none.session.renewalsLeft = 0;
  assert.equal(find(trayView(none, 0, actions).menu, 'Renew')?.enabled, false);
  assert.equal(find(trayView(active({ phase: 'warning', warning: { kind: 'absolute', remainingMs: 1, canRenew: false } }), 0, actions).menu, 'Renew')?.enabled, false);
  const out = trayView(SIGNED_OUT, 0, actions).menu;
  assert.equal(find(out, 'Renew')?.enabled, false);
  assert.ok(find(out, 'Sign in…'));
  assert.equal(find(out, 'Sign out'), undefined);
});

test('the controller swaps icons on state changes, ticks the tooltip, and stops ticking when signed out', () => {
  const { actions, calls } = recorder();
  let now = 0;
  const images: string[] = [];
  const tooltips: string[] = [];
  let menus = 0;
  let clickHandler: (() => void) | undefined;
  let tick: (() => void) | null = null;
  let destroyed = false;
  const tray = new TrayController(SIGNED_OUT, {
    createTray: (icon) => {
      images.push(icon);
      return {
        setImage: (i) => void images.push(i),
        setToolTip: (t) => void tooltips.push(t),
        setContextMenu: () => void menus++,
        on: (_e, l) => (clickHandler = l),
        destroy: () => (destroyed = true),
      };
    },
    buildMenu: (t) => t,
    iconFor: (s) => `tray-${s}.png`,
    actions,
    now: () => now,
    tickMs: 1000,
    setInterval: (fn) => {
      tick = fn;
      return 1;
    },
    clearInterval: () => (tick = null),
  });
  assert.deepEqual(images, ['tray-signed-out.png', 'tray-signed-out.png']);
  tray.update(active());
  assert.equal(images.at(-1), 'tray-connected.png');
  assert.ok(tick, 'ticking while signed in');
  const menusBefore = menus;
  now += 5_000;
  (tick as () => void)();
  assert.equal(tooltips.at(-1), 'Latch — Connected: idle timeout in 9m 55s, session limit in 49m 55s');
  assert.equal(menus, menusBefore, 'the countdown alone does not rebuild the menu');
  tray.update(active({ phase: 'warning', warning: { kind: 'idle', remainingMs: 100_000, canRenew: true } }));
  assert.equal(images.at(-1), 'tray-warning.png');
  tray.update({ ...SIGNED_OUT, phase: 'ended', ended: { reason: 'idle', message: 'Signed out: idle for 15 min', local: false, wiped: true } });
  assert.equal(images.at(-1), 'tray-signed-out.png');
  assert.equal(tick, null);
  clickHandler?.();
  assert.deepEqual(calls, ['open']);
  tray.destroy();
  assert.equal(destroyed, true);
});
