import { NotificationCloseReason, NotificationHandle } from '../../../main/core/notify/Notifier.ts';
import type { Notifier, NotificationRequest } from '../../../main/core/notify/Notifier.ts';

/**
 * The browser tier's notifier: a page cannot show native notifications, so the requests the
 * engine makes are recorded (and their actions can be invoked, as a click would). The native
 * paths are covered by main/cli/notify (dunst) and the Electron tier.
 */
export class RecordingNotifier implements Notifier {
  readonly kind = 'recording';
  readonly supportsActions = true;
  readonly shown: NotificationHandle[] = [];

  show(request: NotificationRequest): Promise<NotificationHandle> {
    for (const h of this.shown) if (h.request.id === request.id) h.markClosed(NotificationCloseReason.CLOSED);
    const handle = new NotificationHandle(request, () => Promise.resolve());
    this.shown.push(handle);
    return Promise.resolve(handle);
  }

  close(): Promise<void> {
    for (const h of this.shown) h.markClosed(NotificationCloseReason.CLOSED);
    return Promise.resolve();
  }
}
