import type { NotificationRequest } from '../../core/notify/Notifier.ts';

/** What hosts without notification buttons append to the body, so Renew is still one step away. */
export const DEFAULT_ACTION_HINT = 'To renew, run "latch renew" or press r in the terminal running latch.';

/** The body as shown where buttons are not available: the hint is added when the request has actions. */
export function bodyWithHint(request: NotificationRequest, hint: string): string {
  if (request.actions.length === 0 || hint === '') return request.body;
  return request.body === '' ? hint : `${request.body}\n${hint}`;
}
