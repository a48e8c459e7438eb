import type { EngineSnapshot } from '../../common/engineState.ts';
import type { SettingsView } from '../../common/ipc.ts';
import type { NotificationHandle, Notifier } from '../core/notify/Notifier.ts';
import { describeWarning } from '../core/session/describeEnd.ts';

export interface EarlyWarningOptions {
  notifier: Notifier;
  settings: { view(): SettingsView };
  renew: () => Promise<unknown>;
  log: (line: string) => void;
}

export const EARLY_WARNING_ID = 'latch-early-warning';

/**
 * The person's own warning lead time (Settings): when it is longer than the policy's warnBefore,
 * a Renew notification appears that much before the idle deadline. The proxy's warning still
 * follows at warnBefore (the engine shows it); this one goes away then, or once input or a renew
 * moves the deadline. Driven by the engine's snapshots, which arrive at least once a second.
 */
export class EarlyWarning {
  readonly #options: EarlyWarningOptions;
  #handle: NotificationHandle | null = null;
  #showing = false;

  constructor(options: EarlyWarningOptions) {
    this.#options = options;
  }

  update(snapshot: EngineSnapshot): void {
    const session = snapshot.session;
    const lead = this.#options.settings.view().settings.warningLeadMs;
    const due =
      snapshot.phase === 'active' &&
      session !== null &&
      session.renewalsLeft > 0 &&
      lead > session.policy.warnBeforeMs &&
      session.idleRemainingMs <= lead &&
      session.idleRemainingMs > session.policy.warnBeforeMs;
    if (!due) {
      this.#dismiss();
      return;
    }
    if (this.#showing) return;
    this.#showing = true;
    const { title, body } = describeWarning('idle', session.idleRemainingMs, true);
    this.#options.notifier
      .show({ id: EARLY_WARNING_ID, title, body, actions: [{ id: 'renew', label: 'Renew' }], urgency: 'normal' })
      .then((handle) => {
        if (!this.#showing) {
          void handle.close();
          return;
        }
        this.#handle = handle;
        handle.on('action', (id) => {
          if (id === 'renew') this.#options.renew().catch((err: unknown) => this.#options.log(`renew from the early warning failed: ${String(err)}`));
        });
      })
      .catch((err: unknown) => {
        // Not retried every second: the next episode (a moved deadline) tries again.
        this.#options.log(`early warning not shown: ${err instanceof Error ? err.message : String(err)}`);
      });
  }

  #dismiss(): void {
    this.#showing = false;
    const handle = this.#handle;
    this.#handle = null;
    if (handle) void handle.close().catch(() => undefined);
  }

  close(): void {
    this.#dismiss();
  }
}
