import { EventEmitter } from 'node:events';

/**
 * Desktop notifications for session warnings (DESIGN.md: a native notification with a Renew
 * action). Hosts implement Notifier: freedesktop D-Bus on Linux, osascript on macOS, a toast on
 * Windows (main/cli/notify), Electron's Notification (main/electron).
 */
export interface NotificationAction {
  /** Reported back in the handle's `action` event, e.g. 'renew'. */
  id: string;
  label: string;
}

export const Urgency = { LOW: 'low', NORMAL: 'normal', CRITICAL: 'critical' } as const;
export type Urgency = (typeof Urgency)[keyof typeof Urgency];

export interface NotificationRequest {
  /**
   * Our own key for this notification, e.g. 'session-warning'. Showing again with the same id
   * replaces the earlier one in place where the platform allows, so a countdown does not pile up.
   */
  id: string;
  title: string;
  body: string;
  actions: readonly NotificationAction[];
  urgency: Urgency;
}

/** Why a notification went away, as the freedesktop spec names the cases. */
export const NotificationCloseReason = {
  EXPIRED: 'expired',
  DISMISSED: 'dismissed',
  /** close() on the handle, a replacement, or the notifier was closed. */
  CLOSED: 'closed',
  UNKNOWN: 'unknown',
} as const;
export type NotificationCloseReason = (typeof NotificationCloseReason)[keyof typeof NotificationCloseReason];

export interface NotificationEvents {
  /** The user chose an action; the argument is its id ('renew'). */
  action: [actionId: string];
  /** The notification is gone; emitted at most once per handle. */
  closed: [reason: NotificationCloseReason];
}

/**
 * One shown notification. Emits `action` and `closed`; close() removes it from the screen.
 * Hosts without actions (macOS osascript) never emit `action`: they say in the body how to renew.
 */
export class NotificationHandle extends EventEmitter<NotificationEvents> {
  readonly request: NotificationRequest;
  readonly #onClose: () => Promise<void>;
  #closed = false;

  constructor(request: NotificationRequest, onClose: () => Promise<void>) {
    super();
    this.request = request;
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Removes the notification. Idempotent; resolves once the platform was asked. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#onClose();
    this.markClosed(NotificationCloseReason.CLOSED);
  }

  /** For Notifier implementations: records the end and emits `closed` once. */
  markClosed(reason: NotificationCloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('closed', reason);
  }

  /** For Notifier implementations: reports an action unless the handle is already closed. */
  invoke(actionId: string): void {
    if (!this.#closed) this.emit('action', actionId);
  }
}

export interface Notifier {
  /** 'freedesktop', 'macos', 'windows', 'electron'. */
  readonly kind: string;
  /** Whether the user can act on a notification (click a Renew button) on this host. */
  readonly supportsActions: boolean;
  /**
   * Shows a notification. Rejects with LatchError NOTIFY_UNAVAILABLE when no notification service
   * is reachable, NOTIFY_FAILED when the service refused or timed out.
   */
  show(request: NotificationRequest): Promise<NotificationHandle>;
  /** Closes every notification this notifier still shows and releases its connection. Idempotent. */
  close(): Promise<void>;
}
