/**
 * Wipes done on this device that the proxy has not been told about yet (`credentials.wiped`).
 * They must survive a restart: a client that wiped while offline confirms at its next contact.
 * The host backs this with the profile file; MemoryPendingWipes serves tests and hosts that
 * keep nothing on disk.
 */
export interface PendingWipe {
  sessionId: string;
  /** Keychain items deleted for the session (0 when nothing was left to delete). */
  items: number;
}

export interface PendingWipes {
  /** Records a wipe to confirm; replaces an entry with the same sessionId. */
  add(entry: PendingWipe): Promise<void>;
  /** Every entry not yet confirmed, oldest first. */
  list(): Promise<PendingWipe[]>;
  /** Forgets the entry of sessionId (confirmed); harmless when there is none. */
  remove(sessionId: string): Promise<void>;
}

/** PendingWipes held in memory only (lost with the process). */
export class MemoryPendingWipes implements PendingWipes {
  readonly #entries = new Map<string, PendingWipe>();

  add(entry: PendingWipe): Promise<void> {
    this.#entries.delete(entry.sessionId);
    this.#entries.set(entry.sessionId, { sessionId: entry.sessionId, items: entry.items });
    return Promise.resolve();
  }

  list(): Promise<PendingWipe[]> {
    return Promise.resolve([...this.#entries.values()].map((e) => ({ ...e })));
  }

  remove(sessionId: string): Promise<void> {
    this.#entries.delete(sessionId);
    return Promise.resolve();
  }
}
