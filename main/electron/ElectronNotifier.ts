import { ErrorCode, LatchError } from '../../common/errors.ts';
import { NotificationCloseReason, NotificationHandle } from '../core/notify/Notifier.ts';
import type { Notifier, NotificationRequest } from '../core/notify/Notifier.ts';

/** The part of Electron's Notification this adapter uses. */
export interface NotificationLike {
  show(): void;
  close(): void;
  on(event: 'click', listener: () => void): unknown;
  on(event: 'action', listener: (details: { actionIndex: number }) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'failed', listener: () => void): unknown;
}

export interface NotificationInit {
  title: string;
  body: string;
  actions: Array<{ type: 'button'; text: string }>;
  urgency: 'low' | 'normal' | 'critical';
  timeoutType: 'default' | 'never';
  icon?: string;
}

export interface ElectronNotifierOptions {
  /** Electron: `(init) => new Notification(init)`. */
  createNotification: (init: NotificationInit) => NotificationLike;
  /** Electron: `Notification.isSupported()`. */
  isSupported: () => boolean;
  platform: NodeJS.Platform;
  /** Icon file for every notification, if any. */
  icon?: string;
  /**
   * Called for every click and action after the handle was told (the engine renews on 'renew');
   * the host opens the window for anything else ("Sign in again", a click on macOS/Windows).
   */
  onActivated?: (request: NotificationRequest, actionId: string | undefined) => void;
}

/**
 * Notifier over Electron's Notification. macOS and Windows show action buttons (Renew, Sign in
 * again); Linux notifications from Electron carry no actions, so a click there means the first
 * action: clicking the warning renews.
 */
export class ElectronNotifier implements Notifier {
  readonly kind = 'electron';
  readonly supportsActions: boolean;
  readonly #options: ElectronNotifierOptions;
  /** Shown notifications by our id; holding them also keeps Electron from collecting them (and their click handlers). */
  readonly #shown = new Map<string, { native: NotificationLike; handle: NotificationHandle; state: { closing: boolean } }>();
  #closed = false;

  constructor(options: ElectronNotifierOptions) {
    if (typeof options.createNotification !== 'function' || typeof options.isSupported !== 'function') {
      throw new LatchError(ErrorCode.CONFIG, 'ElectronNotifier: createNotification and isSupported are required');
    }
    this.#options = options;
    this.supportsActions = options.platform === 'darwin' || options.platform === 'win32';
  }

  show(request: NotificationRequest): Promise<NotificationHandle> {
    if (this.#closed) return Promise.reject(new LatchError(ErrorCode.NOTIFY_UNAVAILABLE, 'the notifier is closed'));
    if (!this.#options.isSupported()) return Promise.reject(new LatchError(ErrorCode.NOTIFY_UNAVAILABLE, 'this desktop does not support notifications'));
    // Same id: replace in place, so a countdown does not pile up notifications.
    this.#dismiss(request.id);
    const init: NotificationInit = {
      title: request.title,
      body: request.body,
      actions: this.supportsActions ? request.actions.map((a) => ({ type: 'button', text: a.label })) : [],
      urgency: request.urgency,
      // A warning must stay until acted on: it carries the only one-click Renew.
      timeoutType: request.actions.length > 0 ? 'never' : 'default',
    };
    if (this.#options.icon !== undefined) init.icon = this.#options.icon;
    let native: NotificationLike;
    try {
      native = this.#options.createNotification(init);
    } catch (err) {
      return Promise.reject(new LatchError(ErrorCode.NOTIFY_FAILED, 'the notification could not be created', { cause: err }));
    }
    // Set when we close it ourselves, so the 'close' that follows is not taken for a dismissal.
    const state = { closing: false };
    const handle = new NotificationHandle(request, () => {
      state.closing = true;
      native.close();
      return Promise.resolve();
    });
    const entry = { native, handle, state };
    const forget = (): void => {
      if (this.#shown.get(request.id) === entry) this.#shown.delete(request.id);
    };
    const activate = (actionId: string | undefined): void => {
      if (actionId !== undefined) handle.invoke(actionId);
      this.#options.onActivated?.(request, actionId);
    };
    native.on('action', (details) => activate(request.actions[details.actionIndex]?.id));
    native.on('click', () => activate(this.supportsActions ? undefined : request.actions[0]?.id));
    native.on('close', () => {
      forget();
      handle.markClosed(state.closing ? NotificationCloseReason.CLOSED : NotificationCloseReason.DISMISSED);
    });
    native.on('failed', () => {
      forget();
      handle.markClosed(NotificationCloseReason.UNKNOWN);
    });
    handle.once('closed', forget);
    this.#shown.set(request.id, entry);
    native.show();
    return Promise.resolve(handle);
  }

  #dismiss(id: string): void {
    const previous = this.#shown.get(id);
    if (!previous) return;
    this.#shown.delete(id);
    previous.state.closing = true;
    previous.native.close();
    previous.handle.markClosed(NotificationCloseReason.CLOSED);
  }

  close(): Promise<void> {
    this.#closed = true;
    for (const id of [...this.#shown.keys()]) this.#dismiss(id);
    return Promise.resolve();
  }
}
