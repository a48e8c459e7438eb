import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import type { EndReason } from '../common/closeCodes.ts';
import { ErrorCode, LatchError } from '../common/errors.ts';

/**
 * The proxy's durable state in SQLite (node:sqlite): users, one-time enrollment codes,
 * sessions with their absolute deadlines, and revoked certificate serials. WAL mode so admin
 * commands (`user add`, `enroll`) can write while `serve` runs. Secrets (codes, tokens) are
 * stored as SHA-256 digests only: they are high-entropy random values, so a fast hash suffices.
 */

export const SCHEMA_VERSION = 2;

const MIGRATIONS: readonly string[] = [
  // v1
  `CREATE TABLE users (
     name TEXT PRIMARY KEY,
     password_hash TEXT NOT NULL,
     created INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE enrollments (
     code_hash TEXT PRIMARY KEY,
     user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
     created INTEGER NOT NULL,
     expires INTEGER NOT NULL,
     used_at INTEGER
   ) STRICT;
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     user TEXT NOT NULL,
     device TEXT,
     created INTEGER NOT NULL,
     absolute_deadline INTEGER NOT NULL,
     cert_serial TEXT NOT NULL UNIQUE,
     token_hash TEXT NOT NULL,
     ended_at INTEGER,
     end_reason TEXT
   ) STRICT;
   CREATE INDEX sessions_user ON sessions(user);
   CREATE TABLE revoked_serials (
     serial TEXT PRIMARY KEY,
     revoked_at INTEGER NOT NULL,
     reason TEXT NOT NULL
   ) STRICT;`,
  // v2: what the session timers need after a restart, wipe receipts, ends made while serve was down
  `ALTER TABLE sessions ADD COLUMN period_started INTEGER;
   ALTER TABLE sessions ADD COLUMN last_activity INTEGER;
   ALTER TABLE sessions ADD COLUMN idle_deadline INTEGER;
   ALTER TABLE sessions ADD COLUMN renewals INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE sessions ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';
   ALTER TABLE sessions ADD COLUMN warned_idle INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE sessions ADD COLUMN warned_absolute INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE sessions ADD COLUMN wipe_receipt_hash TEXT;
   ALTER TABLE sessions ADD COLUMN wiped_at INTEGER;
   ALTER TABLE sessions ADD COLUMN end_unaudited INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE revoked_serials ADD COLUMN session_id TEXT;
   CREATE INDEX sessions_live ON sessions(ended_at);`,
];

export interface UserRow {
  name: string;
  created: number;
}

export interface SessionRow {
  id: string;
  user: string;
  device: string | null;
  created: number;
  absoluteDeadline: number;
  certSerial: string;
  tokenHash: string;
  endedAt: number | null;
  endReason: string | null;
  periodStartedAt: number;
  lastActivityAt: number | null;
  idleDeadline: number | null;
  renewals: number;
  groups: string[];
  warnedIdle: boolean;
  warnedAbsolute: boolean;
  wipeReceiptHash: string | null;
  wipedAt: number | null;
}

/** The timer fields `persistTimers` writes (a SessionSnapshot fits). */
export interface TimerState {
  id: string;
  periodStartedAt: number;
  absoluteDeadline: number;
  lastActivityAt: number;
  idleDeadline: number;
  renewals: number;
  groups: readonly string[];
  warnedIdle: boolean;
  warnedAbsolute: boolean;
}

export interface Reauthentication {
  certSerial: string;
  token: string;
  wipeReceipt: string;
  absoluteDeadline: number;
}

export interface NewSession {
  id: string;
  user: string;
  device: string | null;
  created: number;
  absoluteDeadline: number;
  certSerial: string;
  token: string;
  /** Non-secret proof for POST /v1/wiped; stored as SHA-256. */
  wipeReceipt?: string;
}

const USER_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

export function validateUserName(name: string): string {
  if (!USER_NAME.test(name)) {
    throw new LatchError(ErrorCode.USAGE, `invalid user name "${name}": use 1-64 of A-Z a-z 0-9 . _ @ -`);
  }
  return name;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Serials compare as uppercase hex without leading zeros (how Node reports them). */
export function normalizeSerial(serial: string): string {
  return serial.toUpperCase().replace(/^0+(?=.)/, '');
}

// Crockford base32 without I, L, O, U: codes survive being read aloud or typed.
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** 20 symbols = 100 bits, shown as XXXXX-XXXXX-XXXXX-XXXXX. */
export function newEnrollmentCode(): string {
  const bytes = randomBytes(20);
  let out = '';
  for (let i = 0; i < 20; i++) {
    out += CODE_ALPHABET[(bytes[i] ?? 0) & 31];
    if (i % 5 === 4 && i < 19) out += '-';
  }
  return out;
}

/** Accepts lower case, missing dashes and spaces, and the look-alikes O→0, I/L→1. */
export function normalizeEnrollmentCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

function isRecord(row: unknown): row is Record<string, unknown> {
  return typeof row === 'object' && row !== null;
}

/** SQLite hands back strings, numbers or bigints; anything else is a schema bug. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  throw new LatchError(ErrorCode.INTERNAL, `unexpected ${typeof value} in the store`);
}

function toSession(row: unknown): SessionRow | undefined {
  if (!isRecord(row)) return undefined;
  return {
    id: text(row.id),
    user: text(row.user),
    device: row.device === null ? null : text(row.device),
    created: Number(row.created),
    absoluteDeadline: Number(row.absolute_deadline),
    certSerial: text(row.cert_serial),
    tokenHash: text(row.token_hash),
    endedAt: row.ended_at === null ? null : Number(row.ended_at),
    endReason: row.end_reason === null ? null : text(row.end_reason),
    periodStartedAt: row.period_started === null || row.period_started === undefined ? Number(row.created) : Number(row.period_started),
    lastActivityAt: row.last_activity === null || row.last_activity === undefined ? null : Number(row.last_activity),
    idleDeadline: row.idle_deadline === null || row.idle_deadline === undefined ? null : Number(row.idle_deadline),
    renewals: Number(row.renewals ?? 0),
    groups: parseGroups(row.groups),
    warnedIdle: Number(row.warned_idle ?? 0) === 1,
    warnedAbsolute: Number(row.warned_absolute ?? 0) === 1,
    wipeReceiptHash: row.wipe_receipt_hash === null || row.wipe_receipt_hash === undefined ? null : text(row.wipe_receipt_hash),
    wipedAt: row.wiped_at === null || row.wiped_at === undefined ? null : Number(row.wiped_at),
  };
}

function parseGroups(value: unknown): string[] {
  if (typeof value !== 'string') return [];
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? parsed.filter((g): g is string => typeof g === 'string') : [];
  } catch {
    return [];
  }
}

export class Store {
  private readonly db: DatabaseSync;

  constructor(path: string) {
    try {
      this.db = new DatabaseSync(path);
    } catch (err) {
      throw new LatchError(ErrorCode.CONFIG, `cannot open store ${path}: ${(err as Error).message}`, { cause: err });
    }
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;');
    this.migrate();
  }

  private migrate(): void {
    const row = this.db.prepare('PRAGMA user_version').get();
    const current = isRecord(row) ? Number(row.user_version) : 0;
    if (current > MIGRATIONS.length) {
      throw new LatchError(ErrorCode.CONFIG, `store schema version ${current} is newer than this proxy understands (${MIGRATIONS.length})`);
    }
    for (let version = current; version < MIGRATIONS.length; version++) {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        this.db.exec(MIGRATIONS[version] ?? '');
        this.db.exec(`PRAGMA user_version = ${version + 1}`);
        this.db.exec('COMMIT');
      } catch (err) {
        this.db.exec('ROLLBACK');
        throw err;
      }
    }
  }

  schemaVersion(): number {
    const row = this.db.prepare('PRAGMA user_version').get();
    return isRecord(row) ? Number(row.user_version) : 0;
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  // Users

  addUser(name: string, passwordHash: string, now = Date.now()): void {
    validateUserName(name);
    const result = this.db.prepare('INSERT OR IGNORE INTO users (name, password_hash, created) VALUES (?, ?, ?)').run(name, passwordHash, now);
    if (result.changes === 0) throw new LatchError(ErrorCode.USAGE, `user "${name}" already exists`);
  }

  /** Replaces the password of an existing user; false if there is no such user. */
  setPassword(name: string, passwordHash: string): boolean {
    return this.db.prepare('UPDATE users SET password_hash = ? WHERE name = ?').run(passwordHash, name).changes === 1;
  }

  passwordHash(name: string): string | undefined {
    const row = this.db.prepare('SELECT password_hash FROM users WHERE name = ?').get(name);
    return isRecord(row) ? text(row.password_hash) : undefined;
  }

  hasUser(name: string): boolean {
    return this.db.prepare('SELECT 1 AS one FROM users WHERE name = ?').get(name) !== undefined;
  }

  listUsers(): UserRow[] {
    return this.db
      .prepare('SELECT name, created FROM users ORDER BY name')
      .all()
      .filter(isRecord)
      .map((row) => ({ name: text(row.name), created: Number(row.created) }));
  }

  /** Removes the user and their unused enrollment codes. Their live sessions are not touched here. */
  removeUser(name: string): boolean {
    return this.db.prepare('DELETE FROM users WHERE name = ?').run(name).changes === 1;
  }

  // Enrollment codes

  createEnrollment(user: string, ttlMs: number, now = Date.now()): { code: string; expires: number } {
    if (!this.hasUser(user)) throw new LatchError(ErrorCode.USAGE, `no user "${user}" (add it with latch-proxy user add ${user})`);
    const code = newEnrollmentCode();
    const expires = now + ttlMs;
    this.db
      .prepare('INSERT INTO enrollments (code_hash, user, created, expires, used_at) VALUES (?, ?, ?, ?, NULL)')
      .run(sha256Hex(normalizeEnrollmentCode(code)), user, now, expires);
    return { code, expires };
  }

  /**
   * Marks the code used and returns its user, atomically: of two concurrent logins with the same
   * code exactly one wins. Unknown, used and expired codes all return undefined.
   */
  consumeEnrollment(code: string, now = Date.now()): string | undefined {
    const hash = sha256Hex(normalizeEnrollmentCode(code));
    const row = this.db
      .prepare('UPDATE enrollments SET used_at = ? WHERE code_hash = ? AND used_at IS NULL AND expires > ? RETURNING user')
      .get(now, hash, now);
    return isRecord(row) ? text(row.user) : undefined;
  }

  // Sessions

  createSession(session: NewSession): SessionRow {
    this.db
      .prepare(
        `INSERT INTO sessions (id, user, device, created, absolute_deadline, cert_serial, token_hash, ended_at, end_reason,
                               period_started, last_activity, idle_deadline, wipe_receipt_hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, NULL, ?)`,
      )
      .run(
        session.id, session.user, session.device, session.created, session.absoluteDeadline, normalizeSerial(session.certSerial), sha256Hex(session.token),
        session.created, session.created, session.wipeReceipt === undefined ? null : sha256Hex(session.wipeReceipt),
      );
    const row = this.getSession(session.id);
    if (!row) throw new LatchError(ErrorCode.INTERNAL, 'session row vanished after insert');
    return row;
  }

  getSession(id: string): SessionRow | undefined {
    return toSession(this.db.prepare('SELECT * FROM sessions WHERE id = ?').get(id));
  }

  sessionBySerial(serial: string): SessionRow | undefined {
    return toSession(this.db.prepare('SELECT * FROM sessions WHERE cert_serial = ?').get(normalizeSerial(serial)));
  }

  listSessions(options: { includeEnded?: boolean } = {}): SessionRow[] {
    const sql = options.includeEnded === true ? 'SELECT * FROM sessions ORDER BY created' : 'SELECT * FROM sessions WHERE ended_at IS NULL ORDER BY created';
    return this.db
      .prepare(sql)
      .all()
      .map(toSession)
      .filter((s): s is SessionRow => s !== undefined);
  }

  /** The session a revoked certificate belonged to (a re-authenticated session's old certificate). */
  sessionByRevokedSerial(serial: string): SessionRow | undefined {
    const row = this.db.prepare('SELECT session_id FROM revoked_serials WHERE serial = ?').get(normalizeSerial(serial));
    if (!isRecord(row) || row.session_id === null || row.session_id === undefined) return undefined;
    return this.getSession(text(row.session_id));
  }

  /**
   * Ends a live session durably and revokes its certificate. False if it had already ended.
   * `unaudited` marks an end made while `serve` was not running (the admin CLI): serve audits
   * it at start-up (takeUnauditedEnds).
   */
  endSession(id: string, reason: EndReason, now = Date.now(), options: { unaudited?: boolean } = {}): boolean {
    return this.transaction(() => {
      const row = this.db
        .prepare('UPDATE sessions SET ended_at = ?, end_reason = ?, end_unaudited = ? WHERE id = ? AND ended_at IS NULL RETURNING cert_serial')
        .get(now, reason, options.unaudited === true ? 1 : 0, id);
      if (isRecord(row)) {
        this.db.prepare('INSERT OR IGNORE INTO revoked_serials (serial, revoked_at, reason, session_id) VALUES (?, ?, ?, ?)').run(text(row.cert_serial), now, reason, id);
      }
      return isRecord(row);
    });
  }

  /** Sessions ended while serve was down, not yet audited; clears the mark. */
  takeUnauditedEnds(): SessionRow[] {
    return this.transaction(() => {
      const rows = this.db
        .prepare('SELECT * FROM sessions WHERE end_unaudited = 1 ORDER BY ended_at')
        .all()
        .map(toSession)
        .filter((s): s is SessionRow => s !== undefined);
      this.db.prepare('UPDATE sessions SET end_unaudited = 0 WHERE end_unaudited = 1').run();
      return rows;
    });
  }

  /** Writes the session timers' changed state, all in one transaction. */
  persistTimers(batch: readonly TimerState[]): void {
    if (batch.length === 0) return;
    const update = this.db.prepare(
      `UPDATE sessions SET period_started = ?, absolute_deadline = ?, last_activity = ?, idle_deadline = ?, renewals = ?,
                           groups = ?, warned_idle = ?, warned_absolute = ? WHERE id = ?`,
    );
    this.transaction(() => {
      for (const s of batch) {
        update.run(
          s.periodStartedAt, s.absoluteDeadline, s.lastActivityAt, s.idleDeadline, s.renewals,
          JSON.stringify(s.groups), s.warnedIdle ? 1 : 0, s.warnedAbsolute ? 1 : 0, s.id,
        );
      }
    });
  }

  /**
   * Signing in again in place: the live session gets a new certificate, token and wipe
   * receipt and a new absolute period; the old certificate is revoked (it stays linked to the
   * session so a refusal can say why). False if the session is not live.
   */
  reauthenticate(id: string, next: Reauthentication, now = Date.now()): boolean {
    return this.transaction(() => {
      const old = this.db.prepare('SELECT cert_serial FROM sessions WHERE id = ? AND ended_at IS NULL').get(id);
      if (!isRecord(old)) return false;
      this.db
        .prepare('INSERT OR IGNORE INTO revoked_serials (serial, revoked_at, reason, session_id) VALUES (?, ?, ?, ?)')
        .run(text(old.cert_serial), now, 'reauthenticated', id);
      this.db
        .prepare(
          `UPDATE sessions SET cert_serial = ?, token_hash = ?, wipe_receipt_hash = ?, absolute_deadline = ?, period_started = ?,
                               last_activity = MAX(COALESCE(last_activity, 0), ?), renewals = 0, warned_absolute = 0 WHERE id = ?`,
        )
        .run(normalizeSerial(next.certSerial), sha256Hex(next.token), sha256Hex(next.wipeReceipt), next.absoluteDeadline, now, now, id);
      return true;
    });
  }

  /**
   * Records the client's confirmation that it wiped the session's credentials, if `receipt`
   * matches the one issued at sign-in. 'first' the first time, 'again' for a repeat, 'rejected'
   * for an unknown session or a wrong receipt.
   */
  confirmWipe(id: string, receipt: string, now = Date.now()): { result: 'first' | 'again' | 'rejected'; session?: SessionRow } {
    const session = this.getSession(id);
    if (!session?.wipeReceiptHash || !tokenMatches(receipt, session.wipeReceiptHash)) return { result: 'rejected' };
    if (session.wipedAt !== null) return { result: 'again', session };
    this.db.prepare('UPDATE sessions SET wiped_at = ? WHERE id = ? AND wiped_at IS NULL').run(now, id);
    return { result: 'first', session };
  }

  /** Marks a wipe reported over the tunnel (no receipt needed: the tunnel is authenticated). */
  markWiped(id: string, now = Date.now()): boolean {
    return this.db.prepare('UPDATE sessions SET wiped_at = ? WHERE id = ? AND wiped_at IS NULL').run(now, id).changes === 1;
  }

  revokeSerial(serial: string, reason: string, now = Date.now()): void {
    this.db.prepare('INSERT OR IGNORE INTO revoked_serials (serial, revoked_at, reason) VALUES (?, ?, ?)').run(normalizeSerial(serial), now, reason);
  }

  private transaction<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  isRevoked(serial: string): boolean {
    return this.db.prepare('SELECT 1 AS one FROM revoked_serials WHERE serial = ?').get(normalizeSerial(serial)) !== undefined;
  }
}

/** Timing-safe comparison of a presented bearer token with a session's stored digest. */
export function tokenMatches(token: string, tokenHash: string): boolean {
  const presented = Buffer.from(sha256Hex(token), 'hex');
  const stored = Buffer.from(tokenHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
