import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChild, spawnChild } from './children.ts';
import type { Child, RunResult } from './children.ts';
import { COMPILE_CACHE_ENV } from './startProxy.ts';

const ROOT = join(import.meta.dirname, '..', '..');
export const LATCH_BIN = join(ROOT, 'bin', 'latch.js');

/** One line of `latch connect --json` (or `latch login --json`) output. */
export type LatchEvent = Record<string, unknown> & { event: string };

export interface LatchClient {
  /** LATCH_CONFIG_DIR of this client: its profile and nothing secret. */
  configDir: string;
  /** The keychain service its items are stored under (`latch` unless keychainService). */
  service: string;
  env: NodeJS.ProcessEnv;
  /** `latch ARGS` to completion, `input` on stdin. */
  run(args: readonly string[], input?: string, timeoutMs?: number): Promise<RunResult>;
  /** `latch ARGS` left running (connect): parse its output with events(). */
  spawn(args: readonly string[], extraEnv?: NodeJS.ProcessEnv): Child;
  /** `latch login --proxy URL --ca-fingerprint FP --user NAME --json`; resolves with the session id. */
  login(proxy: { url: string; fingerprint: string }, user: string, password: string): Promise<string>;
  remove(): void;
}

/**
 * A `latch` terminal client (bin/latch.js on the pinned Node) with a config directory of its
 * own; the keychain is the run's Secret Service (service `latch` unless `keychainService`).
 */
export function latchClient(options: { keychainService?: string; env?: NodeJS.ProcessEnv } = {}): LatchClient {
  const configDir = mkdtempSync(join(tmpdir(), 'latch-e2e-client-'));
  const env: NodeJS.ProcessEnv = { ...process.env, ...COMPILE_CACHE_ENV, LATCH_CONFIG_DIR: configDir, ...options.env };
  if (options.keychainService !== undefined) env['LATCH_KEYCHAIN_SERVICE'] = options.keychainService;
  const run = (args: readonly string[], input?: string, timeoutMs = 30_000): Promise<RunResult> =>
    runChild(`latch ${args[0] ?? ''}`, process.execPath, [LATCH_BIN, ...args], { cwd: ROOT, env, timeoutMs, input: input ?? '' });
  return {
    configDir,
    service: options.keychainService ?? 'latch',
    env,
    run,
    spawn: (args, extraEnv) => spawnChild(`latch ${args.join(' ')}`, process.execPath, [LATCH_BIN, ...args], { cwd: ROOT, env: { ...env, ...extraEnv } }),
    login: async (proxy, user, password) => {
      const r = await run(['login', '--proxy', proxy.url, '--ca-fingerprint', proxy.fingerprint, '--user', user, '--json'], `${password}\n`);
      if (r.code !== 0) throw new Error(`latch login failed (${r.code}): ${r.stderr}`);
      const signedIn = parseEvents(r.stdout).find((e) => typeof e['sessionId'] === 'string');
      if (signedIn === undefined) throw new Error(`latch login --json printed no session: ${r.stdout}`);
      return String(signedIn['sessionId']);
    },
    remove: () => rmSync(configDir, { recursive: true, force: true }),
  };
}

/** Every JSON object line of `text` that has an "event" (other lines are ignored). */
export function parseEvents(text: string): LatchEvent[] {
  const out: LatchEvent[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      const v = JSON.parse(t) as unknown;
      if (typeof v === 'object' && v !== null && typeof (v as { event?: unknown }).event === 'string') out.push(v as LatchEvent);
    } catch {
      // a partial line: the next chunk completes it
    }
  }
  return out;
}

/** The --json events of a running `latch`, each with the epoch ms its line was read. */
export function timedEvents(child: Child): Array<{ at: number; event: LatchEvent }> {
  const out: Array<{ at: number; event: LatchEvent }> = [];
  for (const { at, text } of child.lines) {
    const [event] = parseEvents(text);
    if (event !== undefined) out.push({ at, event });
  }
  return out;
}

/** The first timed event after index `skip` that matches; rejects on exit or timeout. */
export function waitForTimedEvent(child: Child, match: (e: LatchEvent) => boolean, timeoutMs: number, what = 'matching event', skip = 0): Promise<{ at: number; event: LatchEvent; index: number }> {
  return child.waitUntil(
    () => {
      const all = timedEvents(child);
      for (let i = skip; i < all.length; i++) {
        const e = all[i];
        if (e !== undefined && match(e.event)) return { ...e, index: i };
      }
      return undefined;
    },
    timeoutMs,
    what,
  );
}

/** Resolves with the first --json event of a running `latch` that matches; rejects on exit or timeout. */
export function waitForEvent(child: Child, match: (e: LatchEvent) => boolean, timeoutMs: number, what = 'matching event'): Promise<LatchEvent> {
  return child.waitUntil(() => parseEvents(child.stdout).find(match), timeoutMs, what);
}

/** The port `latch connect --json` listens on for `resource`. */
export async function listeningPort(child: Child, resource: string, timeoutMs = 30_000): Promise<number> {
  const e = await waitForEvent(child, (x) => x.event === 'listening' && x['resource'] === resource, timeoutMs, `listening on ${resource}`);
  return Number(e['port']);
}

/** Every regular file under `dir` with its content (recursively). */
export function filesUnder(dir: string): Array<{ path: string; content: Buffer }> {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true, recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries.filter((e) => e.isFile()).map((e) => ({ path: join(e.parentPath, e.name), content: readFileSync(join(e.parentPath, e.name)) }));
}
