/**
 * The client engine: the one composition of main/core that every host runs (the terminal client,
 * the Electron main process). It signs in, keeps the session's tunnel up (reconnecting with a
 * bounded backoff while the local deadlines allow), owns the 127.0.0.1 listeners, feeds every
 * control message into the SessionMachine, reports OS idle time, shows warnings with a Renew
 * action, and on EVERY end path closes listeners and tunnel, wipes the session's keychain items,
 * confirms the wipe to the proxy (now or at next contact) and says why in plain words.
 *
 * Hosts render `snapshot()` (common/engineState.ts) and call the methods below; they never derive
 * session state on their own. Every `on()` returns its cleanup function.
 */
import { hostname } from 'node:os';
import type { ResourceInfo, SessionStateResponse } from '../../common/api.ts';
import { CloseCode } from '../../common/closeCodes.ts';
import type { EndReason } from '../../common/closeCodes.ts';
import type { EndedView, EngineSnapshot, EnginePhase, SignInRequest, TunnelInfo, WarningView } from '../../common/engineState.ts';
import { ErrorCode, isLatchError, LatchError } from '../../common/errors.ts';
import type { SerializedError } from '../../common/errors.ts';
import type { ClientMessage, ServerMessage } from '../../common/session.ts';
import type { MuxStream } from '../../tunnel/MuxStream.ts';
import { listenLocal } from '../../tunnel/LocalListener.ts';
import type { LocalListener } from '../../tunnel/LocalListener.ts';
import type { CredentialStore } from './CredentialStore.ts';
import { normalizeFingerprint, normalizeProxyUrl, parseEnrollmentLink } from './Enrollment.ts';
import type { IdleSample, IdleSource } from './idle/IdleSource.ts';
import { endReasonOf, networkError } from './networkError.ts';
import type { NotificationHandle, Notifier } from './notify/Notifier.ts';
import type { Profile, ProfileStore } from './Profile.ts';
import { ProfilePendingWipes } from './ProfilePendingWipes.ts';
import { isSessionGone, ProxyClient } from './ProxyClient.ts';
import type { LoginCredentials } from './ProxyClient.ts';
import { systemClock } from './session/Clock.ts';
import type { Clock, TimerHandle } from './session/Clock.ts';
import { CredentialWiper } from './session/CredentialWiper.ts';
import type { CredentialWiperOptions } from './session/CredentialWiper.ts';
import { describeWarning } from './session/describeEnd.ts';
import { SessionMachine } from './session/SessionMachine.ts';
import type { SessionEnd, SessionSnapshot, SessionWarning } from './session/SessionMachine.ts';
import { loadSessionSecrets } from './SessionSecrets.ts';
import type { SessionSecrets } from './SessionSecrets.ts';
import { TunnelClient } from './TunnelClient.ts';
import type { TunnelClientInit, TunnelClientOptions, TunnelEnd } from './TunnelClient.ts';

export interface ClientEngineOptions {
  store: CredentialStore;
  profiles: ProfileStore;
  idle: IdleSource;
  /** Desktop notifications; null where there are none (the host then shows warnings itself). */
  notifier: Notifier | null;
  clock: Clock;
  /**
   * `activity` goes to the proxy at least this often while connected (more often under a short
   * idle timeout: eight reports per timeout), and at once when input resumes or the lock changes.
   */
  idleReportIntervalMs: number;
  /** How often the idle source is read. */
  idleSampleIntervalMs: number;
  /** First wait before reconnecting a lost tunnel; doubles up to reconnectMaxMs. */
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  /** How long renew() waits for the proxy's answer (also while the renew is queued offline). */
  renewTimeoutMs: number;
  /** Bound on each HTTPS request to the proxy. */
  requestTimeoutMs: number;
  /** Bound on POST /v1/wiped after an end (the wipe stays queued if it runs out). */
  confirmTimeoutMs: number;
  /** Sent with the login so the proxy's session list names this machine. */
  device: string;
  /** Overrides for the keychain wipe (tests shorten its backoff). */
  wiper: Partial<Omit<CredentialWiperOptions, 'target' | 'pending' | 'clock'>>;
  /** Overrides for the tunnel (connect timeout, multiplexer keepalive). */
  tunnel: Partial<Pick<TunnelClientOptions, 'connectTimeoutMs' | 'multiplexer'>>;
  /** Opens the session's tunnel; TunnelClient.connect unless a test stands in for the proxy. */
  openTunnel: (init: TunnelClientInit) => Promise<EngineTunnel>;
  /**
   * Whether the end notification offers "Sign in again" (action id `sign-in`). Only a host that
   * stays running to open its sign-in screen should offer it; the terminal client exits.
   */
  offerSignInAgain: boolean;
}

/** The part of TunnelClient the engine uses. */
export interface EngineTunnel {
  on(event: 'message', listener: (message: ServerMessage) => void): unknown;
  on(event: 'connectionError', listener: (resourceId: string, error: LatchError) => void): unknown;
  once(event: 'end', listener: (end: TunnelEnd) => void): unknown;
  send(message: ClientMessage): void;
  openStream(resourceId: string): MuxStream;
  close(code?: number, reason?: string): Promise<void>;
}

export type ClientEngineInit = Pick<ClientEngineOptions, 'store' | 'profiles' | 'idle' | 'notifier'> & Partial<ClientEngineOptions>;

export function defaultClientEngineOptions(): Omit<ClientEngineOptions, 'store' | 'profiles' | 'idle' | 'notifier'> {
  return {
    clock: systemClock,
    idleReportIntervalMs: 2_000,
    idleSampleIntervalMs: 1_000,
    reconnectInitialMs: 250,
    reconnectMaxMs: 5_000,
    renewTimeoutMs: 15_000,
    requestTimeoutMs: 10_000,
    confirmTimeoutMs: 3_000,
    device: hostname(),
    wiper: {},
    tunnel: {},
    openTunnel: (init) => TunnelClient.connect(init),
    offerSignInAgain: false,
  };
}

function validateOptions(o: ClientEngineOptions): ClientEngineOptions {
  if (!o.store || !o.profiles || !o.idle || typeof o.idle.sample !== 'function') {
    throw new LatchError(ErrorCode.CONFIG, 'ClientEngine: store, profiles and idle are required');
  }
  for (const key of ['idleReportIntervalMs', 'idleSampleIntervalMs', 'reconnectInitialMs', 'reconnectMaxMs', 'renewTimeoutMs', 'requestTimeoutMs', 'confirmTimeoutMs'] as const) {
    if (!(Number.isFinite(o[key]) && o[key] > 0)) throw new LatchError(ErrorCode.CONFIG, `ClientEngine: ${key} must be a positive number of ms, got ${String(o[key])}`);
  }
  if (o.reconnectMaxMs < o.reconnectInitialMs) throw new LatchError(ErrorCode.CONFIG, 'ClientEngine: reconnectMaxMs must be >= reconnectInitialMs');
  return o;
}

/** Events besides 'changed', for hosts that print a log (the terminal client's --json lines). */
export interface ClientEngineEvents {
  /** The whole view, after any change (at least once a second while signed in: the countdown). */
  changed: EngineSnapshot;
  /** A warning episode began (once per deadline and episode). */
  warning: WarningView;
  /** The idle deadline moved because of a renew (this engine's, or `latch renew` elsewhere). */
  renewed: { idleRemainingMs: number; renewalsLeft: number };
  /** The session ended and every end step ran (listeners closed, keychain wiped). */
  ended: EndedView;
  /** One local connection failed (target unreachable, offline, stream reset); the listener goes on. */
  connectionError: { resourceId: string; error: SerializedError };
}

type EventName = keyof ClientEngineEvents;
type Listener<K extends EventName> = (payload: ClientEngineEvents[K]) => void;

/** What the notification for the session (warning, then end) is called: showing again replaces it. */
const NOTIFICATION_ID = 'latch-session';

/** Connection counts reach listeners at most this often (#publishCounts). */
const COUNTS_PUBLISH_MS = 100;

interface LiveSession {
  sessionId: string;
  user: string;
  proxyUrl: string;
  caPem: string;
  client: ProxyClient;
  /** Held in memory for reconnects; re-read from the keychain first (a re-authentication elsewhere replaces them). */
  secrets: SessionSecrets;
}

interface OwnedListener {
  listener: LocalListener;
  info: { resourceId: string; host: string; port: number };
  connections: number;
}

interface RenewWaiter {
  resolve: () => void;
  reject: (err: LatchError) => void;
  timer: TimerHandle;
}

const PHASE: Readonly<Record<SessionSnapshot['state'], EnginePhase>> = {
  'signed-out': 'signed-out',
  connecting: 'connecting',
  active: 'active',
  warning: 'warning',
  offline: 'offline',
  ending: 'active',
  ended: 'ended',
};

/** Errors retrying cannot fix: a different server behind the address, or a proxy speaking another protocol. */
const PERMANENT = new Set<string>([ErrorCode.CA_MISMATCH, ErrorCode.SUBPROTOCOL, ErrorCode.BAD_VERSION]);

export class ClientEngine {
  readonly options: ClientEngineOptions;
  readonly #clock: Clock;
  readonly #machine: SessionMachine;
  readonly #pending: ProfilePendingWipes;
  readonly #wiper: CredentialWiper;
  readonly #listeners: { [K in EventName]: Set<Listener<K>> } = {
    changed: new Set(),
    warning: new Set(),
    renewed: new Set(),
    ended: new Set(),
    connectionError: new Set(),
  };

  #live: LiveSession | null = null;
  #tunnel: EngineTunnel | null = null;
  #connecting = false;
  readonly #owned = new Map<string, OwnedListener>();
  #resources: ResourceInfo[] = [];
  #ended: EndedView | null = null;
  /** The proxy's named refusal that ended the session, kept for the ended view. */
  #refusal: SerializedError | null = null;
  #lastError: SerializedError | null = null;
  #signingIn = false;
  #closed = false;
  /** A connection-count snapshot is scheduled (#publishCounts). */
  #countsTimer: TimerHandle | null = null;

  #reconnectTimer: TimerHandle | null = null;
  #backoffMs: number;
  #idleTimer: TimerHandle | null = null;
  #sampling = false;
  #lockedByEvent = false;
  #lastReport: { idleMs: number; locked: boolean; at: number } | null = null;
  #renewalsLeft: number | null = null;
  #renewWaiters: RenewWaiter[] = [];
  #notice: NotificationHandle | null = null;
  #noticeKind: 'warning' | 'ended' | null = null;
  #endWork: Promise<void> | null = null;

  constructor(init: ClientEngineInit) {
    this.options = validateOptions({ ...defaultClientEngineOptions(), ...init });
    this.#clock = this.options.clock;
    this.#backoffMs = this.options.reconnectInitialMs;
    this.#machine = new SessionMachine({ clock: this.#clock });
    this.#pending = new ProfilePendingWipes(this.options.profiles);
    this.#wiper = new CredentialWiper({ ...this.options.wiper, target: this.options.store, pending: this.#pending, clock: this.#clock });
    this.#machine.on('state', () => this.#publish());
    this.#machine.on('warning', (w) => this.#onWarning(w));
    this.#machine.on('ended', (end) => {
      this.#endWork = this.#onEnded(end);
    });
    this.#machine.on('sendRenew', (msg) => this.#tunnel?.send(msg));
    this.#machine.on('sendLogout', (msg) => this.#tunnel?.send(msg));
    this.#machine.on('recheck', () => {
      void this.#recheck();
    });
    this.#machine.on('requestError', ({ request, error }) => {
      this.#lastError = error.toJSON();
      if (request === 'renew') this.#settleRenew(error);
      this.#publish();
    });
  }

  /** Subscribes; call the returned function to unsubscribe. */
  on<K extends EventName>(event: K, listener: Listener<K>): () => void {
    const set = this.#listeners[event] as Set<Listener<K>>;
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  snapshot(): EngineSnapshot {
    const ms = this.#machine.snapshot();
    const live = this.#live;
    let phase: EnginePhase = this.#ended !== null && live === null ? 'ended' : PHASE[ms.state];
    if (this.#signingIn) phase = 'signing-in';
    const session =
      live !== null && ms.policy !== null && ms.idleRemainingMs !== null && ms.absoluteRemainingMs !== null
        ? {
            sessionId: live.sessionId,
            user: live.user,
            proxyUrl: live.proxyUrl,
            idleRemainingMs: ms.idleRemainingMs,
            absoluteRemainingMs: ms.absoluteRemainingMs,
            renewalsLeft: ms.renewalsLeft ?? 0,
            policy: { ...ms.policy, groups: [...ms.policy.groups] },
          }
        : null;
    return {
      phase,
      session,
      warning: live !== null && ms.warning !== null ? { kind: ms.warning.kind, remainingMs: ms.warning.remainingMs, canRenew: ms.warning.canRenew } : null,
      ended: this.#ended,
      resources: live === null ? [] : this.#resources.map((r) => ({ ...r })),
      tunnels: [...this.#owned.values()].map((o) => ({ ...o.info, connections: o.connections })),
      lastError: this.#lastError,
    };
  }

  /**
   * Restores the signed-in profile, if any: reconnects the tunnel (the proxy then sends fresh
   * state), or, when the proxy says the session ended meanwhile, runs the end path (wipe,
   * confirm, the reason shown). Resolves after the first connection attempt; an unreachable
   * proxy leaves the engine offline and retrying.
   */
  async start(): Promise<void> {
    this.#assertOpen();
    if (this.#live !== null) return;
    const profile = await this.options.profiles.read();
    if (profile === null) {
      this.#publish();
      return;
    }
    const client = this.#clientFor(profile);
    void client.confirmPendingWipes();
    if (profile.session === undefined) {
      this.#publish();
      return;
    }
    let secrets: SessionSecrets;
    try {
      secrets = await loadSessionSecrets(this.options.store, profile.session.id);
    } catch (err) {
      // Secrets gone from the keychain (wiped elsewhere): the session is unusable here.
      if (isLatchError(err, ErrorCode.NOT_SIGNED_IN)) await client.forget(profile).catch(() => 0);
      this.#lastError = toSerialized(err);
      this.#publish();
      return;
    }
    await this.#begin(client, profile, secrets);
  }

  /**
   * Signs in. While a session of the same user on the same proxy is live this is a
   * re-authentication in place: a new key pair and certificate for the SAME session, a fresh
   * absolute period, the live tunnel and every open connection kept. Rejects with the proxy's
   * error (AUTH_REJECTED, ENROLLMENT_INVALID, RATE_LIMITED, CA_MISMATCH, ...).
   */
  async signIn(request: SignInRequest): Promise<void> {
    this.#assertOpen();
    const { proxyUrl, caFingerprint, credentials } = parseSignIn(request);
    this.#signingIn = true;
    this.#lastError = null;
    this.#publish();
    try {
      const live = this.#live;
      if (live !== null && live.proxyUrl === proxyUrl && (credentials.method === 'enrollment' || credentials.user === live.user)) {
        try {
          await this.#reauthenticate(live, credentials);
          return;
        } catch (err) {
          if (!isSessionGone(err)) throw err;
          this.#endFromRefusal(err);
          await this.#settled();
        }
      } else if (live !== null) {
        await this.signOut();
      }
      const client = new ProxyClient({ ...this.#clientOptions(), proxyUrl, caFingerprint });
      const profile = await client.login(credentials);
      const session = profile.session;
      if (session === undefined) throw new LatchError(ErrorCode.INTERNAL, 'sign-in returned no session');
      const secrets = await loadSessionSecrets(this.options.store, session.id);
      this.#signingIn = false;
      await this.#begin(client, profile, secrets);
    } catch (err) {
      this.#lastError = toSerialized(err);
      throw err;
    } finally {
      this.#signingIn = false;
      this.#publish();
    }
  }

  /** Opens a 127.0.0.1 listener for a resource (port 0: any free port). Resolves with its address. */
  async connect(resourceId: string, port = 0): Promise<TunnelInfo> {
    this.#assertOpen();
    if (this.#live === null) throw new LatchError(ErrorCode.NOT_SIGNED_IN, 'not signed in: sign in first');
    const existing = this.#owned.get(resourceId);
    if (existing !== undefined) return { ...existing.info, connections: existing.connections };
    if (!this.#resources.some((r) => r.id === resourceId)) {
      const list = this.#resources.length === 0 ? 'none' : this.#resources.map((r) => r.id).join(', ');
      throw new LatchError(ErrorCode.UNKNOWN_RESOURCE, `unknown resource "${resourceId}" (available: ${list})`);
    }
    const live = this.#live;
    const listener = await listenLocal({
      resourceId,
      port,
      host: '127.0.0.1',
      openStream: (id) => {
        const tunnel = this.#tunnel;
        if (tunnel === null) throw new LatchError(ErrorCode.CONNECTION_CLOSED, 'the tunnel to the proxy is down (reconnecting); try again shortly');
        return tunnel.openStream(id);
      },
      onConnectionError: (err) => {
        const error = err instanceof LatchError ? err : new LatchError(ErrorCode.CONNECTION_CLOSED, err.message, { cause: err });
        this.#emit('connectionError', { resourceId, error: error.toJSON() });
      },
    });
    if (this.#live !== live || this.#owned.has(resourceId)) {
      await listener.close();
      if (this.#live !== live) throw new LatchError(ErrorCode.SESSION_ENDED, 'the session ended while the listener was starting');
      const again = this.#owned.get(resourceId);
      if (again !== undefined) return { ...again.info, connections: again.connections };
    }
    const owned: OwnedListener = { listener, info: { resourceId, host: listener.address.host, port: listener.address.port }, connections: 0 };
    listener.server.on('connection', (socket) => {
      owned.connections++;
      this.#publishCounts();
      socket.once('close', () => {
        owned.connections--;
        this.#publishCounts();
      });
    });
    this.#owned.set(resourceId, owned);
    this.#publish();
    return { ...owned.info, connections: 0 };
  }

  /** Closes the listener of a resource and resets its connections. */
  async disconnect(resourceId: string): Promise<void> {
    const owned = this.#owned.get(resourceId);
    if (owned === undefined) return;
    this.#owned.delete(resourceId);
    await owned.listener.close();
    this.#publish();
  }

  /**
   * Renews: resets the idle deadline at the proxy. Resolves once the proxy's fresh state arrived;
   * rejects with RENEWAL_LIMIT past maxRenewals, SESSION_ENDED / NOT_SIGNED_IN when there is no
   * live session, PROXY_UNREACHABLE when no answer came within renewTimeoutMs.
   */
  async renew(): Promise<void> {
    this.#assertOpen();
    const idle = this.options.idle as IdleSource & { markActive?: () => void };
    const waiter = new Promise<void>((resolve, reject) => {
      const timer = this.#clock.setTimer(this.options.renewTimeoutMs, () => {
        this.#renewWaiters = this.#renewWaiters.filter((w) => w.timer !== timer);
        reject(new LatchError(ErrorCode.PROXY_UNREACHABLE, `the proxy did not confirm the renew within ${this.options.renewTimeoutMs} ms`));
      });
      this.#renewWaiters.push({ resolve, reject, timer });
    });
    try {
      this.#machine.renewRequested();
    } catch (err) {
      this.#settleRenew(err instanceof LatchError ? err : new LatchError(ErrorCode.INTERNAL, String(err)));
    }
    try {
      await waiter;
      // An explicit renew is presence too (idle source `none` counts only these).
      if (typeof idle.markActive === 'function') idle.markActive();
    } catch (err) {
      if (err instanceof LatchError) this.#lastError = err.toJSON();
      this.#publish();
      throw err;
    }
  }

  /**
   * Signs out: the proxy ends the session (over the tunnel, else POST /v1/logout), then the end
   * path runs; without the proxy it ends here. Resolves once the keychain is wiped.
   */
  async signOut(): Promise<void> {
    const live = this.#live;
    if (live === null) return;
    const ended = new Promise<void>((resolve) => {
      const off = this.on('ended', () => {
        off();
        resolve();
      });
    });
    if (this.#tunnel === null) {
      try {
        await live.client.endSession(live.secrets);
        this.#machine.serverMessage({ type: 'session.ended', reason: 'logout', message: '' });
      } catch (err) {
        if (isSessionGone(err)) this.#endFromRefusal(err);
      }
    }
    this.#machine.logoutRequested();
    // The proxy confirms with session.ended; without it the machine ends here after its timeout.
    await ended;
    await this.#settled();
  }

  /** Power and session events from the host (Electron powerMonitor; the CLI has none). */
  systemEvent(event: 'lock' | 'unlock' | 'suspend' | 'resume'): void {
    if (this.#closed) return;
    switch (event) {
      case 'lock':
        this.#lockedByEvent = true;
        this.#sampleNow();
        return;
      case 'unlock':
        this.#lockedByEvent = false;
        this.#machine.unlocked();
        this.#sampleNow();
        return;
      case 'suspend':
        // Nothing to send: the tunnel may die while asleep; resume re-checks at once.
        return;
      case 'resume':
        this.#machine.resumed();
        this.#sampleNow();
        return;
    }
  }

  /**
   * Stops the engine: listeners and tunnel closed, timers stopped, notifications removed. The
   * session stays signed in (the next start() resumes it). Does not close the idle source or the
   * notifier: the host made them. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#settled();
    this.#closed = true;
    this.#machine.dispose();
    this.#stopLoops();
    if (this.#countsTimer !== null) this.#clock.clearTimer(this.#countsTimer);
    this.#countsTimer = null;
    this.#settleRenew(new LatchError(ErrorCode.CONNECTION_CLOSED, 'the engine was closed'));
    await this.#closeListeners();
    const tunnel = this.#tunnel;
    this.#tunnel = null;
    await tunnel?.close(CloseCode.GOING_AWAY, 'client closed');
    if (this.#noticeKind === 'warning') await this.#closeNotice();
  }

  // --- session lifecycle -------------------------------------------------------------------

  async #begin(client: ProxyClient, profile: Profile, secrets: SessionSecrets): Promise<void> {
    const session = profile.session;
    if (session === undefined) return;
    this.#ended = null;
    this.#lastError = null;
    this.#resources = session.resources.map((r) => ({ ...r }));
    this.#renewalsLeft = null;
    this.#live = { sessionId: session.id, user: session.user, proxyUrl: profile.proxyUrl, caPem: profile.caPem, client, secrets };
    this.#pending.rememberReceipt(session.id, session.wipeReceipt);
    this.#backoffMs = this.options.reconnectInitialMs;
    this.#machine.signedIn(session.id, { absoluteRemainingMs: Math.max(0, session.expiresAt - this.#clock.wallNow()) });
    if (this.#live === null) {
      await this.#settled();
      return;
    }
    this.#scheduleIdle(0);
    await this.#openTunnel();
    await this.#settled();
  }

  async #reauthenticate(live: LiveSession, credentials: LoginCredentials): Promise<void> {
    const { profile, secrets, expiresInMs } = await live.client.reauthenticate(credentials);
    if (this.#live !== live) throw new LatchError(ErrorCode.SESSION_ENDED, 'the session ended during the re-authentication: sign in again');
    live.secrets = secrets;
    this.#pending.rememberReceipt(live.sessionId, profile.session?.wipeReceipt);
    if (profile.session !== undefined) this.#resources = profile.session.resources.map((r) => ({ ...r }));
    // The fresh absolute period; the proxy's session.state over the live tunnel follows.
    this.#machine.signedIn(live.sessionId, { absoluteRemainingMs: expiresInMs });
  }

  async #openTunnel(): Promise<void> {
    const live = this.#live;
    if (live === null || this.#tunnel !== null || this.#connecting || this.#closed) return;
    this.#connecting = true;
    try {
      // A re-authentication by another process (`latch login`) replaced the items: use those.
      live.secrets = await loadSessionSecrets(this.options.store, live.sessionId).catch(() => live.secrets);
      const tunnel = await this.options.openTunnel({ ...this.options.tunnel, proxyUrl: live.proxyUrl, caPem: live.caPem, secrets: live.secrets });
      if (this.#live !== live || this.#closed) {
        await tunnel.close(CloseCode.GOING_AWAY, 'client closed');
        return;
      }
      this.#attach(tunnel);
    } catch (err) {
      if (this.#live !== live || this.#closed) return;
      const e = networkError(err, live.proxyUrl);
      if (isSessionGone(e)) {
        this.#endFromRefusal(e);
        return;
      }
      this.#lastError = e.toJSON();
      this.#publish();
      this.#scheduleReconnect(PERMANENT.has(e.code));
    } finally {
      this.#connecting = false;
    }
  }

  #attach(tunnel: EngineTunnel): void {
    this.#tunnel = tunnel;
    this.#backoffMs = this.options.reconnectInitialMs;
    this.#lastError = null;
    tunnel.on('message', (message) => {
      if (this.#tunnel === tunnel) this.#onServerMessage(message);
    });
    tunnel.on('connectionError', (resourceId, error) => {
      this.#emit('connectionError', { resourceId, error: error.toJSON() });
    });
    tunnel.once('end', (end) => {
      if (this.#tunnel !== tunnel) return;
      this.#tunnel = null;
      this.#onTunnelEnd(end);
    });
    this.#machine.connectionRestored();
    this.#lastReport = null;
    this.#sampleNow();
    void this.#live?.client.confirmPendingWipes();
    this.#publish();
  }

  #onServerMessage(message: ServerMessage): void {
    if (message.type === 'session.state') {
      const before = this.#renewalsLeft;
      this.#renewalsLeft = message.renewalsLeft;
      this.#machine.serverMessage(message);
      if (before !== null && message.renewalsLeft < before && this.#live !== null) {
        this.#emit('renewed', { idleRemainingMs: message.idleRemainingMs, renewalsLeft: message.renewalsLeft });
        this.#settleRenew(null);
        if (this.#noticeKind === 'warning') void this.#closeNotice();
      }
      return;
    }
    this.#machine.serverMessage(message);
  }

  #onTunnelEnd(end: TunnelEnd): void {
    if (end.local || this.#live === null) return;
    this.#machine.connectionLost(end.closeCode);
    if (this.#live === null) return;
    if (end.error !== undefined) this.#lastError = end.error.toJSON();
    this.#publish();
    this.#scheduleReconnect(false);
  }

  #scheduleReconnect(permanent: boolean): void {
    if (this.#closed || this.#live === null || this.#reconnectTimer !== null) return;
    // A wrong server or protocol will not fix itself quickly: retry, but at the slowest pace.
    const wait = permanent ? this.options.reconnectMaxMs : this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.options.reconnectMaxMs);
    this.#reconnectTimer = this.#clock.setTimer(wait, () => {
      this.#reconnectTimer = null;
      void this.#openTunnel();
    });
  }

  /** After resume or unlock: fresh state from the proxy now (reconnect at once if the tunnel is down). */
  async #recheck(): Promise<void> {
    const live = this.#live;
    if (live === null || this.#closed) return;
    if (this.#tunnel === null) {
      if (this.#reconnectTimer !== null) {
        this.#clock.clearTimer(this.#reconnectTimer);
        this.#reconnectTimer = null;
      }
      this.#backoffMs = this.options.reconnectInitialMs;
      await this.#openTunnel();
      return;
    }
    let state: SessionStateResponse;
    try {
      state = await live.client.sessionState(live.secrets);
    } catch (err) {
      if (this.#live === live && isSessionGone(err)) this.#endFromRefusal(err);
      return;
    }
    if (this.#live === live && this.#tunnel !== null) this.#onServerMessage({ type: 'session.state', ...state });
  }

  /** The proxy refused the session's credentials: end with the reason it gave (fail closed). */
  #endFromRefusal(err: unknown): void {
    if (isLatchError(err)) this.#refusal = { code: err.code, message: err.message };
    const reason: EndReason = endReasonOf(err) ?? (isLatchError(err, ErrorCode.CERT_EXPIRED) ? 'absolute' : 'error');
    const detail = err instanceof Error ? err.message : '';
    this.#machine.serverMessage({ type: 'session.ended', reason, message: detail });
  }

  /** Every end path arrives here once per session (SessionMachine guarantees it). */
  async #onEnded(end: SessionEnd): Promise<void> {
    const live = this.#live;
    this.#live = null;
    this.#stopLoops();
    this.#settleRenew(new LatchError(ErrorCode.SESSION_ENDED, `${end.message}: sign in again`));
    const tunnelOnly = !end.wipe;
    const message = tunnelOnly ? 'Disconnected: a newer connection of this session took over' : end.message;
    this.#ended = { reason: end.reason, message, local: end.local, wiped: false, ...(this.#refusal === null ? {} : { error: this.#refusal }) };
    this.#refusal = null;
    const tunnel = this.#tunnel;
    this.#tunnel = null;
    // Listeners, tunnel and keychain at once: each is a step of ending, none waits for another.
    const wiping = tunnelOnly || live === null ? null : this.#wiper.wipe(end.sessionId);
    await Promise.allSettled([this.#closeListeners(), tunnel?.close(CloseCode.NORMAL, `session ended: ${end.reason}`), this.#closeWarning()]);
    this.#publish();
    if (wiping === null || live === null) {
      this.#emit('ended', this.#ended);
      return;
    }
    let wiped = false;
    try {
      await wiping;
      wiped = true;
    } catch (err) {
      this.#lastError = toSerialized(err);
    }
    await this.#clearProfileSession(end.sessionId);
    this.#ended = { ...this.#ended, wiped };
    this.#publish();
    this.#emit('ended', this.#ended);
    void this.#showEndNotice(this.#ended);
    // Confirm now if the proxy answers quickly; otherwise at next contact (the profile keeps it).
    const quick = new ProxyClient({ ...this.#clientOptions(), proxyUrl: live.proxyUrl, caFingerprint: live.client.options.caFingerprint, caPem: live.caPem, timeoutMs: this.options.confirmTimeoutMs });
    await quick.confirmPendingWipes();
  }

  async #clearProfileSession(sessionId: string): Promise<void> {
    try {
      const profile = await this.options.profiles.read();
      if (profile?.session?.id !== sessionId) return;
      const signedOut: Profile = { ...profile };
      delete signedOut.session;
      await this.options.profiles.write(signedOut);
    } catch (err) {
      this.#lastError = toSerialized(err);
    }
  }

  /** Waits for an end path that is running (wipe, confirm) to finish. */
  async #settled(): Promise<void> {
    while (this.#endWork !== null) {
      const work = this.#endWork;
      await work;
      if (this.#endWork === work) this.#endWork = null;
    }
  }

  // --- idle reporting ----------------------------------------------------------------------

  #scheduleIdle(delayMs: number): void {
    if (this.#idleTimer !== null) this.#clock.clearTimer(this.#idleTimer);
    this.#idleTimer = this.#clock.setTimer(delayMs, () => {
      this.#idleTimer = null;
      void this.#idleTick();
    });
  }

  #sampleNow(): void {
    if (this.#live !== null && !this.#closed) this.#scheduleIdle(0);
  }

  async #idleTick(): Promise<void> {
    if (this.#live === null || this.#closed) return;
    // Fixed rate: the next reading is due one interval after this one started, however slow the
    // OS helper is (a busy machine must not stretch the reports past a short idle timeout).
    if (this.#idleTimer === null) this.#scheduleIdle(this.#sampleInterval());
    if (this.#sampling) return;
    this.#sampling = true;
    let sample: IdleSample | null = null;
    try {
      sample = await this.options.idle.sample();
    } catch (err) {
      // Never a made-up "0 idle": without a reading nothing is reported, and the idle deadline runs.
      sample = null;
      this.#lastError = toSerialized(err);
    } finally {
      this.#sampling = false;
    }
    if (this.#live === null || this.#closed) return;
    if (sample !== null) this.#report({ idleMs: sample.idleMs, locked: sample.locked || this.#lockedByEvent });
  }

  #idleTimeout(): number {
    return this.#machine.policy?.idleTimeoutMs ?? Infinity;
  }

  /** Eight readings per idle timeout under a short one (tests, strict policies), never more than four a second. */
  #sampleInterval(): number {
    return Math.max(250, Math.min(this.options.idleSampleIntervalMs, this.#idleTimeout() / 8));
  }

  /**
   * Eight reports per idle timeout under a short one, at most one per reading: the proxy counts
   * input at a granularity of about a second, so a 4 s policy reported every 500 ms keeps its
   * deadline at least 2.5 s away while someone is at the machine.
   */
  #reportInterval(): number {
    return Math.max(this.#sampleInterval(), Math.min(this.options.idleReportIntervalMs, this.#idleTimeout() / 8));
  }

  #report(sample: IdleSample): void {
    const tunnel = this.#tunnel;
    if (tunnel === null) return;
    const now = this.#clock.monotonicNow();
    const last = this.#lastReport;
    const sampleInterval = this.#sampleInterval();
    // Readings come one interval apart, give or take the timer: half an interval of slack keeps
    // a report due every Nth reading instead of slipping to the next one.
    const due = last === null || now - last.at + sampleInterval / 2 >= this.#reportInterval();
    // Input since the last report, while the proxy believes we are away: tell it at once.
    const inputResumed = last !== null && last.idleMs >= sampleInterval && sample.idleMs + sampleInterval / 2 < last.idleMs + (now - last.at);
    const lockChanged = last !== null && last.locked !== sample.locked;
    if (!due && !inputResumed && !lockChanged) return;
    tunnel.send({ type: 'activity', idleMs: Math.max(0, Math.round(sample.idleMs)), locked: sample.locked });
    this.#lastReport = { idleMs: sample.idleMs, locked: sample.locked, at: now };
  }

  // --- notifications -----------------------------------------------------------------------

  #onWarning(w: SessionWarning): void {
    const view: WarningView = { kind: w.kind, remainingMs: w.remainingMs, canRenew: w.canRenew };
    this.#emit('warning', view);
    const notifier = this.options.notifier;
    if (notifier === null) return;
    const { title, body } = describeWarning(w.kind, w.remainingMs, w.canRenew);
    const live = this.#live;
    notifier
      .show({ id: NOTIFICATION_ID, title, body, actions: w.canRenew ? [{ id: 'renew', label: 'Renew' }] : [], urgency: 'critical' })
      .then(async (handle) => {
        // Renewed or ended while it was being shown: it is stale already.
        if (this.#live !== live || this.#machine.snapshot().warning === null) {
          await handle.close().catch(() => undefined);
          return;
        }
        this.#notice = handle;
        this.#noticeKind = 'warning';
        handle.on('action', (actionId) => {
          if (actionId !== 'renew') return;
          this.renew().catch(() => undefined);
        });
        handle.once('closed', () => {
          if (this.#notice === handle) {
            this.#notice = null;
            this.#noticeKind = null;
          }
        });
      })
      .catch((err: unknown) => {
        this.#lastError = toSerialized(err);
        this.#publish();
      });
  }

  async #showEndNotice(ended: EndedView): Promise<void> {
    const notifier = this.options.notifier;
    if (notifier === null || this.#closed) return;
    try {
      const body = ended.wiped ? 'Sign in again to continue. The session\u2019s credentials were removed from this device.' : 'Sign in again to continue.';
      const actions = this.options.offerSignInAgain ? [{ id: 'sign-in', label: 'Sign in again' }] : [];
      const handle = await notifier.show({ id: NOTIFICATION_ID, title: ended.message, body, actions, urgency: 'normal' });
      this.#notice = handle;
      this.#noticeKind = 'ended';
    } catch {
      // The terminal and the window say it too; a missing notification daemon is not an error here.
    }
  }

  async #closeWarning(): Promise<void> {
    if (this.#noticeKind === 'warning') await this.#closeNotice();
  }

  async #closeNotice(): Promise<void> {
    const handle = this.#notice;
    this.#notice = null;
    this.#noticeKind = null;
    await handle?.close().catch(() => undefined);
  }

  // --- helpers -----------------------------------------------------------------------------

  #settleRenew(error: LatchError | null): void {
    const waiters = this.#renewWaiters;
    this.#renewWaiters = [];
    for (const w of waiters) {
      this.#clock.clearTimer(w.timer);
      if (error === null) w.resolve();
      else w.reject(error);
    }
  }

  #stopLoops(): void {
    if (this.#reconnectTimer !== null) this.#clock.clearTimer(this.#reconnectTimer);
    if (this.#idleTimer !== null) this.#clock.clearTimer(this.#idleTimer);
    this.#reconnectTimer = null;
    this.#idleTimer = null;
    this.#lastReport = null;
  }

  async #closeListeners(): Promise<void> {
    const owned = [...this.#owned.values()];
    this.#owned.clear();
    await Promise.allSettled(owned.map(async (o) => o.listener.close()));
  }

  #clientOptions(): { store: CredentialStore; profiles: ProfileStore; timeoutMs: number; device: string; now: () => number } {
    return { store: this.options.store, profiles: this.options.profiles, timeoutMs: this.options.requestTimeoutMs, device: this.options.device, now: () => this.#clock.wallNow() };
  }

  #clientFor(profile: Profile): ProxyClient {
    return new ProxyClient({ ...this.#clientOptions(), proxyUrl: profile.proxyUrl, caFingerprint: profile.caFingerprint, caPem: profile.caPem });
  }

  #assertOpen(): void {
    if (this.#closed) throw new LatchError(ErrorCode.USAGE, 'the engine is closed');
  }

  #publish(): void {
    if (this.#listeners.changed.size === 0) return;
    this.#emit('changed', this.snapshot());
  }

  /**
   * Connection counts move in bursts (a client program may open hundreds of connections at once):
   * at most one snapshot per COUNTS_PUBLISH_MS is plenty for the tray, the window and the
   * terminal, where a snapshot (and an IPC message) per connection opened or closed cost the
   * client ~10 % of its CPU with many short connections.
   */
  #publishCounts(): void {
    if (this.#countsTimer !== null || this.#closed) return;
    this.#countsTimer = this.#clock.setTimer(COUNTS_PUBLISH_MS, () => {
      this.#countsTimer = null;
      if (!this.#closed) this.#publish();
    });
  }

  #emit<K extends EventName>(event: K, payload: ClientEngineEvents[K]): void {
    for (const listener of [...(this.#listeners[event] as Set<Listener<K>>)]) {
      try {
        listener(payload);
      } catch (err) {
        // A host's bug must not break the session's end path; make it loud, not silent.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

function parseSignIn(request: SignInRequest): { proxyUrl: string; caFingerprint: string; credentials: LoginCredentials } {
  if (request.kind === 'link') {
    const e = parseEnrollmentLink(request.link);
    return { proxyUrl: e.proxyUrl, caFingerprint: e.caFingerprint, credentials: { method: 'enrollment', code: e.code } };
  }
  if (request.user.trim() === '') throw new LatchError(ErrorCode.USAGE, 'a user name is required');
  return {
    proxyUrl: normalizeProxyUrl(request.proxyUrl),
    caFingerprint: normalizeFingerprint(request.caFingerprint),
    credentials: { method: 'password', user: request.user, password: request.password },
  };
}

function toSerialized(err: unknown): SerializedError {
  if (err instanceof LatchError) return err.toJSON();
  return { code: ErrorCode.INTERNAL, message: err instanceof Error ? err.message : String(err) };
}
