import type { WipedRequest } from '../../common/api.ts';
import { ErrorCode, isLatchError } from '../../common/errors.ts';
import type { ProfilePendingWipe, ProfileStore } from './Profile.ts';
import type { PendingWipe, PendingWipes } from './session/PendingWipes.ts';

/**
 * PendingWipes kept in profile.json, so a wipe done while the proxy was unreachable (or just
 * before the process exited) is confirmed at the next contact, by this process or the next
 * `latch` command. Each entry carries the session's wipe receipt, which is not a secret: it only
 * lets POST /v1/wiped say "this session's items are gone". The receipt is taken from the profile's
 * session when the wipe is recorded, so record the wipe before the session is cleared.
 */
export class ProfilePendingWipes implements PendingWipes {
  readonly #profiles: ProfileStore;
  /** Receipts known to this process (a session cleared from the profile before its wipe was recorded). */
  readonly #receipts = new Map<string, string>();

  constructor(profiles: ProfileStore) {
    this.#profiles = profiles;
  }

  /** Remembers a session's receipt in memory, in case the profile no longer holds it at add(). */
  rememberReceipt(sessionId: string, receipt: string | undefined): void {
    if (receipt !== undefined && receipt !== '') this.#receipts.set(sessionId, receipt);
  }

  async add(entry: PendingWipe): Promise<void> {
    const profile = await this.#profiles.read();
    if (profile === null) return;
    const list = profile.pendingWipes ?? [];
    const earlier = list.find((w) => w.sessionId === entry.sessionId);
    const receipt =
      (profile.session?.id === entry.sessionId ? profile.session.wipeReceipt : undefined) ?? earlier?.receipt ?? this.#receipts.get(entry.sessionId);
    const next: ProfilePendingWipe = receipt === undefined ? { sessionId: entry.sessionId, items: entry.items } : { sessionId: entry.sessionId, receipt, items: entry.items };
    await this.#profiles.write({ ...profile, pendingWipes: [...list.filter((w) => w.sessionId !== entry.sessionId), next] });
  }

  async list(): Promise<PendingWipe[]> {
    return (await this.entries()).map((w) => ({ sessionId: w.sessionId, items: w.items }));
  }

  /** The entries with their receipts, oldest first. */
  async entries(): Promise<ProfilePendingWipe[]> {
    const profile = await this.#profiles.read().catch(() => null);
    return (profile?.pendingWipes ?? []).map((w) => ({ ...w }));
  }

  async remove(sessionId: string): Promise<void> {
    const profile = await this.#profiles.read();
    if (profile?.pendingWipes === undefined || !profile.pendingWipes.some((w) => w.sessionId === sessionId)) return;
    await this.#profiles.write({ ...profile, pendingWipes: profile.pendingWipes.filter((w) => w.sessionId !== sessionId) });
  }
}

/**
 * Sends POST /v1/wiped for every pending wipe, oldest first. A confirmed entry is removed; so is
 * one the proxy will never accept (no receipt, unknown session or wrong receipt). It stops at the
 * first entry that could not be delivered (proxy unreachable) and leaves the rest for next time.
 * Resolves with the number the proxy accepted; never rejects.
 */
export async function confirmPendingWipes(pending: ProfilePendingWipes, post: (request: WipedRequest) => Promise<void>): Promise<number> {
  let confirmed = 0;
  let entries: ProfilePendingWipe[];
  try {
    entries = await pending.entries();
  } catch {
    return 0;
  }
  for (const entry of entries) {
    try {
      if (entry.receipt !== undefined) {
        await post({ sessionId: entry.sessionId, receipt: entry.receipt, items: entry.items });
        confirmed++;
      }
    } catch (err) {
      const refused = isLatchError(err) && (err.code === ErrorCode.AUTH_REJECTED || err.code === ErrorCode.BAD_REQUEST || err.code === ErrorCode.NOT_FOUND);
      if (!refused) return confirmed;
    }
    await pending.remove(entry.sessionId).catch(() => undefined);
  }
  return confirmed;
}
