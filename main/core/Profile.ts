import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ResourceInfo } from '../../common/api.ts';
import { ErrorCode, LatchError } from '../../common/errors.ts';

/** The signed-in session, as far as the client may remember it outside the keychain. */
export interface ProfileSession {
  id: string;
  user: string;
  /** Wall-clock epoch ms of the absolute deadline, for display only; the proxy's timers decide. */
  expiresAt: number;
  resources: ResourceInfo[];
  /** Non-secret proof for POST /v1/wiped (LoginResponse.wipeReceipt); it authorizes nothing else. */
  wipeReceipt?: string;
}

/** A wipe done on this device that the proxy has not confirmed yet (`credentials.wiped`). */
export interface ProfilePendingWipe {
  sessionId: string;
  /** The session's wipe receipt; without one the wipe cannot be confirmed and is dropped. */
  receipt?: string;
  /** Keychain items deleted. */
  items: number;
}

/** Bounds the pending list: a device that never reaches its proxy does not grow the file forever. */
export const MAX_PENDING_WIPES = 50;

/**
 * Non-secret client state. It never holds the private key, the certificate or the token: those
 * live in the keychain under `<sessionId>:key|cert|token`.
 */
export interface Profile {
  version: 1;
  proxyUrl: string;
  /** `sha256:` + hex of the CA certificate's DER: the pin. */
  caFingerprint: string;
  /** The proxy's CA certificate (public), checked against the pin when it was fetched. */
  caPem: string;
  /** Last user signed in, kept after logout so the next sign-in can default to it. */
  user?: string;
  session?: ProfileSession;
  /** Wipes to confirm to this proxy at next contact, oldest first. */
  pendingWipes?: ProfilePendingWipe[];
}

export const PROFILE_FILE = 'profile.json';

/** `$LATCH_CONFIG_DIR`, else `$XDG_CONFIG_HOME/latch`, else `~/.config/latch`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['LATCH_CONFIG_DIR'];
  if (explicit !== undefined && explicit !== '') return explicit;
  const xdg = env['XDG_CONFIG_HOME'];
  if (xdg !== undefined && xdg !== '') return join(xdg, 'latch');
  const home = env['HOME'] !== undefined && env['HOME'] !== '' ? env['HOME'] : homedir();
  return join(home, '.config', 'latch');
}

function invalid(path: string, why: string): LatchError {
  return new LatchError(ErrorCode.CONFIG, `${path}: ${why}; sign in again to rewrite it`);
}

function isResource(value: unknown): value is ResourceInfo {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return typeof r['id'] === 'string' && typeof r['group'] === 'string';
}

function isPendingWipe(value: unknown): value is ProfilePendingWipe {
  if (typeof value !== 'object' || value === null) return false;
  const w = value as Record<string, unknown>;
  return (
    typeof w['sessionId'] === 'string' &&
    (w['receipt'] === undefined || typeof w['receipt'] === 'string') &&
    typeof w['items'] === 'number' &&
    Number.isSafeInteger(w['items']) &&
    w['items'] >= 0
  );
}

function copyPendingWipe(w: ProfilePendingWipe): ProfilePendingWipe {
  return w.receipt === undefined ? { sessionId: w.sessionId, items: w.items } : { sessionId: w.sessionId, receipt: w.receipt, items: w.items };
}

/** Validates a parsed profile.json, so a damaged file is a clear error, not a crash later. */
export function parseProfile(text: string, path = PROFILE_FILE): Profile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalid(path, 'not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(path, 'not a JSON object');
  const p = raw as Record<string, unknown>;
  if (p['version'] !== 1) throw invalid(path, 'unknown version');
  for (const key of ['proxyUrl', 'caFingerprint', 'caPem'] as const) {
    if (typeof p[key] !== 'string' || p[key] === '') throw invalid(path, `missing ${key}`);
  }
  const profile: Profile = {
    version: 1,
    proxyUrl: p['proxyUrl'] as string,
    caFingerprint: p['caFingerprint'] as string,
    caPem: p['caPem'] as string,
  };
  if (p['user'] !== undefined) {
    if (typeof p['user'] !== 'string') throw invalid(path, 'user must be a string');
    profile.user = p['user'];
  }
  if (p['session'] !== undefined) {
    const s = p['session'] as Record<string, unknown> | null;
    if (
      typeof s !== 'object' ||
      s === null ||
      typeof s['id'] !== 'string' ||
      typeof s['user'] !== 'string' ||
      typeof s['expiresAt'] !== 'number' ||
      !Array.isArray(s['resources']) ||
      !s['resources'].every(isResource)
    ) {
      throw invalid(path, 'malformed session');
    }
    profile.session = {
      id: s['id'],
      user: s['user'],
      expiresAt: s['expiresAt'],
      resources: s['resources'].map((r) => ({ id: r.id, group: r.group })),
    };
    if (s['wipeReceipt'] !== undefined) {
      if (typeof s['wipeReceipt'] !== 'string') throw invalid(path, 'malformed session');
      profile.session.wipeReceipt = s['wipeReceipt'];
    }
  }
  if (p['pendingWipes'] !== undefined) {
    const list = p['pendingWipes'];
    if (!Array.isArray(list) || !list.every(isPendingWipe)) throw invalid(path, 'malformed pendingWipes');
    profile.pendingWipes = list.map(copyPendingWipe);
  }
  return profile;
}

/**
 * The JSON written to disk, built field by field from the schema: whatever else an object
 * carries (a token, a key) never reaches the file.
 */
export function serializeProfile(profile: Profile): string {
  const stored: Profile = {
    version: 1,
    proxyUrl: profile.proxyUrl,
    caFingerprint: profile.caFingerprint,
    caPem: profile.caPem,
  };
  if (profile.user !== undefined) stored.user = profile.user;
  if (profile.session !== undefined) {
    const { id, user, expiresAt, resources, wipeReceipt } = profile.session;
    stored.session = { id, user, expiresAt, resources: resources.map((r) => ({ id: r.id, group: r.group })) };
    if (wipeReceipt !== undefined) stored.session.wipeReceipt = wipeReceipt;
  }
  if (profile.pendingWipes !== undefined && profile.pendingWipes.length > 0) {
    stored.pendingWipes = profile.pendingWipes.slice(-MAX_PENDING_WIPES).map(copyPendingWipe);
  }
  const text = `${JSON.stringify(stored, null, 2)}\n`;
  // The CA PEM is the only PEM allowed here; a private key must never be written, whatever happens.
  if (text.includes('PRIVATE KEY')) throw new LatchError(ErrorCode.INTERNAL, 'refusing to write key material to the profile');
  return text;
}

/**
 * profile.json in the config directory: read, and written atomically (temp file with mode 0600,
 * fsync, rename) so a crash never leaves half a file and no other user can read it.
 */
export class ProfileStore {
  readonly dir: string;
  readonly path: string;

  constructor(dir: string = configDir()) {
    this.dir = dir;
    this.path = join(dir, PROFILE_FILE);
  }

  /** The profile, or null when there is none yet. */
  async read(): Promise<Profile | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new LatchError(ErrorCode.CONFIG, `cannot read ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    return parseProfile(text, this.path);
  }

  async write(profile: Profile): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.${PROFILE_FILE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(serializeProfile(profile), 'utf8');
      // The mode given to open() is filtered by the umask; make it exact.
      await handle.chmod(0o600);
      await handle.sync();
    } catch (err) {
      await handle.close();
      await rm(tmp, { force: true });
      throw err;
    }
    await handle.close();
    try {
      await rename(tmp, this.path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async remove(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
