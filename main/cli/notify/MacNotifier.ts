import { ErrorCode, LatchError } from '../../../common/errors.ts';
import { NotificationCloseReason, NotificationHandle, type NotificationRequest, type Notifier } from '../../core/notify/Notifier.ts';
import { runCommand } from '../idle/runCommand.ts';
import { bodyWithHint, DEFAULT_ACTION_HINT } from './actionHint.ts';

export interface MacNotifierOptions {
  env: NodeJS.ProcessEnv;
  osascript: string;
  timeoutMs: number;
  /** Appended to the body of requests with actions: osascript notifications have no buttons. */
  actionHint: string;
}

export function defaultMacNotifierOptions(): MacNotifierOptions {
  return { env: process.env, osascript: '/usr/bin/osascript', timeoutMs: 5_000, actionHint: DEFAULT_ACTION_HINT };
}

/**
 * The texts travel as script arguments (`on run argv`), never spliced into AppleScript source,
 * so no quoting can break out of them.
 */
export function osascriptArgs(title: string, body: string): string[] {
  return ['-e', 'on run argv', '-e', 'display notification (item 2 of argv) with title (item 1 of argv)', '-e', 'end run', '--', title, body];
}

/**
 * macOS notifications through `osascript display notification`, which every Mac has. They carry
 * no action buttons and cannot be withdrawn by the sender, so: supportsActions is false, the
 * body says how to renew (`latch renew`, or `r` in the terminal), and close() only ends the
 * handle. Action buttons on macOS come with the signed Electron app (alert-style notifications).
 */
export class MacNotifier implements Notifier {
  readonly kind = 'macos';
  readonly supportsActions = false;
  readonly #options: MacNotifierOptions;
  readonly #open = new Map<string, NotificationHandle>();
  #closed = false;

  constructor(options: Partial<MacNotifierOptions> = {}) {
    this.#options = { ...defaultMacNotifierOptions(), ...options };
  }

  async show(request: NotificationRequest): Promise<NotificationHandle> {
    if (this.#closed) throw new LatchError(ErrorCode.NOTIFY_FAILED, 'the notifier is closed');
    const { env, osascript, timeoutMs, actionHint } = this.#options;
    const res = await runCommand(osascript, osascriptArgs(request.title, bodyWithHint(request, actionHint)), { env, timeoutMs });
    if (!res.ok) {
      const code = res.failure === 'spawn' ? ErrorCode.NOTIFY_UNAVAILABLE : ErrorCode.NOTIFY_FAILED;
      throw new LatchError(code, `osascript could not show the notification: ${res.detail}`);
    }
    this.#open.get(request.id)?.markClosed(NotificationCloseReason.CLOSED);
    const handle = new NotificationHandle(request, () => Promise.resolve());
    this.#open.set(request.id, handle);
    handle.once('closed', () => {
      if (this.#open.get(request.id) === handle) this.#open.delete(request.id);
    });
    return handle;
  }

  /** Ends every handle; what macOS shows stays in Notification Center. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#open.values()].map((handle) => handle.close()));
  }
}
