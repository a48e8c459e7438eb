/**
 * The client's view of its session (DESIGN.md, "Session semantics" and "Fail closed"). The proxy
 * is the authority; this machine mirrors its deadlines so the user is warned even when the proxy
 * goes quiet, and ends the session on this device, with the reason, once its own view of a
 * deadline has passed without fresher state — online or not. It does no I/O: the host feeds it
 * inputs and acts on its events (send the control message, close listeners, wipe, notify).
 *
 * Inputs: signedIn, serverMessage, connectionLost, connectionRestored, resumed, unlocked, tick,
 * renewRequested, logoutRequested. Events: state, warning, ended (exactly once per session),
 * sendRenew, sendLogout, recheck, requestError. Every `on()` returns its cleanup function.
 *
 * The proxy sends `session.state` whenever a deadline moves (activity, renew, opened resource,
 * re-authentication); the machine stamps the remaining durations with the local clocks at
 * receipt and counts down from there with Elapsed (max of monotonic and wall elapsed).
 */
import { reasonForCloseCode, type EndReason } from '../../../common/closeCodes.ts';
import { deserializeError, ErrorCode, LatchError } from '../../../common/errors.ts';
import type { ClientMessage, DeadlineKind, EffectivePolicy, LogoutMessage, RenewMessage, ServerMessage } from '../../../common/session.ts';
import { systemClock, type Clock, type TimerHandle } from './Clock.ts';
import { describeEnd } from './describeEnd.ts';
import { Countdown, Elapsed } from './Elapsed.ts';

export const SessionState = {
  SIGNED_OUT: 'signed-out',
  /** Signed in; no session.state received yet. */
  CONNECTING: 'connecting',
  ACTIVE: 'active',
  /** A deadline is within warnBefore (warned by the proxy or by the local countdown). */
  WARNING: 'warning',
  /** The connection to the proxy is down; local deadlines keep counting and still end the session. */
  OFFLINE: 'offline',
  /** Logout sent; waiting (bounded) for the proxy to confirm. */
  ENDING: 'ending',
  ENDED: 'ended',
} as const;
export type SessionState = (typeof SessionState)[keyof typeof SessionState];

export interface SessionWarning {
  kind: DeadlineKind;
  remainingMs: number;
  /** False when renewing cannot help: the absolute deadline, or no renewals left. */
  canRenew: boolean;
  /** Who noticed first: the proxy's session.warning, or the local countdown. */
  source: 'proxy' | 'local';
}

export interface SessionEnd {
  sessionId: string;
  reason: EndReason;
  /** Plain words for the person (describeEnd). */
  message: string;
  /** The proxy's own message, or why this device ended the session on its own; null when none. */
  detail: string | null;
  /** True when this device ended the session without the proxy saying so (fail closed). */
  local: boolean;
  /**
   * The session is over, so the host wipes its keychain items. False only when the proxy closed
   * this connection with SESSION_REPLACED (4005) because a newer connection of the same session
   * took over (another `latch connect`): the session lives on there and needs its credentials.
   */
  wipe: boolean;
}

/** What the UI renders. Remaining times are this device's view, rounded up, never negative. */
export interface SessionSnapshot {
  state: SessionState;
  sessionId: string | null;
  connected: boolean;
  idleRemainingMs: number | null;
  absoluteRemainingMs: number | null;
  renewalsLeft: number | null;
  policy: EffectivePolicy | null;
  warning: SessionWarning | null;
  /** A renew asked for while offline, sent when the connection comes back. */
  renewQueued: boolean;
  end: SessionEnd | null;
}

export interface SessionMachineEvents {
  state: SessionSnapshot;
  warning: SessionWarning;
  ended: SessionEnd;
  /** Send this control message to the proxy now. */
  sendRenew: RenewMessage;
  /** Send this control message to the proxy now. */
  sendLogout: LogoutMessage;
  /** After resume or unlock: contact the proxy now (reconnect if needed) for fresh state. */
  recheck: { cause: 'resumed' | 'unlocked' };
  /** The proxy refused a request (e.g. a renew past maxRenewals). */
  requestError: { request: ClientMessage['type']; error: LatchError };
}

export type SessionMachineEvent = keyof SessionMachineEvents;

export interface SessionMachineOptions {
  clock: Clock;
  /**
   * Longest gap between two checks while deadlines are known. Timers count monotonic time, which
   * stops during suspend; re-checking at least this often bounds how late a wall-clock jump is
   * noticed when the host misses the resume signal. Each check emits `state` (the countdown).
   */
  checkIntervalMs: number;
  /** How long to wait for the proxy to confirm a logout before ending on this device. */
  logoutTimeoutMs: number;
  /** A listener threw. The default rethrows it asynchronously so the bug is not silent. */
  onListenerError: (err: unknown) => void;
}

export function defaultSessionMachineOptions(): SessionMachineOptions {
  return {
    clock: systemClock,
    checkIntervalMs: 1_000,
    logoutTimeoutMs: 5_000,
    onListenerError: (err) => {
      queueMicrotask(() => {
        throw err;
      });
    },
  };
}

function validateOptions(o: SessionMachineOptions): SessionMachineOptions {
  const c = o.clock as Partial<Clock> | undefined;
  if (!c || typeof c.wallNow !== 'function' || typeof c.monotonicNow !== 'function' || typeof c.setTimer !== 'function' || typeof c.clearTimer !== 'function') {
    throw new LatchError(ErrorCode.CONFIG, 'SessionMachine: clock must implement wallNow, monotonicNow, setTimer and clearTimer');
  }
  for (const key of ['checkIntervalMs', 'logoutTimeoutMs'] as const) {
    if (!(Number.isFinite(o[key]) && o[key] > 0)) throw new LatchError(ErrorCode.CONFIG, `SessionMachine: ${key} must be a positive number of ms, got ${String(o[key])}`);
  }
  if (typeof o.onListenerError !== 'function') throw new LatchError(ErrorCode.CONFIG, 'SessionMachine: onListenerError must be a function');
  return o;
}

type Listener<K extends SessionMachineEvent> = (payload: SessionMachineEvents[K]) => void;
type ListenerSets = { [K in SessionMachineEvent]: Set<Listener<K>> };

const KINDS: readonly DeadlineKind[] = ['absolute', 'idle'];

export class SessionMachine {
  readonly #options: SessionMachineOptions;
  readonly #clock: Clock;
  readonly #listeners: ListenerSets = {
    state: new Set(),
    warning: new Set(),
    ended: new Set(),
    sendRenew: new Set(),
    sendLogout: new Set(),
    recheck: new Set(),
    requestError: new Set(),
  };

  #state: SessionState = SessionState.SIGNED_OUT;
  #sessionId: string | null = null;
  /** Bumped at every sign-in and end, so emissions from a superseded evaluation stop. */
  #generation = 0;
  #connected = false;
  #everConnected = false;
  #haveState = false;
  #deadlines: Record<DeadlineKind, Countdown | null> = { idle: null, absolute: null };
  /**
   * The proxy's idle deadline is its absolute one (idle deadlines never pass the absolute one).
   * Kept as a flag rather than as two countdowns started a moment apart: those would expire a
   * fraction of a millisecond apart, or further when an absolute warning restarts one of them,
   * and the session would end or warn as 'idle' at its maxDuration.
   */
  #idleCapped = false;
  #renewalsLeft: number | null = null;
  #policy: EffectivePolicy | null = null;
  /** A warning episode per deadline: set when warned, cleared when fresh state moves it out of the window. */
  #warned: Record<DeadlineKind, SessionWarning['source'] | null> = { idle: null, absolute: null };
  #proxySaysNoRenew = false;
  #renewQueued = false;
  #logoutSince: Elapsed | null = null;
  #end: SessionEnd | null = null;
  #timer: TimerHandle | null = null;
  #disposed = false;

  constructor(options: Partial<SessionMachineOptions> = {}) {
    this.#options = validateOptions({ ...defaultSessionMachineOptions(), ...options });
    this.#clock = this.#options.clock;
  }

  /** Subscribes to an event; call the returned function to unsubscribe. */
  on<K extends SessionMachineEvent>(event: K, listener: Listener<K>): () => void {
    const set = this.#listeners[event] as Set<Listener<K>>;
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  get state(): SessionState {
    return this.#state;
  }

  /** The policy in effect, from the proxy's last state (null before the first). */
  get policy(): EffectivePolicy | null {
    return this.#policy;
  }

  snapshot(): SessionSnapshot {
    const idle = this.#remaining('idle');
    const absolute = this.#remaining('absolute');
    const warning = this.#live() ? this.#currentWarning(idle, absolute) : null;
    const show = (ms: number | null): number | null => (ms === null ? null : Math.max(0, Math.ceil(ms)));
    return {
      state: this.#state,
      sessionId: this.#sessionId,
      connected: this.#connected,
      idleRemainingMs: this.#live() ? show(idle) : null,
      absoluteRemainingMs: this.#live() ? show(absolute) : null,
      renewalsLeft: this.#renewalsLeft,
      policy: this.#policy,
      warning: warning && { ...warning, remainingMs: Math.max(0, Math.ceil(warning.remainingMs)) },
      renewQueued: this.#renewQueued,
      end: this.#end,
    };
  }

  /**
   * A sign-in succeeded. From signed-out or ended it starts a new session (connecting). For the
   * live session's own id it is a re-authentication in place: `absoluteRemainingMs` from the login
   * response starts the fresh absolute period. Another id while a session is live is a host bug.
   */
  signedIn(sessionId: string, options: { absoluteRemainingMs?: number } = {}): void {
    if (typeof sessionId !== 'string' || sessionId === '') throw new LatchError(ErrorCode.USAGE, 'signedIn: sessionId must be a non-empty string');
    const abs = options.absoluteRemainingMs;
    if (abs !== undefined && !(Number.isFinite(abs) && abs >= 0)) throw new LatchError(ErrorCode.USAGE, `signedIn: absoluteRemainingMs must be >= 0, got ${abs}`);
    if (this.#disposed) return;
    if (this.#live()) {
      if (sessionId !== this.#sessionId) {
        throw new LatchError(ErrorCode.USAGE, `signedIn: session ${this.#sessionId} is still live; it must end before ${sessionId} starts`);
      }
      if (abs !== undefined) {
        // Only the absolute deadline moves out; the idle one stays as the proxy last said.
        this.#idleCapped = false;
        this.#setDeadline('absolute', abs);
      }
      this.#evaluate();
      return;
    }
    this.#generation++;
    this.#clearTimer();
    this.#state = SessionState.CONNECTING;
    this.#sessionId = sessionId;
    this.#connected = false;
    this.#everConnected = false;
    this.#haveState = false;
    this.#deadlines = { idle: null, absolute: abs === undefined ? null : new Countdown(this.#clock, abs) };
    this.#idleCapped = false;
    this.#renewalsLeft = null;
    this.#policy = null;
    this.#warned = { idle: null, absolute: null };
    this.#proxySaysNoRenew = false;
    this.#renewQueued = false;
    this.#logoutSince = null;
    this.#end = null;
    this.#evaluate();
  }

  /** A control message from the proxy (already validated with parseServerMessage). */
  serverMessage(msg: ServerMessage): void {
    if (!this.#live()) return;
    // It came over the connection, so the connection is up.
    this.#connected = true;
    this.#everConnected = true;
    switch (msg.type) {
      case 'session.state': {
        if (msg.sessionId !== this.#sessionId) return;
        this.#haveState = true;
        this.#renewalsLeft = msg.renewalsLeft;
        this.#policy = msg.policy;
        this.#proxySaysNoRenew = false;
        this.#setDeadline('idle', msg.idleRemainingMs);
        this.#setDeadline('absolute', msg.absoluteRemainingMs);
        this.#idleCapped = msg.idleRemainingMs >= msg.absoluteRemainingMs;
        this.#evaluate();
        return;
      }
      case 'session.warning': {
        this.#deadlines[msg.kind] = new Countdown(this.#clock, msg.remainingMs);
        // The proxy warns about idle only while that deadline comes before the absolute one.
        if (msg.kind === 'idle') this.#idleCapped = false;
        if (msg.kind === 'idle' && !msg.canRenew) this.#proxySaysNoRenew = true;
        let fresh: SessionWarning | null = null;
        if (this.#warned[msg.kind] === null) {
          this.#warned[msg.kind] = 'proxy';
          fresh = { kind: msg.kind, remainingMs: msg.remainingMs, canRenew: this.#canRenew(msg.kind), source: 'proxy' };
        }
        this.#evaluate(fresh);
        return;
      }
      case 'session.ended':
        this.#finish(msg.reason, false, msg.message === '' ? null : msg.message);
        return;
      case 'request.error': {
        const error = deserializeError(msg.error);
        if (msg.request === 'logout' && this.#state === SessionState.ENDING) {
          // The person asked to sign out; a proxy that refuses does not keep them signed in here.
          this.#finish('logout', true, `the proxy refused the sign-out (${error.code}); signed out on this device`);
          return;
        }
        const generation = this.#generation;
        this.#emit('requestError', { request: msg.request, error });
        if (generation === this.#generation) this.#evaluate();
        return;
      }
    }
  }

  /**
   * The connection to the proxy closed. A close code that carries a session-end reason
   * (4001-4006) ends the session with that reason (4005: this connection was replaced by a newer
   * one of the same session; it ends here without a wipe); anything else means offline, and the
   * local deadlines keep counting.
   */
  connectionLost(closeCode?: number): void {
    if (!this.#live()) return;
    this.#connected = false;
    const reason = closeCode === undefined ? undefined : reasonForCloseCode(closeCode);
    if (reason === 'replaced') {
      this.#finish(reason, false, 'a newer connection of this session took over', { wipe: false });
      return;
    }
    if (reason !== undefined) {
      this.#finish(reason, false, null);
      return;
    }
    if (this.#state === SessionState.ENDING) {
      this.#finish('logout', true, 'the connection closed before the proxy confirmed the sign-out; signed out on this device');
      return;
    }
    this.#evaluate();
  }

  /** The connection to the proxy is up (first connect or reconnect). Sends a renew queued while offline. */
  connectionRestored(): void {
    if (!this.#live()) return;
    this.#connected = true;
    this.#everConnected = true;
    const generation = this.#generation;
    this.#evaluate();
    if (generation !== this.#generation || !this.#renewQueued) return;
    this.#renewQueued = false;
    this.#emit('sendRenew', { type: 'renew' });
    if (generation === this.#generation) this.#evaluate();
  }

  /** The machine woke from suspend: check the deadlines now, then ask the host to contact the proxy. */
  resumed(): void {
    this.#recheck('resumed');
  }

  /** The screen was unlocked: check the deadlines now, then ask the host to contact the proxy. */
  unlocked(): void {
    this.#recheck('unlocked');
  }

  /** Recompute now (the machine also arms its own timer for the next local deadline). */
  tick(): void {
    this.#evaluate();
  }

  /**
   * The person asked to renew. Sent now when connected ('sent'), else queued until the
   * connection is back ('queued'); the deadline moves only when the proxy's fresh state arrives.
   * Rejects with NOT_SIGNED_IN before sign-in and SESSION_ENDED once the session is over.
   */
  renewRequested(): 'sent' | 'queued' {
    this.#evaluate();
    if (this.#state === SessionState.SIGNED_OUT) throw new LatchError(ErrorCode.NOT_SIGNED_IN, 'not signed in: nothing to renew');
    if (this.#state === SessionState.ENDED || this.#state === SessionState.ENDING || this.#disposed) {
      throw new LatchError(ErrorCode.SESSION_ENDED, 'the session has ended: sign in again');
    }
    if (!this.#connected) {
      this.#renewQueued = true;
      this.#evaluate();
      return 'queued';
    }
    this.#emit('sendRenew', { type: 'renew' });
    return 'sent';
  }

  /**
   * The person asked to sign out. Online: sends logout and waits (at most logoutTimeoutMs) for the
   * proxy's session.ended; offline, on a closed connection or on timeout it ends here with
   * reason logout. Does nothing when no session is live.
   */
  logoutRequested(): void {
    if (!this.#live() || this.#state === SessionState.ENDING) return;
    if (!this.#connected) {
      this.#finish('logout', true, 'signed out on this device while the proxy could not be reached');
      return;
    }
    this.#logoutSince = new Elapsed(this.#clock);
    this.#renewQueued = false;
    const generation = this.#generation;
    this.#evaluate();
    if (generation !== this.#generation) return;
    this.#emit('sendLogout', { type: 'logout' });
    if (generation === this.#generation) this.#evaluate();
  }

  /** Stops the machine's timer for good; later inputs are ignored. Emits nothing. */
  dispose(): void {
    this.#disposed = true;
    this.#clearTimer();
  }

  // internals

  #live(): boolean {
    return !this.#disposed && this.#state !== SessionState.SIGNED_OUT && this.#state !== SessionState.ENDED;
  }

  #remaining(kind: DeadlineKind): number | null {
    return this.#deadlines[kind === 'idle' && this.#idleCapped ? 'absolute' : kind]?.remainingMs() ?? null;
  }

  #setDeadline(kind: DeadlineKind, remainingMs: number): void {
    this.#deadlines[kind] = new Countdown(this.#clock, remainingMs);
    const warnBefore = this.#policy?.warnBeforeMs;
    // Fresh state that puts the deadline back outside the window ends that warning episode.
    if (warnBefore === undefined || remainingMs > warnBefore) this.#warned[kind] = null;
  }

  #canRenew(kind: DeadlineKind): boolean {
    return kind === 'idle' && (this.#renewalsLeft === null || this.#renewalsLeft > 0) && !this.#proxySaysNoRenew;
  }

  /** The idle deadline only matters while it comes before the absolute one. */
  #idleIsRelevant(idle: number | null, absolute: number | null): idle is number {
    return idle !== null && (absolute === null || idle < absolute);
  }

  #currentWarning(idle: number | null, absolute: number | null): SessionWarning | null {
    const candidates: SessionWarning[] = [];
    if (absolute !== null && this.#warned.absolute !== null) {
      candidates.push({ kind: 'absolute', remainingMs: absolute, canRenew: false, source: this.#warned.absolute });
    }
    if (this.#idleIsRelevant(idle, absolute) && this.#warned.idle !== null) {
      candidates.push({ kind: 'idle', remainingMs: idle, canRenew: this.#canRenew('idle'), source: this.#warned.idle });
    }
    candidates.sort((a, b) => a.remainingMs - b.remainingMs);
    return candidates[0] ?? null;
  }

  #recheck(cause: 'resumed' | 'unlocked'): void {
    if (!this.#live()) return;
    const generation = this.#generation;
    this.#evaluate();
    if (generation === this.#generation) this.#emit('recheck', { cause });
  }

  /** The one place that decides: end if a deadline passed, warn if one is near, publish, re-arm. */
  #evaluate(proxyWarning: SessionWarning | null = null): void {
    if (!this.#live()) return;
    const generation = this.#generation;
    if (this.#logoutSince !== null && this.#logoutSince.ms() >= this.#options.logoutTimeoutMs) {
      this.#finish('logout', true, 'the proxy did not confirm the sign-out in time; signed out on this device');
      return;
    }
    const idle = this.#remaining('idle');
    const absolute = this.#remaining('absolute');
    // Fail closed, no grace: whichever deadline passed first (the absolute one on a tie).
    const absPassed = absolute !== null && absolute <= 0;
    const idlePassed = idle !== null && idle <= 0;
    if (absPassed || idlePassed) {
      const reason: EndReason = absPassed && (!idlePassed || absolute <= idle) ? 'absolute' : 'idle';
      const why = this.#connected ? 'the proxy sent no fresher state' : 'the proxy could not be reached';
      this.#finish(reason, true, `ended on this device when its own view of the ${reason} deadline passed (${why})`);
      return;
    }

    const fresh: SessionWarning[] = proxyWarning ? [proxyWarning] : [];
    const warnBefore = this.#policy?.warnBeforeMs;
    if (warnBefore !== undefined) {
      if (absolute !== null && absolute <= warnBefore && this.#warned.absolute === null) {
        this.#warned.absolute = 'local';
        fresh.push({ kind: 'absolute', remainingMs: absolute, canRenew: false, source: 'local' });
      }
      if (this.#idleIsRelevant(idle, absolute) && idle <= warnBefore && this.#warned.idle === null) {
        this.#warned.idle = 'local';
        fresh.push({ kind: 'idle', remainingMs: idle, canRenew: this.#canRenew('idle'), source: 'local' });
      }
    }

    this.#state = this.#computeState(idle, absolute);
    for (const warning of fresh) {
      this.#emit('warning', { ...warning, remainingMs: Math.max(0, Math.ceil(warning.remainingMs)) });
      if (generation !== this.#generation) return;
    }
    this.#state = this.#computeState(this.#remaining('idle'), this.#remaining('absolute'));
    this.#emit('state', this.snapshot());
    if (generation !== this.#generation) return;
    this.#arm();
  }

  #computeState(idle: number | null, absolute: number | null): SessionState {
    if (this.#logoutSince !== null) return SessionState.ENDING;
    if (!this.#connected) return this.#everConnected ? SessionState.OFFLINE : SessionState.CONNECTING;
    if (!this.#haveState) return SessionState.CONNECTING;
    return this.#currentWarning(idle, absolute) ? SessionState.WARNING : SessionState.ACTIVE;
  }

  /** One timer, for the nearest local deadline (warning point, deadline, logout timeout) or the check interval. */
  #arm(): void {
    this.#clearTimer();
    if (!this.#live()) return;
    const idle = this.#remaining('idle');
    const absolute = this.#remaining('absolute');
    if (idle === null && absolute === null && this.#logoutSince === null) return;
    const warnBefore = this.#policy?.warnBeforeMs;
    const candidates = [this.#options.checkIntervalMs];
    for (const kind of KINDS) {
      const rem = kind === 'idle' ? idle : absolute;
      if (rem === null) continue;
      candidates.push(rem);
      if (warnBefore !== undefined && this.#warned[kind] === null && rem > warnBefore) candidates.push(rem - warnBefore);
    }
    if (this.#logoutSince !== null) candidates.push(this.#options.logoutTimeoutMs - this.#logoutSince.ms());
    const delay = Math.max(1, Math.ceil(Math.min(...candidates)));
    this.#timer = this.#clock.setTimer(delay, () => {
      this.#timer = null;
      this.#evaluate();
    });
  }

  #clearTimer(): void {
    if (this.#timer !== null) {
      this.#clock.clearTimer(this.#timer);
      this.#timer = null;
    }
  }

  /** The only way into 'ended': once per session, whichever path gets here first. */
  #finish(reason: EndReason, local: boolean, detail: string | null, options: { wipe?: boolean } = {}): void {
    if (!this.#live() || this.#sessionId === null) return;
    this.#generation++;
    this.#clearTimer();
    this.#state = SessionState.ENDED;
    this.#renewQueued = false;
    this.#logoutSince = null;
    const end: SessionEnd = {
      sessionId: this.#sessionId,
      reason,
      message: describeEnd(reason, { idleTimeoutMs: this.#policy?.idleTimeoutMs, maxDurationMs: this.#policy?.maxDurationMs }),
      detail,
      local,
      wipe: options.wipe ?? true,
    };
    this.#end = end;
    const generation = this.#generation;
    this.#emit('ended', end);
    if (generation === this.#generation) this.#emit('state', this.snapshot());
  }

  #emit<K extends SessionMachineEvent>(event: K, payload: SessionMachineEvents[K]): void {
    const set = this.#listeners[event] as Set<Listener<K>>;
    for (const listener of [...set]) {
      try {
        listener(payload);
      } catch (err) {
        this.#options.onListenerError(err);
      }
    }
  }
}
