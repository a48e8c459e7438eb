import { parseArgs } from 'node:util';
import { formatDuration } from '../../../common/durations.ts';
import type { EndedView, EngineSnapshot, WarningView } from '../../../common/engineState.ts';
import { ErrorCode, LatchError } from '../../../common/errors.ts';
import { ClientEngine } from '../../core/ClientEngine.ts';
import { isIdleSourceKind, IdleSourceKind } from '../../core/idle/IdleSource.ts';
import type { IdleSource } from '../../core/idle/IdleSource.ts';
import type { Notifier } from '../../core/notify/Notifier.ts';
import type { CliContext } from '../CliContext.ts';
import { line } from '../CliContext.ts';
import { ExitCode, exitCodeForReason } from '../exitCodes.ts';
import { createIdleSource } from '../idle/createIdleSource.ts';
import { createNotifier } from '../notify/createNotifier.ts';
import { parseResourceSpecs } from '../parseResourceSpecs.ts';
import { StatusLine } from '../StatusLine.ts';

export const CONNECT_USAGE = 'latch connect RESOURCE[:PORT]... [--port N] [--idle auto|x11|mutter|macos|windows|none] [--json]';

/** Ctrl-C arrives as this byte when the terminal is in raw mode (no SIGINT then). */
const CTRL_C = 0x03;

/**
 * `latch connect`: runs the client engine. One 127.0.0.1 listener per resource, every accepted
 * connection carried as a stream over the session's tunnel (reconnected when lost). Reports OS idle
 * time, shows a live countdown on a terminal, warns in the terminal and on the desktop (Renew
 * action), renews on `r`. Runs until SIGINT/SIGTERM (exit 0; the session stays signed in) or until
 * the session ends (the reason in plain words, credentials wiped, an exit code per reason).
 */
export async function connect(argv: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      port: { type: 'string' },
      idle: { type: 'string', default: IdleSourceKind.AUTO },
      json: { type: 'boolean', default: false },
    },
  });
  const specs = parseResourceSpecs(positionals, values.port);
  const json = values.json;
  if (!isIdleSourceKind(values.idle)) {
    throw new LatchError(ErrorCode.USAGE, `unknown idle source "${values.idle}": use auto, x11, mutter, macos, windows or none`);
  }
  // Not signed in is the more useful answer than a missing idle source.
  if ((await ctx.profiles.read())?.session === undefined) throw new LatchError(ErrorCode.NOT_SIGNED_IN, 'not signed in: run `latch login` first');
  const status = new StatusLine(ctx.stderr);
  const say = (text: string): void => status.print(text);

  const idle = await openIdleSource(values.idle, ctx);
  let notifier: Notifier | null = null;
  try {
    notifier = createNotifier({ platform: process.platform, vars: ctx.env });
  } catch (err) {
    const e = err instanceof LatchError ? err : new LatchError(ErrorCode.NOTIFY_UNAVAILABLE, String(err));
    line(ctx.stderr, `latch: desktop notifications are unavailable (${e.code}: ${e.message}); warnings are shown in this terminal only.`);
  }
  const engine = new ClientEngine({ store: ctx.store, profiles: ctx.profiles, idle, notifier });
  const stopKeys = listenForKeys(ctx);
  let endedCleanly = false;
  try {
    await engine.start();
    const first = engine.snapshot();
    if (first.phase === 'ended' && first.ended !== null) {
      endedCleanly = true;
      return reportEnd(first.ended, ctx, json, status);
    }
    if (first.phase === 'signed-out') {
      const why = first.lastError === null ? '' : ` (${first.lastError.message})`;
      throw new LatchError(ErrorCode.NOT_SIGNED_IN, `not signed in: run \`latch login\` first${why}`);
    }
    const known = new Set(first.resources.map((r) => r.id));
    for (const { resourceId } of specs) {
      if (!known.has(resourceId)) {
        const list = first.resources.length === 0 ? 'none' : first.resources.map((r) => r.id).join(', ');
        throw new LatchError(ErrorCode.UNKNOWN_RESOURCE, `unknown resource "${resourceId}" (available: ${list})`);
      }
    }
    for (const spec of specs) {
      const info = await engine.connect(spec.resourceId, spec.port);
      line(
        ctx.stdout,
        json ? JSON.stringify({ event: 'listening', resource: info.resourceId, host: info.host, port: info.port }) : `${info.resourceId}  ${info.host}:${info.port}`,
      );
    }
    if (!json) say(`Tunnels are up. Press ${stopKeys.raw ? 'r to renew, ' : ''}Ctrl-C to close them.`);

    const outcome = await new Promise<{ ended: EndedView } | { signal: string } | { lost: LatchError }>((resolve) => {
      const cleanups: Array<() => void> = [];
      const done = (value: { ended: EndedView } | { signal: string } | { lost: LatchError }): void => {
        for (const c of cleanups) c();
        resolve(value);
      };
      cleanups.push(engine.on('ended', (ended) => done({ ended })));
      cleanups.push(
        engine.on('changed', (s) => {
          // A proxy whose certificate no longer matches the pin will not come back by retrying.
          if (s.phase === 'offline' && s.lastError?.code === ErrorCode.CA_MISMATCH) done({ lost: new LatchError(s.lastError.code, s.lastError.message) });
        }),
      );
      void ctx.interrupted.then((signal) => done({ signal }));
      void stopKeys.interrupted.then((signal) => done({ signal }));
      stopKeys.onRenew(() => {
        engine.renew().catch((err: unknown) => {
          const e = err instanceof LatchError ? err : new LatchError(ErrorCode.INTERNAL, String(err));
          if (json) line(ctx.stdout, JSON.stringify({ event: 'renew.failed', code: e.code, message: e.message }));
          else say(`latch: ${e.code}: ${e.message}`);
        });
      });
      watch(engine, ctx, json, status, cleanups);
    });

    if ('ended' in outcome) {
      endedCleanly = true;
      status.clear();
      return reportEnd(outcome.ended, ctx, json, status);
    }
    await engine.close();
    status.clear();
    if ('lost' in outcome) {
      if (json) line(ctx.stdout, JSON.stringify({ event: 'closed', reason: 'tunnel-lost', code: outcome.lost.code, message: outcome.lost.message, exitCode: ExitCode.TUNNEL_LOST }));
      line(ctx.stderr, `latch: ${outcome.lost.code}: ${outcome.lost.message}`);
      return ExitCode.TUNNEL_LOST;
    }
    if (json) line(ctx.stdout, JSON.stringify({ event: 'closed', reason: 'interrupted', signal: outcome.signal }));
    else line(ctx.stderr, 'Tunnels closed. The session stays signed in (latch logout ends it).');
    return ExitCode.OK;
  } finally {
    stopKeys.stop();
    status.clear();
    await engine.close();
    idle.close();
    // After an end the notification saying why stays on screen; otherwise remove ours.
    if (!endedCleanly) await notifier?.close().catch(() => undefined);
  }
}

async function openIdleSource(kind: IdleSourceKind, ctx: CliContext): Promise<IdleSource> {
  try {
    return await createIdleSource(kind, { platform: process.platform, vars: ctx.env });
  } catch (err) {
    if (err instanceof LatchError && err.code === ErrorCode.IDLE_UNAVAILABLE && !err.message.includes('--idle none')) {
      throw new LatchError(err.code, `${err.message}. Use --idle none to count only explicit renewals (r, latch renew).`, { cause: err });
    }
    throw err;
  }
}

/** Prints the engine's changes: the countdown line, warnings, renewals, phase changes (text or --json lines). */
function watch(engine: ClientEngine, ctx: CliContext, json: boolean, status: StatusLine, cleanups: Array<() => void>): void {
  const say = (text: string): void => status.print(text);
  let previous: EngineSnapshot | null = null;
  let previousDeadlines: Implied | null = null;
  const emitState = (s: EngineSnapshot): void => {
    const v = s.session;
    line(
      ctx.stdout,
      JSON.stringify({
        event: 'state',
        phase: s.phase,
        sessionId: v?.sessionId ?? null,
        idleRemainingMs: v?.idleRemainingMs ?? null,
        absoluteRemainingMs: v?.absoluteRemainingMs ?? null,
        renewalsLeft: v?.renewalsLeft ?? null,
        idleTimeoutMs: v?.policy.idleTimeoutMs ?? null,
        maxDurationMs: v?.policy.maxDurationMs ?? null,
        groups: v?.policy.groups ?? [],
      }),
    );
  };
  const onChanged = (s: EngineSnapshot): void => {
    if (s.phase === 'ended') return;
    const p = previous;
    const deadlines = implied(s, Date.now());
    if (json) {
      if (p === null || stateMoved(p, s, previousDeadlines, deadlines)) {
        emitState(s);
        previous = s;
        previousDeadlines = deadlines;
      }
    } else {
      if (p !== null && p.phase !== s.phase) {
        if (s.phase === 'offline') say(`Connection to the proxy lost${s.lastError ? ` (${s.lastError.message})` : ''}; reconnecting. The session still ends on time.`);
        else if (p.phase === 'offline' && (s.phase === 'active' || s.phase === 'warning')) say('Reconnected to the proxy.');
      }
      previous = s;
    }
    status.update(countdown(s));
  };
  cleanups.push(engine.on('changed', onChanged));
  cleanups.push(
    engine.on('warning', (w: WarningView) => {
      if (json) line(ctx.stdout, JSON.stringify({ event: 'warning', kind: w.kind, remainingMs: w.remainingMs, canRenew: w.canRenew }));
      else say(warningText(w));
    }),
  );
  cleanups.push(
    engine.on('renewed', (r) => {
      if (json) line(ctx.stdout, JSON.stringify({ event: 'renewed', idleRemainingMs: r.idleRemainingMs, renewalsLeft: r.renewalsLeft }));
      else say(`Renewed: idle deadline in ${formatDuration(r.idleRemainingMs)}; ${plural(r.renewalsLeft, 'renewal')} left.`);
    }),
  );
  cleanups.push(
    engine.on('connectionError', ({ resourceId, error }) => {
      if (json) line(ctx.stdout, JSON.stringify({ event: 'connection.error', resource: resourceId, code: error.code, message: error.message }));
      else say(`${resourceId}: a connection failed: ${error.code}: ${error.message}`);
    }),
  );
  onChanged(engine.snapshot());
}

/** Deadlines as wall-clock instants on this machine, to tell a moved deadline from the countdown. */
interface Implied {
  idle: number;
  absolute: number;
}

function implied(s: EngineSnapshot, now: number): Implied | null {
  return s.session === null ? null : { idle: now + s.session.idleRemainingMs, absolute: now + s.session.absoluteRemainingMs };
}

/** A deadline moved (either way) by more than this: fresh state from the proxy, not the countdown ticking. */
const MOVED_MS = 250;

/** Whether a --json `state` line is due: anything but the countdown itself changed. */
function stateMoved(a: EngineSnapshot, b: EngineSnapshot, da: Implied | null, db: Implied | null): boolean {
  if (a.phase !== b.phase || (a.session === null) !== (b.session === null)) return true;
  const x = a.session;
  const y = b.session;
  if (x === null || y === null || da === null || db === null) return false;
  if (x.renewalsLeft !== y.renewalsLeft || x.policy.idleTimeoutMs !== y.policy.idleTimeoutMs || x.policy.maxDurationMs !== y.policy.maxDurationMs) return true;
  if (x.policy.groups.join(',') !== y.policy.groups.join(',')) return true;
  return Math.abs(db.idle - da.idle) > MOVED_MS || Math.abs(db.absolute - da.absolute) > MOVED_MS;
}

function countdown(s: EngineSnapshot): string {
  const v = s.session;
  if (v === null) return s.phase === 'offline' ? 'offline: reconnecting to the proxy' : `${s.phase}…`;
  const groups = v.policy.groups.length === 0 ? 'default policy' : `${v.policy.groups.join('+')} policy`;
  const state = s.phase === 'offline' ? 'OFFLINE (reconnecting)' : s.phase === 'warning' ? 'ENDING SOON' : s.phase;
  const renew = v.renewalsLeft > 0 ? ` · ${plural(v.renewalsLeft, 'renewal')} left · r renews` : ' · no renewals left';
  return `${state} · idle ends in ${formatDuration(v.idleRemainingMs)} (of ${formatDuration(v.policy.idleTimeoutMs)}) · session ends in ${formatDuration(v.absoluteRemainingMs)} · ${groups}${renew}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function warningText(w: WarningView): string {
  const head = `Warning: the session ends in ${formatDuration(w.remainingMs)}`;
  if (w.kind === 'absolute') return `${head} (maximum duration reached). Run \`latch login\` to sign in again and keep the tunnels up.`;
  return w.canRenew ? `${head} (idle). Press r here or run \`latch renew\` to renew.` : `${head} (idle), and no renewals are left.`;
}

function reportEnd(ended: EndedView, ctx: CliContext, json: boolean, status: StatusLine): number {
  const code = exitCodeForReason(ended.reason);
  status.clear();
  if (json) {
    line(ctx.stdout, JSON.stringify({ event: 'ended', reason: ended.reason, message: ended.message, local: ended.local, wiped: ended.wiped, exitCode: code, ...(ended.error ? { code: ended.error.code } : {}) }));
    return code;
  }
  line(ctx.stderr, ended.message);
  if (ended.error) line(ctx.stderr, `latch: ${ended.error.code}: ${ended.error.message}`);
  if (ended.reason !== 'replaced') {
    line(ctx.stderr, ended.wiped ? 'The session\u2019s credentials were wiped from this machine. Sign in again with `latch login`.' : 'latch: the session\u2019s credentials could not all be wiped from the keychain; check it and sign in again.');
  }
  return code;
}

interface KeyInput {
  /** True when the terminal is in raw mode (single key presses arrive). */
  raw: boolean;
  interrupted: Promise<string>;
  onRenew(fn: () => void): void;
  stop(): void;
}

/** `r` renews and Ctrl-C stops, read in raw mode from a terminal only (never from a pipe). */
function listenForKeys(ctx: CliContext): KeyInput {
  const stdin = ctx.stdin;
  const never = new Promise<string>(() => undefined);
  if (stdin.isTTY !== true || typeof stdin.setRawMode !== 'function') {
    return { raw: false, interrupted: never, onRenew: () => undefined, stop: () => undefined };
  }
  let renew: () => void = () => undefined;
  let interrupt: (signal: string) => void = () => undefined;
  const interrupted = new Promise<string>((resolve) => {
    interrupt = resolve;
  });
  const onData = (chunk: Buffer): void => {
    for (const byte of chunk) {
      if (byte === CTRL_C) interrupt('SIGINT');
      else if (byte === 0x72 || byte === 0x52) renew();
    }
  };
  stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.resume();
  let stopped = false;
  return {
    raw: true,
    interrupted,
    onRenew: (fn) => {
      renew = fn;
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
    },
  };
}
