/**
 * The session lifecycle events the proxy audits, and their OCSF shape. README.md in this folder
 * has the mapping table. Session ids never appear in clear: a SIEM correlates the lines of one
 * session by `session.uid_hash`, an HMAC-SHA256 of the id under a per-proxy secret salt, so a
 * leaked audit file does not hand out live session ids and two proxies' files cannot be joined.
 */
import { createHash } from 'node:crypto';
import type { EndReason } from '../../common/closeCodes.ts';
import type { ErrorCode } from '../../common/errors.ts';
import { LatchError, ErrorCode as Codes } from '../../common/errors.ts';
import type { DeadlineKind } from '../../common/session.ts';

/** The OCSF schema version the records follow. */
export const OCSF_VERSION = '1.3.0';

/** Shortest salt we accept: 128 bits (AuditSalt.ts creates 256). */
export const MIN_SALT_BYTES = 16;

export interface Endpoint {
  ip: string;
  port?: number;
}

interface EventBase {
  /** Epoch milliseconds; defaults to the shaper's clock. */
  time?: number;
  /** The client's address as the proxy saw it. */
  src?: Endpoint;
}

interface SessionEventBase extends EventBase {
  user: string;
  sessionId: string;
}

export interface SessionStartedEvent extends SessionEventBase {
  type: 'session.started';
  method?: 'password' | 'enrollment';
  device?: string;
  /** Epoch ms of the absolute deadline. */
  expiresAt?: number;
}

export interface SessionWarningEvent extends SessionEventBase {
  type: 'session.warning';
  deadline: DeadlineKind;
  remainingMs: number;
}

export interface SessionRenewedEvent extends SessionEventBase {
  type: 'session.renewed';
  /** Renewals used so far, this one included. */
  renewals: number;
  maxRenewals?: number;
}

export interface SessionEndedEvent extends SessionEventBase {
  type: 'session.ended';
  reason: EndReason;
  /** Who or what ended it, e.g. `admin` for `latch-proxy end`. */
  by?: string;
}

export interface SessionReauthenticatedEvent extends SessionEventBase {
  type: 'session.reauthenticated';
  /** Epoch ms of the new absolute deadline. */
  expiresAt?: number;
}

export interface ConnectionOpenedEvent extends SessionEventBase {
  type: 'connection.opened';
  resourceId: string;
  group?: string;
  /** The multiplexer stream id, to pair with connection.closed. */
  streamId?: number;
}

export interface ConnectionClosedEvent extends SessionEventBase {
  type: 'connection.closed';
  resourceId: string;
  group?: string;
  streamId?: number;
  /** Bytes from the target to the client (OCSF traffic.bytes_in: destination → source). */
  bytesIn?: number;
  /** Bytes from the client to the target (OCSF traffic.bytes_out: source → destination). */
  bytesOut?: number;
  durationMs?: number;
}

/** Reported by the client after it deleted the session's keychain items. */
export interface CredentialsWipedEvent extends SessionEventBase {
  type: 'credentials.wiped';
  items: number;
}

export interface AuthFailedEvent extends EventBase {
  type: 'auth.failed';
  /** The user name that was tried, if any. */
  user?: string;
  /** Set when an existing session's certificate or token was refused. */
  sessionId?: string;
  code: ErrorCode;
  method?: 'password' | 'enrollment' | 'certificate' | 'token';
}

export type AuditEvent =
  | SessionStartedEvent
  | SessionWarningEvent
  | SessionRenewedEvent
  | SessionEndedEvent
  | SessionReauthenticatedEvent
  | ConnectionOpenedEvent
  | ConnectionClosedEvent
  | CredentialsWipedEvent
  | AuthFailedEvent;

export type AuditEventType = AuditEvent['type'];

export const AUDIT_EVENT_TYPES: readonly AuditEventType[] = [
  'session.started',
  'session.warning',
  'session.renewed',
  'session.ended',
  'session.reauthenticated',
  'connection.opened',
  'connection.closed',
  'credentials.wiped',
  'auth.failed',
];

/** OCSF enumerations used here (schema 1.3.0). */
export const OcsfClass = {
  AUTHENTICATION: { uid: 3002, name: 'Authentication', category_uid: 3, category_name: 'Identity & Access Management' },
  TUNNEL_ACTIVITY: { uid: 4014, name: 'Tunnel Activity', category_uid: 4, category_name: 'Network Activity' },
} as const;

export const Severity = { INFORMATIONAL: 1, LOW: 2, MEDIUM: 3 } as const;
const SEVERITY_NAMES: Readonly<Record<number, string>> = { 1: 'Informational', 2: 'Low', 3: 'Medium' };

export const Status = { SUCCESS: 1, FAILURE: 2 } as const;
const STATUS_NAMES: Readonly<Record<number, string>> = { 1: 'Success', 2: 'Failure' };

const AUTH_ACTIVITY_NAMES: Readonly<Record<number, string>> = { 1: 'Logon', 2: 'Logoff', 99: 'Other' };
const TUNNEL_ACTIVITY_NAMES: Readonly<Record<number, string>> = { 1: 'Open', 2: 'Close', 99: 'Other' };

/** One audit record, before the log adds `seq` and `prev_hash`. */
export interface OcsfRecord {
  time: number;
  time_dt: string;
  class_uid: number;
  class_name: string;
  category_uid: number;
  category_name: string;
  activity_id: number;
  activity_name: string;
  type_uid: number;
  type_name: string;
  severity_id: number;
  severity: string;
  status_id: number;
  status: string;
  status_code?: string;
  message: string;
  actor: { user: { name: string } };
  user: { name: string };
  src_endpoint?: Endpoint;
  dst_endpoint?: { name: string };
  session?: { uid_hash: string; expiration_time?: number; expiration_time_dt?: string };
  traffic?: { bytes_in?: number; bytes_out?: number };
  duration?: number;
  metadata: { version: string; product: { name: 'Latch'; vendor_name: 'Latch'; version?: string } };
  unmapped: { latch_event: AuditEventType; reason?: string; [key: string]: string | number | undefined };
}

export interface ShapeOptions {
  /** The per-proxy secret salt for session id hashes (at least MIN_SALT_BYTES). */
  salt: Uint8Array;
  /** Clock for events without `time`. */
  now?: () => number;
  /** The proxy's version, recorded as metadata.product.version. */
  productVersion?: string;
}

type Hasher = (sessionId: string) => string;

/** Session hashes remembered per salt (bounded; cleared when full). */
const RECENT_SESSION_HASHES = 4096;

/** Per salt object: node:crypto's createHmac costs ~80 µs per call here, mostly key set-up. */
const hashers = new WeakMap<Uint8Array, Hasher>();

/**
 * HMAC-SHA256 (RFC 2104) with the key pads hashed once: each call copies the two primed SHA-256
 * states instead of setting up a new HMAC key, a third of the cost. Appends sit on the proxy's
 * event path, and a mass revocation audits thousands of sessions in one tick.
 */
function makeHasher(salt: Uint8Array): Hasher {
  const key = salt.length > 64 ? createHash('sha256').update(salt).digest() : salt;
  const ipad = Buffer.alloc(64, 0x36);
  const opad = Buffer.alloc(64, 0x5c);
  for (let i = 0; i < key.length; i++) {
    ipad[i] = (ipad[i] ?? 0) ^ (key[i] ?? 0);
    opad[i] = (opad[i] ?? 0) ^ (key[i] ?? 0);
  }
  const inner = createHash('sha256').update(ipad);
  const outer = createHash('sha256').update(opad);
  // A session is audited many times (each connection opens and closes): remember recent answers.
  const recent = new Map<string, string>();
  return (sessionId) => {
    const known = recent.get(sessionId);
    if (known !== undefined) return known;
    const value = outer.copy().update(inner.copy().update(sessionId, 'utf8').digest()).digest('hex');
    if (recent.size >= RECENT_SESSION_HASHES) recent.clear();
    recent.set(sessionId, value);
    return value;
  };
}

/** HMAC-SHA256 of the session id under the salt, lowercase hex. */
export function sessionHash(sessionId: string, salt: Uint8Array): string {
  let hasher = hashers.get(salt);
  if (!hasher) {
    if (salt.length < MIN_SALT_BYTES) {
      throw new LatchError(Codes.CONFIG, `audit salt must be at least ${MIN_SALT_BYTES} bytes, got ${salt.length}`);
    }
    // The pads are derived from the salt's bytes once; a salt is a constant of the proxy.
    hasher = makeHasher(salt);
    hashers.set(salt, hasher);
  }
  return hasher(sessionId);
}

/** The user name shown when an event has none (a failed sign-in with a malformed body). */
const UNKNOWN_USER = '(unknown)';

interface Mapping {
  cls: (typeof OcsfClass)[keyof typeof OcsfClass];
  activity: number;
  severity: number;
  status: number;
  message: string;
}

const REASON_TEXT: Readonly<Record<EndReason, string>> = {
  idle: 'idle timeout reached',
  absolute: 'maximum session duration reached',
  revoked: 'revoked by an administrator or policy',
  logout: 'signed out by the user',
  replaced: 'replaced by a newer session',
  error: 'ended by an error',
};

function mapEvent(event: AuditEvent): Mapping {
  const A = OcsfClass.AUTHENTICATION;
  const T = OcsfClass.TUNNEL_ACTIVITY;
  const info = Severity.INFORMATIONAL;
  const ok = Status.SUCCESS;
  switch (event.type) {
    case 'session.started':
      return { cls: A, activity: 1, severity: info, status: ok, message: `session started for ${event.user}` };
    case 'session.reauthenticated':
      return { cls: A, activity: 1, severity: info, status: ok, message: `${event.user} signed in again; the session's absolute deadline moved` };
    case 'session.warning':
      return {
        cls: A, activity: 99, severity: info, status: ok,
        message: `${event.deadline === 'idle' ? 'idle' : 'absolute'} deadline in ${Math.round(event.remainingMs / 1000)} s for ${event.user}`,
      };
    case 'session.renewed':
      return { cls: A, activity: 99, severity: info, status: ok, message: `session renewed by ${event.user} (renewal ${event.renewals})` };
    case 'session.ended':
      return {
        cls: A, activity: 2,
        severity: event.reason === 'revoked' || event.reason === 'error' ? Severity.MEDIUM : info,
        status: event.reason === 'error' ? Status.FAILURE : ok,
        message: `session of ${event.user} ended: ${REASON_TEXT[event.reason]}`,
      };
    case 'credentials.wiped':
      return { cls: A, activity: 99, severity: info, status: ok, message: `client of ${event.user} wiped ${event.items} stored credential item(s)` };
    case 'auth.failed':
      return { cls: A, activity: 1, severity: Severity.MEDIUM, status: Status.FAILURE, message: `authentication failed for ${event.user ?? UNKNOWN_USER}: ${event.code}` };
    case 'connection.opened':
      return { cls: T, activity: 1, severity: info, status: ok, message: `${event.user} opened a connection to ${event.resourceId}` };
    case 'connection.closed':
      return { cls: T, activity: 2, severity: info, status: ok, message: `${event.user}'s connection to ${event.resourceId} closed` };
  }
}

function isoUtc(ms: number): string {
  return new Date(ms).toISOString();
}

/** Shapes one event into its OCSF record. Pure apart from the clock. */
export function toOcsfRecord(event: AuditEvent, options: ShapeOptions): OcsfRecord {
  const time = event.time ?? (options.now ?? Date.now)();
  const m = mapEvent(event);
  const activityNames = m.cls.uid === OcsfClass.AUTHENTICATION.uid ? AUTH_ACTIVITY_NAMES : TUNNEL_ACTIVITY_NAMES;
  const activityName = activityNames[m.activity] ?? 'Other';
  const userName = event.user ?? UNKNOWN_USER;

  const record: OcsfRecord = {
    time,
    time_dt: isoUtc(time),
    class_uid: m.cls.uid,
    class_name: m.cls.name,
    category_uid: m.cls.category_uid,
    category_name: m.cls.category_name,
    activity_id: m.activity,
    activity_name: activityName,
    type_uid: m.cls.uid * 100 + m.activity,
    type_name: `${m.cls.name}: ${activityName}`,
    severity_id: m.severity,
    severity: SEVERITY_NAMES[m.severity] ?? 'Other',
    status_id: m.status,
    status: STATUS_NAMES[m.status] ?? 'Other',
    message: m.message,
    actor: { user: { name: userName } },
    user: { name: userName },
    metadata: {
      version: OCSF_VERSION,
      product: options.productVersion === undefined
        ? { name: 'Latch', vendor_name: 'Latch' }
        : { name: 'Latch', vendor_name: 'Latch', version: options.productVersion },
    },
    unmapped: { latch_event: event.type },
  };
  if (event.src) record.src_endpoint = { ...event.src };
  if (event.sessionId !== undefined) record.session = { uid_hash: sessionHash(event.sessionId, options.salt) };

  switch (event.type) {
    case 'session.started':
    case 'session.reauthenticated':
      if (event.expiresAt !== undefined && record.session) {
        record.session.expiration_time = event.expiresAt;
        record.session.expiration_time_dt = isoUtc(event.expiresAt);
      }
      if (event.type === 'session.started') {
        if (event.method !== undefined) record.unmapped.method = event.method;
        if (event.device !== undefined) record.unmapped.device = event.device;
      }
      break;
    case 'session.warning':
      record.unmapped.deadline = event.deadline;
      record.unmapped.remaining_ms = event.remainingMs;
      break;
    case 'session.renewed':
      record.unmapped.renewals = event.renewals;
      if (event.maxRenewals !== undefined) record.unmapped.max_renewals = event.maxRenewals;
      break;
    case 'session.ended':
      record.unmapped.reason = event.reason;
      if (event.by !== undefined) record.unmapped.ended_by = event.by;
      break;
    case 'credentials.wiped':
      record.unmapped.items = event.items;
      break;
    case 'auth.failed':
      record.status_code = event.code;
      record.unmapped.reason = event.code;
      if (event.method !== undefined) record.unmapped.method = event.method;
      break;
    case 'connection.opened':
    case 'connection.closed':
      record.dst_endpoint = { name: event.resourceId };
      if (event.group !== undefined) record.unmapped.resource_group = event.group;
      if (event.streamId !== undefined) record.unmapped.stream_id = event.streamId;
      if (event.type === 'connection.closed') {
        if (event.bytesIn !== undefined || event.bytesOut !== undefined) {
          record.traffic = {};
          if (event.bytesIn !== undefined) record.traffic.bytes_in = event.bytesIn;
          if (event.bytesOut !== undefined) record.traffic.bytes_out = event.bytesOut;
        }
        if (event.durationMs !== undefined) record.duration = event.durationMs;
      }
      break;
  }
  return record;
}
