import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { runChild, spawnChild } from './children.ts';
import type { Child, RunResult } from './children.ts';
import { freePort } from './freePort.ts';

const ROOT = join(import.meta.dirname, '..', '..');
export const PROXY_BIN = join(ROOT, 'bin', 'latch-proxy.js');

/**
 * Node's on-disk compile cache for every latch / latch-proxy process a suite starts: a CLI run
 * then costs ~0.15 s of CPU instead of ~0.5 s, which keeps a 2-core machine from drifting the
 * deadlines the suites measure. Content-addressed by Node, so a stale entry is never used.
 */
export const COMPILE_CACHE_ENV: NodeJS.ProcessEnv = { NODE_COMPILE_CACHE: join(tmpdir(), 'latch-e2e-node-compile-cache') };

export interface ProxyResource {
  id: string;
  target: string;
  group?: string;
}

export interface ProxyOptions {
  resources: readonly ProxyResource[];
  /** `session:` keys (maxDuration, ...). */
  session?: Record<string, unknown>;
  /** `limits:` keys (maxStreams, initialWindow, ...). */
  limits?: Record<string, unknown>;
  /** `groups:` map of policy groups. */
  groups?: Record<string, Record<string, unknown>>;
  /** Any other top-level keys (audit, ...). */
  extra?: Record<string, unknown>;
  /** Users created with `latch-proxy user add` before serving. */
  users?: ReadonlyArray<{ name: string; password: string }>;
  /** Extra environment for `serve`. */
  env?: NodeJS.ProcessEnv;
}

export interface DebugStats {
  sessions: number;
  streams: number;
  bufferedBytes: number;
  rss: number;
}

/** One line of the audit trail, the fields the suites look at. */
export interface AuditLine {
  seq: number;
  /** unmapped.latch_event: session.started, session.warning, ... */
  event: string;
  /** Epoch ms. */
  time: number;
  /** session.uid_hash (HMAC of the session id under the proxy's salt). */
  sessionHash: string | undefined;
  /** unmapped.reason (session.ended, auth.failed). */
  reason: string | undefined;
  raw: Record<string, unknown>;
}

/** A session's live listing in `latch-proxy sessions --json`. */
export interface SessionListing {
  sessionId: string;
  user: string;
  groups: string[];
  idleRemainingMs: number;
  absoluteRemainingMs: number;
  renewals: number;
  maxRenewals: number | null;
  idleTimeoutMs: number | null;
  maxDurationMs: number | null;
}

export interface ProxyHandle {
  /** Data directory (config, CA, store, audit log). */
  dir: string;
  configFile: string;
  /** https://127.0.0.1:PORT; stays the same across restart(). */
  url: string;
  port: number;
  fingerprint: string;
  caPem: string;
  /** The running `serve` (replaced by restart()). */
  child: Child;
  /** `latch-proxy ARGS --config FILE` to completion. */
  cli(args: readonly string[], input?: string): Promise<RunResult>;
  /** `latch-proxy enroll NAME`: the one-time code and the latch:// link. */
  enroll(user: string): Promise<{ code: string; link: string }>;
  /** audit.jsonl in the data directory. */
  auditFile: string;
  /** Every line of the audit trail so far (optionally only one session's). */
  audit(sessionId?: string): AuditLine[];
  /** `latch-proxy audit verify FILE` (no config needed). */
  auditVerify(file: string): Promise<RunResult>;
  /** `latch-proxy sessions --json`; `serving` is false when it read the store directly. */
  sessions(): Promise<{ serving: boolean; sessions: SessionListing[] }>;
  /** GET /v1/debug/stats (serve runs with LATCH_PROXY_DEBUG_STATS=1). */
  stats(): Promise<DebugStats>;
  /** Starts `serve` again on the same port and data (after kill/stop). */
  restart(): Promise<Child>;
  stop(): Promise<void>;
}

/**
 * A real `latch-proxy` in a data directory of its own: `init`, the config edited as an admin
 * would (resources, limits, groups), `user add`, then `serve` on a loopback port chosen here
 * (so a restart keeps the URL clients pinned). Every process is stopped by its PID.
 */
export async function startProxy(options: ProxyOptions): Promise<ProxyHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'latch-e2e-proxy-'));
  const node = process.execPath;
  const configFile = join(dir, 'latch-proxy.yaml');
  const cli = (args: readonly string[], input?: string): Promise<RunResult> =>
    runChild(`latch-proxy ${args[0] ?? ''}`, node, [PROXY_BIN, ...args, '--config', configFile], { cwd: ROOT, env: { ...process.env, ...COMPILE_CACHE_ENV }, timeoutMs: 30_000, ...(input === undefined ? {} : { input }) });

  const init = await runChild('latch-proxy init', node, [PROXY_BIN, 'init', dir, '--listen', '127.0.0.1:0', '--force'], { cwd: ROOT, env: { ...process.env, ...COMPILE_CACHE_ENV }, timeoutMs: 30_000 });
  if (init.code !== 0) throw new Error(`latch-proxy init failed: ${init.stderr}`);
  const fingerprint = /CA fingerprint: (sha256:[0-9a-f]{64})/.exec(init.stdout)?.[1];
  if (fingerprint === undefined) throw new Error(`latch-proxy init printed no fingerprint: ${init.stdout}`);
  const caPem = readFileSync(join(dir, 'ca.crt'), 'utf8');

  const doc = parseDocument(readFileSync(configFile, 'utf8'));
  doc.set('resources', options.resources.map((r) => ({ ...r })));
  for (const [key, value] of Object.entries(options.session ?? {})) doc.setIn(['session', key], value);
  for (const [key, value] of Object.entries(options.limits ?? {})) doc.setIn(['limits', key], value);
  if (options.groups !== undefined) doc.set('groups', options.groups);
  for (const [key, value] of Object.entries(options.extra ?? {})) doc.set(key, value);
  const baseConfig = doc;
  for (const user of options.users ?? []) {
    // The config must be valid for `user add`; the listen port is set below.
    writeFileSync(configFile, baseConfig.toString());
    const add = await cli(['user', 'add', user.name], `${user.password}\n`);
    if (add.code !== 0) throw new Error(`latch-proxy user add ${user.name} failed: ${add.stderr}`);
  }

  let port = 0;
  let child: Child | undefined;
  const env = { ...process.env, ...COMPILE_CACHE_ENV, LATCH_PROXY_DEBUG_STATS: '1', ...options.env };
  const serve = async (): Promise<Child> => {
    const c = spawnChild('latch-proxy serve', node, [PROXY_BIN, 'serve', '--config', configFile], { cwd: ROOT, env });
    await c.waitFor(/listening on https:\/\/127\.0\.0\.1:(\d+)/, 20_000);
    return c;
  };
  let lastError: unknown;
  for (let attempt = 0; attempt < 5 && child === undefined; attempt++) {
    port = await freePort();
    baseConfig.set('listen', `127.0.0.1:${port}`);
    baseConfig.set('publicUrl', `https://127.0.0.1:${port}`);
    writeFileSync(configFile, baseConfig.toString());
    try {
      child = await serve();
    } catch (err) {
      lastError = err;
    }
  }
  if (child === undefined) throw new Error(`latch-proxy serve did not start: ${String(lastError)}`);
  const url = `https://127.0.0.1:${port}`;

  const handle: ProxyHandle = {
    dir,
    configFile,
    url,
    port,
    fingerprint,
    caPem,
    child,
    cli,
    enroll: async (user) => {
      const r = await cli(['enroll', user]);
      if (r.code !== 0) throw new Error(`latch-proxy enroll ${user} failed: ${r.stderr}`);
      const code = /^code: (\S+)$/m.exec(r.stdout)?.[1];
      const link = /(latch:\/\/enroll\?\S+)/.exec(r.stdout)?.[1];
      if (code === undefined || link === undefined) throw new Error(`latch-proxy enroll printed no code/link: ${r.stdout}`);
      return { code, link };
    },
    auditFile: join(dir, 'audit.jsonl'),
    audit: (sessionId) => {
      const file = join(dir, 'audit.jsonl');
      if (!existsSync(file)) return [];
      const lines = readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          const raw = JSON.parse(l) as Record<string, unknown>;
          const unmapped = (raw['unmapped'] ?? {}) as Record<string, unknown>;
          const session = raw['session'] as { uid_hash?: string } | undefined;
          return {
            seq: Number(raw['seq']),
            event: String(unmapped['latch_event']),
            time: Number(raw['time']),
            sessionHash: session?.uid_hash,
            reason: typeof unmapped['reason'] === 'string' ? unmapped['reason'] : undefined,
            raw,
          };
        });
      if (sessionId === undefined) return lines;
      const salt = Buffer.from(readFileSync(join(dir, 'audit.salt'), 'utf8').trim(), 'hex');
      const hash = createHmac('sha256', salt).update(sessionId, 'utf8').digest('hex');
      return lines.filter((l) => l.sessionHash === hash);
    },
    auditVerify: (file) => runChild('latch-proxy audit verify', node, [PROXY_BIN, 'audit', 'verify', file], { cwd: ROOT, env: { ...process.env, ...COMPILE_CACHE_ENV }, timeoutMs: 30_000 }),
    sessions: async () => {
      const r = await cli(['sessions', '--json']);
      if (r.code !== 0) throw new Error(`latch-proxy sessions failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as { serving: boolean; sessions: SessionListing[] };
    },
    stats: () => getJson<DebugStats>(port, '/v1/debug/stats', caPem),
    restart: async () => {
      await handle.child.stop();
      handle.child = await serve();
      return handle.child;
    },
    stop: async () => {
      await handle.child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

export interface ProxyCredentials {
  cert: string;
  key: string;
  token: string;
}

export interface ProxyResponse {
  status: number;
  /** Parsed JSON body (undefined when the body is not JSON). */
  body: unknown;
  text: string;
}

/** One HTTPS request to the proxy, optionally with a session's certificate, key and token; bounded in time. */
export function proxyRequest(
  port: number,
  caPem: string,
  options: { method?: string; path: string; creds?: ProxyCredentials; body?: unknown; timeoutMs?: number },
): Promise<ProxyResponse> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string | number> = {};
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    if (options.creds !== undefined) headers['authorization'] = `Bearer ${options.creds.token}`;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: options.path,
        method: options.method ?? 'GET',
        ca: caPem,
        agent: false,
        headers,
        timeout: options.timeoutMs ?? 10_000,
        ...(options.creds === undefined ? {} : { cert: options.creds.cert, key: options.creds.key }),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body, text });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${options.path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** GET a JSON document from the proxy (no client certificate); rejects unless 200. */
export async function getJson<T>(port: number, path: string, caPem: string, timeoutMs = 10_000): Promise<T> {
  const res = await proxyRequest(port, caPem, { path, timeoutMs });
  if (res.status !== 200 || res.body === undefined) throw new Error(`GET ${path}: ${res.status}: ${res.text}`);
  return res.body as T;
}
