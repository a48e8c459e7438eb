import { ErrorCode, LatchError } from '../../common/errors.ts';
import type { CredentialStore } from './CredentialStore.ts';

/** What the client needs to prove it is the session: only ever held in the keychain and memory. */
export interface SessionSecrets {
  /** PKCS#8 PEM of the private key generated on this device. */
  key: string;
  /** PEM of the client certificate the proxy issued for that key. */
  cert: string;
  /** Bearer token for the API and the tunnel upgrade. */
  token: string;
}

const KINDS = ['key', 'cert', 'token'] as const;

/** The keychain account that holds one secret of a session: `<sessionId>:key|cert|token`. */
export function sessionAccount(sessionId: string, kind: (typeof KINDS)[number]): string {
  return `${sessionId}:${kind}`;
}

export async function saveSessionSecrets(store: CredentialStore, sessionId: string, secrets: SessionSecrets): Promise<void> {
  for (const kind of KINDS) await store.set(sessionAccount(sessionId, kind), secrets[kind]);
}

/** The session's secrets; LATCH_ERR_NOT_SIGNED_IN when any of them is missing from the keychain. */
export async function loadSessionSecrets(store: CredentialStore, sessionId: string): Promise<SessionSecrets> {
  const [key, cert, token] = await Promise.all(KINDS.map((kind) => store.get(sessionAccount(sessionId, kind))));
  if (key == null || cert == null || token == null) {
    throw new LatchError(ErrorCode.NOT_SIGNED_IN, 'the credentials of this session are not in the keychain: sign in again');
  }
  return { key, cert, token };
}

const WIPE_ATTEMPTS = 3;

/**
 * Deletes every keychain item of the session (the three known accounts and anything else under
 * its prefix), then lists again to confirm none is left. Idempotent. Resolves with the number of
 * items removed; rejects with LATCH_ERR_KEYCHAIN_UNAVAILABLE when items survive every attempt.
 */
export async function wipeSessionSecrets(store: CredentialStore, sessionId: string): Promise<number> {
  const prefix = `${sessionId}:`;
  let removed = 0;
  let lastError: unknown;
  for (let attempt = 0; attempt < WIPE_ATTEMPTS; attempt++) {
    try {
      const listed = (await store.list()).filter((a) => a.startsWith(prefix));
      const accounts = new Set([...KINDS.map((kind) => sessionAccount(sessionId, kind)), ...listed]);
      for (const account of accounts) {
        if (await store.delete(account)) removed++;
      }
      const left = (await store.list()).filter((a) => a.startsWith(prefix));
      if (left.length === 0) return removed;
      lastError = new LatchError(ErrorCode.KEYCHAIN_UNAVAILABLE, `${left.length} keychain item(s) of the session could not be deleted`);
    } catch (err) {
      lastError = err;
    }
  }
  if (lastError instanceof LatchError) throw lastError;
  throw new LatchError(ErrorCode.KEYCHAIN_UNAVAILABLE, 'could not wipe the session from the keychain', { cause: lastError });
}
