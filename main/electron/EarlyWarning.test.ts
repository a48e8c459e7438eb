import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineSnapshot } from '../../common/engineState.ts';
import { SIGNED_OUT } from '../../common/engineState.ts';
import { NotificationHandle } from '../core/notify/Notifier.ts';
import type { Notifier, NotificationRequest } from '../core/notify/Notifier.ts';
import { EarlyWarning } from './EarlyWarning.ts';

const POLICY = { idleTimeoutMs: 900_000, maxDurationMs: 3_600_000, warnBeforeMs: 120_000, maxRenewals: 3, activity: 'input', onLock: 'idle', groups: [] as string[] } as const;

function at(idleRemainingMs: number, phase: EngineSnapshot['phase'] = 'active'): EngineSnapshot {
  return { ...SIGNED_OUT, phase, session: { sessionId: 's', user: 'ann', proxyUrl: 'https://p', idleRemainingMs, absoluteRemainingMs: 3_000_000, renewalsLeft: 2, policy: { ...POLICY, groups: [] } } };
}

function setup(leadMs: number) {
  const shown: NotificationHandle[] = [];
  const notifier: Notifier = {
    kind: 'test',
    supportsActions: true,
    show: (req: NotificationRequest) => {
      const h = new NotificationHandle(req, () => Promise.resolve());
      shown.push(h);
      return Promise.resolve(h);
    },
    close: () => Promise.resolve(),
  };
  let renewals = 0;
  const early = new EarlyWarning({
    notifier,
    settings: { view: () => ({ settings: { warningLeadMs: leadMs, startAtLogin: false }, warningLeadBounds: { minMs: 0, maxMs: 0 }, locked: [], managedProxy: null }) },
    renew: () => {
      renewals++;
      return Promise.resolve();
    },
    log: () => undefined,
  });
  return { early, shown, renewals: () => renewals };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

test('warns once at the chosen lead time, with Renew; input that moves the deadline takes it away', async () => {
  const { early, shown, renewals } = setup(300_000);
  early.update(at(400_000));
  assert.equal(shown.length, 0);
  early.update(at(299_000));
  early.update(at(298_000));
  await settle();
  assert.equal(shown.length, 1);
  assert.deepEqual(shown[0]?.request.actions, [{ id: 'renew', label: 'Renew' }]);
  assert.match(shown[0]?.request.title ?? '', /ends in 4m 59s/);
  shown[0]?.invoke('renew');
  assert.equal(renewals(), 1);
  early.update(at(900_000));
  await settle();
  assert.equal(shown[0]?.closed, true);
});

test('the policy warning takes over at warnBefore; a lead no longer than warnBefore adds nothing', async () => {
  const { early, shown } = setup(300_000);
  early.update(at(200_000));
  await settle();
  early.update(at(110_000, 'warning'));
  await settle();
  assert.equal(shown[0]?.closed, true);
  const short = setup(120_000);
  short.early.update(at(100_000));
  short.early.update(at(119_000));
  await settle();
  assert.equal(short.shown.length, 0);
});
