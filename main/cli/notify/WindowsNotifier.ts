import { ErrorCode, LatchError } from '../../../common/errors.ts';
import { NotificationCloseReason, NotificationHandle, type NotificationRequest, type Notifier } from '../../core/notify/Notifier.ts';
import { runCommand } from '../idle/runCommand.ts';
import { encodePowerShellCommand } from '../idle/WindowsIdleSource.ts';
import { bodyWithHint, DEFAULT_ACTION_HINT } from './actionHint.ts';

/**
 * Windows PowerShell's own AppUserModelID: toasts need a registered app id, and an unpackaged
 * CLI has none of its own. The toast then shows "Windows PowerShell" as its source.
 */
export const POWERSHELL_APP_ID = '{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}\\WindowsPowerShell\\v1.0\\powershell.exe';
const GROUP = 'latch';

export interface WindowsNotifierOptions {
  env: NodeJS.ProcessEnv;
  powershell: string;
  timeoutMs: number;
  appId: string;
  /** Appended to the body of requests with actions: toast buttons need an activation handler we do not have. */
  actionHint: string;
}

export function defaultWindowsNotifierOptions(): WindowsNotifierOptions {
  return { env: process.env, powershell: 'powershell.exe', timeoutMs: 15_000, appId: POWERSHELL_APP_ID, actionHint: DEFAULT_ACTION_HINT };
}

export function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** A PowerShell single-quoted literal: only the quote itself needs doubling. */
export function psQuote(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** Tags identify a toast for History.Remove; Windows limits them to 64 characters. */
export function toastTag(id: string): string {
  return id.slice(0, 64);
}

export function toastXml(request: NotificationRequest, actionHint: string): string {
  const scenario = request.urgency === 'critical' ? ' scenario="reminder"' : '';
  return `<toast${scenario}><visual><binding template="ToastGeneric"><text>${xmlEscape(request.title)}</text><text>${xmlEscape(bodyWithHint(request, actionHint))}</text></binding></visual></toast>`;
}

export function showToastScript(request: NotificationRequest, appId: string, actionHint: string): string {
  return [
    "$ErrorActionPreference = 'Stop'",
    '$null = [Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime]',
    '$null = [Windows.Data.Xml.Dom.XmlDocument, Windows.Data.Xml.Dom.XmlDocument, ContentType = WindowsRuntime]',
    '$xml = New-Object Windows.Data.Xml.Dom.XmlDocument',
    `$xml.LoadXml(${psQuote(toastXml(request, actionHint))})`,
    '$toast = New-Object Windows.UI.Notifications.ToastNotification $xml',
    `$toast.Tag = ${psQuote(toastTag(request.id))}`,
    `$toast.Group = ${psQuote(GROUP)}`,
    `[Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier(${psQuote(appId)}).Show($toast)`,
  ].join('\n');
}

export function removeToastScript(id: string, appId: string): string {
  return [
    "$ErrorActionPreference = 'Stop'",
    '$null = [Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime]',
    `[Windows.UI.Notifications.ToastNotificationManager]::History.Remove(${psQuote(toastTag(id))}, ${psQuote(GROUP)}, ${psQuote(appId)})`,
  ].join('\n');
}

/**
 * Windows toasts through a short-lived PowerShell (WinRT ToastNotificationManager; no native
 * module). A toast with the same request id replaces the earlier one (same tag), and close()
 * withdraws it from Action Center. No action buttons: a button needs an activation handler
 * registered for the app, which an unpackaged CLI does not have; the body says how to renew.
 * The Electron host shows toasts with buttons.
 */
export class WindowsNotifier implements Notifier {
  readonly kind = 'windows';
  readonly supportsActions = false;
  readonly #options: WindowsNotifierOptions;
  readonly #open = new Map<string, NotificationHandle>();
  #closed = false;

  constructor(options: Partial<WindowsNotifierOptions> = {}) {
    this.#options = { ...defaultWindowsNotifierOptions(), ...options };
  }

  async show(request: NotificationRequest): Promise<NotificationHandle> {
    if (this.#closed) throw new LatchError(ErrorCode.NOTIFY_FAILED, 'the notifier is closed');
    const { appId, actionHint } = this.#options;
    await this.#run(showToastScript(request, appId, actionHint), 'show');
    // Same tag: Windows replaced the earlier toast.
    this.#open.get(request.id)?.markClosed(NotificationCloseReason.CLOSED);
    const handle = new NotificationHandle(request, () => this.#run(removeToastScript(request.id, appId), 'remove'));
    this.#open.set(request.id, handle);
    handle.once('closed', () => {
      if (this.#open.get(request.id) === handle) this.#open.delete(request.id);
    });
    return handle;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#open.values()].map((handle) => handle.close()));
  }

  async #run(script: string, what: string): Promise<void> {
    const { env, powershell, timeoutMs } = this.#options;
    const res = await runCommand(powershell, ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', encodePowerShellCommand(script)], { env, timeoutMs });
    if (!res.ok) {
      const code = res.failure === 'spawn' ? ErrorCode.NOTIFY_UNAVAILABLE : ErrorCode.NOTIFY_FAILED;
      throw new LatchError(code, `PowerShell could not ${what} the toast: ${res.detail}`);
    }
  }
}
