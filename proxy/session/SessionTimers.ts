import { EventEmitter } from 'node:events';
import type { EndReason } from '../../common/closeCodes.ts';
import { ErrorCode, LatchError } from '../../common/errors.ts';
import type { DeadlineKind, EffectivePolicy, SessionStateMessage } from '../../common/session.ts';
import type { Clock } from './Clock.ts';
import { DeadlineScheduler } from './DeadlineScheduler.ts';
import type { DeadlineSchedulerOptions, LatenessReport } from './DeadlineScheduler.ts';
import { DEFAULT_POLICY, effectivePolicy, strictest } from './Policy.ts';
import type { Policy, PolicySet } from './Policy.ts';

/**
 * The authority for every live session's deadlines (DESIGN.md, "Session semantics"). Each
 * session has an absolute deadline (its sign-in period, moved only by re-authentication) and an
 * idle deadline (last activity + idle timeout, never past the absolute one). Warnings go out at
 * deadline − warnBefore, once per deadline; the session ends exactly once, at the deadline,
 * with reason 'idle' or 'absolute'. One heap entry per session, at its next event, drives
 * everything through a single real timer.
 *
 * Wall-clock milliseconds throughout: the deadlines are persisted and must mean the same after
 * a restart. Nothing here talks to the network or the store; the owner listens to the events
 * and writes the `persist` batches.
 */

export interface NewTimedSession {
  id: string;
  user: string;
  startedAt: number;
  absoluteDeadline: number;
  /** Restored sessions: the persisted idle deadline (used when lastActivityAt is absent). */
  idleDeadline?: number;
  lastActivityAt?: number;
  renewals?: number;
  /** Resource groups already opened (restored sessions keep the policy they were bound by). */
  groups?: readonly string[];
  /** Start of the current absolute period (re-authentication starts a new one). */
  periodStartedAt?: number;
  warnedIdle?: boolean;
  warnedAbsolute?: boolean;
}

/** Everything needed to list a session or bring it back after a restart. */
export interface SessionSnapshot {
  id: string;
  user: string;
  startedAt: number;
  periodStartedAt: number;
  absoluteDeadline: number;
  lastActivityAt: number;
  idleDeadline: number;
  renewals: number;
  warnedIdle: boolean;
  warnedAbsolute: boolean;
  locked: boolean;
  groups: string[];
  policy: EffectivePolicy;
  /** Set only in the final snapshot of an ended session (the `ended` event and `persist`). */
  endedAt: number | null;
  endReason: EndReason | null;
}

export interface ActivityReport {
  /** Milliseconds since the last OS input, as the client measured it. */
  idleMs: number;
  locked: boolean;
}

export type SessionTimersEvents = {
  /** deadline − warnBefore was reached for this deadline; sent once per deadline. */
  warning: [id: string, kind: DeadlineKind, remainingMs: number, canRenew: boolean];
  /** The deadlines or the policy in effect changed; send the client a fresh session.state. */
  state: [id: string];
  /** Exactly once per session. The snapshot is the final state (endedAt/endReason set). */
  ended: [id: string, reason: EndReason, session: SessionSnapshot];
};

export interface SessionTimersOptions {
  clock: Clock;
  /** The default policy and the per-group ones (see parsePolicies). */
  policies: PolicySet;
  /**
   * Activity that moves the last input time forward by less than this is ignored. Clients
   * report idle time in whole seconds on some OSes (Electron's getSystemIdleTime), so without
   * it every report would jitter the deadline, re-persist and re-send the state. Ignoring a
   * small move can only make the deadline earlier than the truth, never later.
   */
  activityGranularityMs: number;
  /** Receives the sessions that changed since the last call, batched per turn of the event loop. */
  persist: ((sessions: SessionSnapshot[]) => void) | null;
  /** An event listener or the persist hook threw; the timers carry on. */
  onError: (err: unknown) => void;
  scheduler: Partial<DeadlineSchedulerOptions>;
}

export function defaultOptions(clock: Clock): SessionTimersOptions {
  return {
    clock,
    policies: { defaultPolicy: { ...DEFAULT_POLICY }, groups: new Map() },
    activityGranularityMs: 1_000,
    persist: null,
    onError: () => {},
    scheduler: {},
  };
}

export function validateOptions(options: SessionTimersOptions): SessionTimersOptions {
  const g = options.activityGranularityMs;
  if (!Number.isFinite(g) || g < 0 || g > 60_000) {
    throw new LatchError(ErrorCode.CONFIG, `activityGranularityMs must be between 0 and 60000 (got ${g})`);
  }
  return options;
}

interface LiveSession {
  readonly id: string;
  readonly user: string;
  readonly startedAt: number;
  periodStartedAt: number;
  absoluteDeadline: number;
  lastActivityAt: number;
  idleDeadline: number;
  renewals: number;
  warnedIdle: boolean;
  warnedAbsolute: boolean;
  locked: boolean;
  /** Sorted, unique. Shared with the policy cache key; never mutated in place. */
  groups: readonly string[];
  /** Shared between sessions with the same groups; never mutated. */
  policy: Readonly<EffectivePolicy>;
}

interface PendingWarning {
  kind: DeadlineKind;
  remainingMs: number;
  canRenew: boolean;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

export class SessionTimers extends EventEmitter<SessionTimersEvents> {
  private readonly options: SessionTimersOptions;
  private readonly clock: Clock;
  private readonly sessions = new Map<string, LiveSession>();
  private readonly scheduler: DeadlineScheduler<string>;
  private readonly policyCache = new Map<string, Readonly<EffectivePolicy>>();
  private readonly dirty = new Set<string>();
  private readonly endedDirty: SessionSnapshot[] = [];
  private flushQueued = false;
  /** The final snapshot of the session that ended last (add() returns it for a restored one). */
  private lastEnded: SessionSnapshot | undefined;

  constructor(options: Partial<SessionTimersOptions> & { clock: Clock }) {
    super();
    this.options = validateOptions({ ...defaultOptions(options.clock), ...options });
    this.clock = this.options.clock;
    this.scheduler = new DeadlineScheduler<string>(this.clock, (id) => this.onDue(id), {
      onError: (err) => this.options.onError(err),
      ...this.options.scheduler,
    });
  }

  get size(): number {
    return this.sessions.size;
  }

  has(id: string): boolean {
    return this.sessions.has(id);
  }

  /**
   * Starts tracking a session (a new sign-in, or one restored after a restart). A restored
   * session whose deadline already passed ends at once: 'absolute' if its absolute deadline
   * passed, else 'idle'. Returns the snapshot (endReason set when it ended at once).
   */
  add(input: NewTimedSession): SessionSnapshot {
    if (typeof input.id !== 'string' || input.id === '') throw new LatchError(ErrorCode.BAD_REQUEST, 'session id must be a non-empty string');
    if (typeof input.user !== 'string') throw new LatchError(ErrorCode.BAD_REQUEST, 'session user must be a string');
    for (const key of ['startedAt', 'absoluteDeadline', 'idleDeadline', 'lastActivityAt', 'periodStartedAt', 'renewals'] as const) {
      const v = input[key];
      if (v !== undefined && !isFiniteNumber(v)) throw new LatchError(ErrorCode.BAD_REQUEST, `session ${key} must be a finite number`);
    }
    if (this.sessions.has(input.id)) throw new LatchError(ErrorCode.BAD_REQUEST, `session ${input.id} is already tracked`);

    const now = this.clock.now();
    const groups = [...new Set(input.groups ?? [])].sort();
    const policy = this.policyFor(groups);
    const periodStartedAt = input.periodStartedAt ?? input.startedAt;
    const absoluteDeadline = Math.min(input.absoluteDeadline, periodStartedAt + policy.maxDurationMs);
    const lastActivityAt = Math.min(
      now,
      input.lastActivityAt ?? (input.idleDeadline !== undefined ? input.idleDeadline - policy.idleTimeoutMs : input.startedAt),
    );
    const s: LiveSession = {
      id: input.id,
      user: input.user,
      startedAt: input.startedAt,
      periodStartedAt,
      absoluteDeadline,
      lastActivityAt,
      idleDeadline: 0,
      renewals: Math.max(0, Math.floor(input.renewals ?? 0)),
      warnedIdle: input.warnedIdle ?? false,
      warnedAbsolute: input.warnedAbsolute ?? false,
      locked: false,
      groups,
      policy,
    };
    this.recompute(s, now);
    this.sessions.set(s.id, s);
    this.markDirty(s);
    if (this.evaluate(s)) return this.snapshotOf(s);
    return this.lastEnded?.id === s.id ? this.lastEnded : { ...this.snapshotOf(s), endedAt: now, endReason: 'error' };
  }

  /**
   * The session opened a resource of `group`: the policy in effect becomes the strictest of
   * the default and every group opened so far, and the deadlines shrink to match. If the new
   * idle or absolute deadline has already passed, the session ends now. Returns the new state,
   * or undefined when the session ended.
   */
  openedGroup(id: string, group: string): SessionStateMessage | undefined {
    const s = this.live(id);
    if (s.groups.includes(group)) return this.stateOf(s);
    s.groups = [...s.groups, group].sort();
    s.policy = this.policyFor(s.groups);
    s.absoluteDeadline = Math.min(s.absoluteDeadline, s.periodStartedAt + s.policy.maxDurationMs);
    return this.changed(s) ? this.stateOf(s) : undefined;
  }

  /**
   * An activity report from the client. Input `idleMs` ago moves the last activity forward
   * (never backward). A locked screen counts as no input, or ends the session ('idle') when
   * the policy says onLock: end. Returns false when the session ended.
   */
  activity(id: string, report: ActivityReport): boolean {
    const s = this.live(id);
    if (!isFiniteNumber(report.idleMs) || report.idleMs < 0) throw new LatchError(ErrorCode.BAD_REQUEST, 'idleMs must be a finite number >= 0');
    const now = this.clock.now();
    if (report.locked) {
      if (s.policy.onLock === 'end') {
        this.finish(s, 'idle', now);
        return false;
      }
      s.locked = true;
      return true;
    }
    s.locked = false;
    return this.touch(s, now - report.idleMs, now);
  }

  /**
   * Tunnel traffic for the session. Counts as activity only under `activity: input+traffic`
   * and not while the screen is locked. Cheap when it does not count: call it per chunk.
   */
  traffic(id: string): boolean {
    const s = this.sessions.get(id);
    if (!s || s.locked || s.policy.activity !== 'input+traffic') return false;
    const now = this.clock.now();
    if (now - s.lastActivityAt < this.options.activityGranularityMs) return false;
    this.touch(s, now, now);
    return true;
  }

  /**
   * An explicit Renew: resets the idle clock. Bounded by maxRenewals (LATCH_ERR_RENEWAL_LIMIT
   * past it); never moves the absolute deadline.
   */
  renew(id: string): SessionStateMessage {
    const s = this.live(id);
    if (s.renewals >= s.policy.maxRenewals) {
      throw new LatchError(ErrorCode.RENEWAL_LIMIT, `renewal limit reached: ${s.policy.maxRenewals} renewal${s.policy.maxRenewals === 1 ? '' : 's'} per sign-in; sign in again to continue`);
    }
    const now = this.clock.now();
    s.renewals++;
    s.locked = false;
    s.lastActivityAt = Math.max(s.lastActivityAt, now);
    this.changed(s);
    return this.stateOf(s);
  }

  /**
   * The user signed in again before the absolute deadline: a fresh absolute period (capped by
   * the policy's maxDuration from now), a fresh idle clock and a fresh renewal budget.
   */
  reauthenticated(id: string, newAbsoluteDeadline: number): SessionStateMessage | undefined {
    const s = this.live(id);
    if (!isFiniteNumber(newAbsoluteDeadline)) throw new LatchError(ErrorCode.BAD_REQUEST, 'newAbsoluteDeadline must be a finite number');
    const now = this.clock.now();
    s.periodStartedAt = now;
    s.absoluteDeadline = Math.min(newAbsoluteDeadline, now + s.policy.maxDurationMs);
    s.lastActivityAt = Math.max(s.lastActivityAt, now);
    s.renewals = 0;
    s.locked = false;
    return this.changed(s) ? this.stateOf(s) : undefined;
  }

  /** Ends a live session (revoked, logout, replaced, error...). False if it was not live. */
  end(id: string, reason: EndReason): boolean {
    const s = this.sessions.get(id);
    if (!s) return false;
    this.finish(s, reason, this.clock.now());
    return true;
  }

  /** Ends every live session of a user; returns their ids. */
  endUser(user: string, reason: EndReason): string[] {
    const ids = this.sessionsOf(user);
    for (const id of ids) this.end(id, reason);
    return ids;
  }

  sessionsOf(user: string): string[] {
    const ids: string[] = [];
    for (const s of this.sessions.values()) if (s.user === user) ids.push(s.id);
    return ids;
  }

  /** The fields of a session.state message, remaining times as of now. */
  state(id: string): SessionStateMessage {
    return this.stateOf(this.live(id));
  }

  get(id: string): SessionSnapshot | undefined {
    const s = this.sessions.get(id);
    return s ? this.snapshotOf(s) : undefined;
  }

  /** Every live session, for persistence and the admin listing. */
  snapshot(): SessionSnapshot[] {
    return [...this.sessions.values()].map((s) => this.snapshotOf(s));
  }

  lateness(): LatenessReport {
    return this.scheduler.lateness();
  }

  /** Hands any pending changes to `persist` now. */
  flush(): void {
    this.flushQueued = false;
    const persist = this.options.persist;
    if (!persist) return;
    const batch: SessionSnapshot[] = this.endedDirty.splice(0);
    for (const id of this.dirty) {
      const s = this.sessions.get(id);
      if (s) batch.push(this.snapshotOf(s));
    }
    this.dirty.clear();
    if (batch.length === 0) return;
    try {
      persist(batch);
    } catch (err) {
      this.options.onError(err);
    }
  }

  /** Stops every timer (sessions stay as they are in the store) and flushes pending changes. */
  close(): void {
    this.scheduler.close();
    this.flush();
  }

  // Internals

  private live(id: string): LiveSession {
    const s = this.sessions.get(id);
    if (!s) throw new LatchError(ErrorCode.SESSION_ENDED, `session ${id} is not live`);
    return s;
  }

  private policyFor(groups: readonly string[]): Readonly<EffectivePolicy> {
    const key = groups.join('\n');
    let policy = this.policyCache.get(key);
    if (!policy) {
      const { defaultPolicy, groups: byGroup } = this.options.policies;
      // A group with no policy of its own (e.g. `default`) is bound by the default policy.
      const parts: (Policy & { groups: readonly string[] })[] = [{ ...defaultPolicy, groups: [] }];
      for (const g of groups) parts.push({ ...(byGroup.get(g) ?? defaultPolicy), groups: [g] });
      policy = groups.length === 0 ? effectivePolicy(defaultPolicy) : strictest(parts);
      Object.freeze(policy.groups);
      Object.freeze(policy);
      this.policyCache.set(key, policy);
    }
    return policy;
  }

  /** Recomputes the idle deadline and keeps the warning flags true only for warnings already due. */
  private recompute(s: LiveSession, now: number): void {
    s.idleDeadline = Math.min(s.lastActivityAt + s.policy.idleTimeoutMs, s.absoluteDeadline);
    const warn = s.policy.warnBeforeMs;
    // A deadline moved so that its warning time is in the future again gets a new warning; one
    // that moved but whose warning time has still passed was already warned about.
    if (s.idleDeadline - warn > now) s.warnedIdle = false;
    if (s.absoluteDeadline - warn > now) s.warnedAbsolute = false;
  }

  private touch(s: LiveSession, at: number, now: number): boolean {
    const activityAt = Math.min(at, now);
    if (activityAt - s.lastActivityAt < Math.max(1, this.options.activityGranularityMs)) return true;
    s.lastActivityAt = activityAt;
    return this.changed(s);
  }

  /** After a change to a deadline input: recompute, tell the owner, end or re-arm. */
  private changed(s: LiveSession): boolean {
    const now = this.clock.now();
    this.recompute(s, now);
    this.markDirty(s);
    if (now >= s.idleDeadline) return this.evaluate(s);
    this.emitSafe('state', s.id);
    // A listener may have ended the session.
    return this.sessions.get(s.id) === s && this.evaluate(s);
  }

  private onDue(id: string): void {
    const s = this.sessions.get(id);
    if (s) this.evaluate(s);
  }

  /** Ends, warns and re-arms as of now. Returns whether the session is still live. */
  private evaluate(s: LiveSession): boolean {
    const now = this.clock.now();
    if (now >= s.absoluteDeadline) {
      this.finish(s, 'absolute', now);
      return false;
    }
    if (now >= s.idleDeadline) {
      this.finish(s, 'idle', now);
      return false;
    }
    const warn = s.policy.warnBeforeMs;
    const warnings: PendingWarning[] = [];
    if (!s.warnedAbsolute && now >= s.absoluteDeadline - warn) {
      s.warnedAbsolute = true;
      warnings.push({ kind: 'absolute', remainingMs: s.absoluteDeadline - now, canRenew: false });
    }
    // An idle deadline capped at the absolute one is covered by the absolute warning.
    const idleWarnable = s.idleDeadline < s.absoluteDeadline;
    if (!s.warnedIdle && idleWarnable && now >= s.idleDeadline - warn) {
      s.warnedIdle = true;
      warnings.push({ kind: 'idle', remainingMs: s.idleDeadline - now, canRenew: s.renewals < s.policy.maxRenewals });
    }
    let next = s.idleDeadline;
    if (!s.warnedAbsolute) next = Math.min(next, s.absoluteDeadline - warn);
    if (!s.warnedIdle && idleWarnable) next = Math.min(next, s.idleDeadline - warn);
    // next > now by construction; the floor guards against a spin if that ever stops holding.
    this.scheduler.schedule(s.id, Math.max(next, now + 1));
    if (warnings.length > 0) this.markDirty(s);
    for (const w of warnings) {
      if (this.sessions.get(s.id) !== s) break;
      this.emitSafe('warning', s.id, w.kind, w.remainingMs, w.canRenew);
    }
    return this.sessions.get(s.id) === s;
  }

  private finish(s: LiveSession, reason: EndReason, now: number): void {
    if (this.sessions.get(s.id) !== s) return;
    this.sessions.delete(s.id);
    this.scheduler.cancel(s.id);
    this.dirty.delete(s.id);
    const final: SessionSnapshot = { ...this.snapshotOf(s), endedAt: now, endReason: reason };
    this.lastEnded = final;
    if (this.options.persist) {
      this.endedDirty.push(final);
      this.queueFlush();
    }
    this.emitSafe('ended', s.id, reason, final);
  }

  private markDirty(s: LiveSession): void {
    if (!this.options.persist) return;
    this.dirty.add(s.id);
    this.queueFlush();
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    // One batch per synchronous burst (a scheduler tick ending hundreds of sessions, say).
    queueMicrotask(() => {
      if (this.flushQueued) this.flush();
    });
  }

  private emitSafe<E extends keyof SessionTimersEvents>(event: E, ...args: SessionTimersEvents[E]): void {
    try {
      (this.emit as (event: E, ...a: SessionTimersEvents[E]) => boolean)(event, ...args);
    } catch (err) {
      this.options.onError(err);
    }
  }

  private stateOf(s: LiveSession): SessionStateMessage {
    const now = this.clock.now();
    return {
      type: 'session.state',
      sessionId: s.id,
      idleRemainingMs: Math.max(0, s.idleDeadline - now),
      absoluteRemainingMs: Math.max(0, s.absoluteDeadline - now),
      renewalsLeft: Math.max(0, s.policy.maxRenewals - s.renewals),
      policy: { ...s.policy, groups: [...s.policy.groups] },
    };
  }

  private snapshotOf(s: LiveSession): SessionSnapshot {
    return {
      id: s.id,
      user: s.user,
      startedAt: s.startedAt,
      periodStartedAt: s.periodStartedAt,
      absoluteDeadline: s.absoluteDeadline,
      lastActivityAt: s.lastActivityAt,
      idleDeadline: s.idleDeadline,
      renewals: s.renewals,
      warnedIdle: s.warnedIdle,
      warnedAbsolute: s.warnedAbsolute,
      locked: s.locked,
      groups: [...s.groups],
      policy: { ...s.policy, groups: [...s.policy.groups] },
      endedAt: null,
      endReason: null,
    };
  }
}

/** "90 s", "15 min", "1 h 30 min": a policy duration as a person would say it. */
export function plainDuration(ms: number): string {
  const totalSeconds = Math.round(ms / 1000);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  const parts: string[] = [];
  if (h > 0) parts.push(`${h} h`);
  if (m > 0) parts.push(`${m} min`);
  if (s > 0 || parts.length === 0) parts.push(`${s} s`);
  return parts.join(' ');
}

/** "idle for 15 min" / "absolute limit of 8h": plain words for an end reason under a policy. */
export function describeEnd(reason: EndReason, policy: Pick<EffectivePolicy, 'idleTimeoutMs' | 'maxDurationMs'>): string {
  switch (reason) {
    case 'idle':
      return `idle for ${plainDuration(policy.idleTimeoutMs)}`;
    case 'absolute':
      return `reached the session limit of ${plainDuration(policy.maxDurationMs)}`;
    case 'revoked':
      return 'ended by an administrator';
    case 'logout':
      return 'signed out';
    case 'replaced':
      return 'replaced by a newer sign-in';
    case 'error':
      return 'ended after an error';
  }
}
