import { EventEmitter } from 'node:events';
import type { EndReason } from '../common/closeCodes.ts';
import type { SessionEndedMessage, SessionStateMessage, SessionWarningMessage } from '../common/session.ts';
import type { AuditEvent, AuditLog, Endpoint } from './audit/index.ts';
import type { Logger } from './logger.ts';
import type { LoginResult } from './LoginService.ts';
import { systemClock } from './session/Clock.ts';
import type { Clock } from './session/Clock.ts';
import type { PolicySet } from './session/Policy.ts';
import { SessionTimers, describeEnd } from './session/SessionTimers.ts';
import type { ActivityReport, SessionSnapshot } from './session/SessionTimers.ts';
import type { Store } from './Store.ts';

/**
 * The proxy's authority over session lifetimes: one SessionTimers for every live session, its
 * state written to the store (in batches, one transaction each), every lifecycle event written
 * to the audit trail. The network face (ProxyServer) listens to `state`, `warning` and `ended`
 * and forwards them to the session's tunnel; it never decides a deadline itself.
 */

export type SessionManagerEvents = {
  /** The deadlines or policy changed: the client's copy must follow (it fails closed on it). */
  state: [id: string, message: SessionStateMessage];
  warning: [id: string, message: SessionWarningMessage];
  /** The session ended (durably, certificate revoked, audited): close its tunnel with the reason. */
  ended: [id: string, message: SessionEndedMessage];
};

export interface SessionManagerOptions {
  store: Store;
  policies: PolicySet;
  audit: AuditLog;
  log: Logger;
  clock?: Clock;
}

/** One row of `latch-proxy sessions`. */
export interface SessionListing {
  sessionId: string;
  user: string;
  groups: string[];
  idleRemainingMs: number;
  absoluteRemainingMs: number;
  renewals: number;
  maxRenewals: number;
  idleTimeoutMs: number;
  maxDurationMs: number;
  /** Epoch ms of the sign-in. */
  startedAt: number;
}

/** Who ended a session, for `session.ended`'s `ended_by`. */
export type EndedBy = 'user' | 'admin' | 'proxy';

export class SessionManager extends EventEmitter<SessionManagerEvents> {
  readonly timers: SessionTimers;
  private readonly store: Store;
  private readonly audit: AuditLog;
  private readonly log: Logger;
  private readonly clock: Clock;
  /** Set just before timers.end() so the `ended` handler can audit who did it. */
  private readonly endedBy = new Map<string, EndedBy>();
  private closed = false;

  constructor(options: SessionManagerOptions) {
    super();
    this.store = options.store;
    this.audit = options.audit;
    this.log = options.log;
    this.clock = options.clock ?? systemClock;
    this.timers = new SessionTimers({
      clock: this.clock,
      policies: options.policies,
      persist: (batch) => this.store.persistTimers(batch),
      onError: (err) => this.log.error('timers.error', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    });
    this.timers.on('state', (id) => this.emit('state', id, this.timers.state(id)));
    this.timers.on('warning', (id, kind, remainingMs, canRenew) => {
      const s = this.timers.get(id);
      if (s) this.record({ type: 'session.warning', user: s.user, sessionId: id, deadline: kind, remainingMs });
      this.log.info('session.warning', { session: id, kind, remainingMs });
      this.emit('warning', id, { type: 'session.warning', kind, remainingMs, canRenew });
    });
    this.timers.on('ended', (id, reason, snapshot) => this.onEnded(id, reason, snapshot));
  }

  /**
   * Start-up: audits ends the admin CLI made while serve was down, then brings every live
   * session back with its stored deadlines. Sessions whose deadline passed meanwhile end now,
   * with their reason (idle or absolute). Returns how many are live and how many ended.
   */
  restore(): { live: number; ended: number } {
    for (const row of this.store.takeUnauditedEnds()) {
      const reason = (row.endReason ?? 'revoked') as EndReason;
      this.record({ type: 'session.ended', user: row.user, sessionId: row.id, reason, by: 'admin', ...(row.endedAt === null ? {} : { time: row.endedAt }) });
      this.log.info('session.ended', { session: row.id, user: row.user, reason, by: 'admin', while: 'stopped' });
    }
    let live = 0;
    let ended = 0;
    for (const row of this.store.listSessions()) {
      const snapshot = this.timers.add({
        id: row.id,
        user: row.user,
        startedAt: row.created,
        periodStartedAt: row.periodStartedAt,
        absoluteDeadline: row.absoluteDeadline,
        ...(row.idleDeadline === null ? {} : { idleDeadline: row.idleDeadline }),
        ...(row.lastActivityAt === null ? {} : { lastActivityAt: row.lastActivityAt }),
        renewals: row.renewals,
        groups: row.groups,
        warnedIdle: row.warnedIdle,
        warnedAbsolute: row.warnedAbsolute,
      });
      if (snapshot.endReason === null) live++;
      else ended++;
    }
    return { live, ended };
  }

  /** A new sign-in: audit it, then start its timers. False if it could not be audited (the caller refuses the sign-in). */
  started(result: LoginResult, src: Endpoint | undefined): boolean {
    const { response } = result;
    const audited = this.record({
      type: 'session.started',
      user: response.user,
      sessionId: response.sessionId,
      method: result.method,
      expiresAt: result.absoluteDeadline,
      ...(result.device === undefined ? {} : { device: result.device }),
      ...(src ? { src } : {}),
    });
    this.timers.add({ id: response.sessionId, user: response.user, startedAt: result.createdAt, absoluteDeadline: result.absoluteDeadline });
    if (!audited) this.end(response.sessionId, 'error', 'proxy');
    return audited;
  }

  /** The same user signed in again in place: a fresh absolute period; the new state goes to the client. */
  reauthenticated(result: LoginResult, src: Endpoint | undefined): SessionStateMessage | undefined {
    const { response } = result;
    this.record({ type: 'session.reauthenticated', user: response.user, sessionId: response.sessionId, expiresAt: result.absoluteDeadline, ...(src ? { src } : {}) });
    return this.timers.reauthenticated(response.sessionId, result.absoluteDeadline);
  }

  /** An explicit Renew. Throws RENEWAL_LIMIT past maxRenewals, SESSION_ENDED if not live. */
  renew(id: string, src?: Endpoint): SessionStateMessage {
    const state = this.timers.renew(id);
    const s = this.timers.get(id);
    if (s) this.record({ type: 'session.renewed', user: s.user, sessionId: id, renewals: s.renewals, maxRenewals: s.policy.maxRenewals, ...(src ? { src } : {}) });
    return state;
  }

  activity(id: string, report: ActivityReport): boolean {
    if (!this.timers.has(id)) return false;
    return this.timers.activity(id, report);
  }

  /** The session opens a resource of `group`; false when the tightened policy ended it. */
  openedGroup(id: string, group: string): boolean {
    if (!this.timers.has(id)) return false;
    return this.timers.openedGroup(id, group) !== undefined;
  }

  traffic(id: string): void {
    this.timers.traffic(id);
  }

  state(id: string): SessionStateMessage {
    return this.timers.state(id);
  }

  has(id: string): boolean {
    return this.timers.has(id);
  }

  /**
   * Ends a session with a reason. A session the timers do not hold (e.g. a stale row) is ended
   * in the store and audited directly. False if it was not live.
   */
  end(id: string, reason: EndReason, by: EndedBy): boolean {
    if (this.timers.has(id)) {
      this.endedBy.set(id, by);
      return this.timers.end(id, reason);
    }
    const row = this.store.getSession(id);
    if (!row || row.endedAt !== null) return false;
    if (!this.store.endSession(id, reason, this.clock.now())) return false;
    this.record({ type: 'session.ended', user: row.user, sessionId: id, reason, by });
    this.log.info('session.ended', { session: id, user: row.user, reason, by });
    return true;
  }

  /** Ends every live session of a user; returns their ids. */
  endUser(user: string, reason: EndReason, by: EndedBy): string[] {
    const ids = new Set(this.timers.sessionsOf(user));
    for (const row of this.store.listSessions()) if (row.user === user) ids.add(row.id);
    return [...ids].filter((id) => this.end(id, reason, by));
  }

  /** The live session whose id is `idOrPrefix`, or the only one starting with it (8+ characters). */
  resolve(idOrPrefix: string): string | undefined {
    if (this.timers.has(idOrPrefix)) return idOrPrefix;
    if (idOrPrefix.length < 8) return undefined;
    const matches = this.timers.snapshot().filter((s) => s.id.startsWith(idOrPrefix));
    return matches.length === 1 ? matches[0]?.id : undefined;
  }

  list(): SessionListing[] {
    const now = this.clock.now();
    return this.timers
      .snapshot()
      .sort((a, b) => a.startedAt - b.startedAt)
      .map((s) => listing(s, now));
  }

  /** The client confirmed its wipe (over the tunnel, or POST /v1/wiped with the receipt). */
  wiped(id: string, user: string, items: number, src?: Endpoint): void {
    this.record({ type: 'credentials.wiped', user, sessionId: id, items, ...(src ? { src } : {}) });
    this.log.info('credentials.wiped', { session: id, user, items });
  }

  /** Appends to the audit trail; false (and an error log line) if the trail cannot be written. */
  record(event: AuditEvent): boolean {
    if (this.closed) return false;
    try {
      this.audit.append(event);
      return true;
    } catch (err) {
      this.log.error('audit.append_failed', { event: event.type, error: err instanceof Error ? err.message : String(err) });
      return false;
    }
  }

  /** Stops the timers (sessions stay live in the store) and flushes their state. */
  close(): void {
    if (this.closed) return;
    this.timers.close();
    this.closed = true;
  }

  private onEnded(id: string, reason: EndReason, snapshot: SessionSnapshot): void {
    const by = this.endedBy.get(id) ?? (reason === 'logout' ? 'user' : 'proxy');
    this.endedBy.delete(id);
    try {
      this.store.endSession(id, reason, snapshot.endedAt ?? this.clock.now());
    } catch (err) {
      // The timers have let go of it; the tunnel below still closes. The row stays live and
      // is ended again (by its deadline) at the next start.
      this.log.error('store.end_failed', { session: id, reason, error: String(err) });
    }
    this.record({ type: 'session.ended', user: snapshot.user, sessionId: id, reason, by });
    this.log.info('session.ended', { session: id, user: snapshot.user, reason, by });
    this.emit('ended', id, { type: 'session.ended', reason, message: describeEnd(reason, snapshot.policy) });
  }
}

function listing(s: SessionSnapshot, now: number): SessionListing {
  return {
    sessionId: s.id,
    user: s.user,
    groups: [...s.groups],
    idleRemainingMs: Math.max(0, s.idleDeadline - now),
    absoluteRemainingMs: Math.max(0, s.absoluteDeadline - now),
    renewals: s.renewals,
    maxRenewals: s.policy.maxRenewals,
    idleTimeoutMs: s.policy.idleTimeoutMs,
    maxDurationMs: s.policy.maxDurationMs,
    startedAt: s.startedAt,
  };
}
