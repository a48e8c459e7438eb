/**
 * `latch-proxy`: the admin CLI and the server entry point. Exit codes: 0 success, 1 error
 * (printed as `latch-proxy: <CODE>: <message>`), 2 bad usage.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { EndReason } from '../common/closeCodes.ts';
import type { EndReason as EndReasonType } from '../common/closeCodes.ts';
import { parseDuration } from '../common/durations.ts';
import { ErrorCode, LatchError, isLatchError } from '../common/errors.ts';
import { createCa, CertificateAuthority } from './CertificateAuthority.ts';
import { createLogger, isLogLevel } from './logger.ts';
import { hashPassword } from './passwords.ts';
import { loadConfig, parseHostPort, proxyUrl, starterConfig } from './ProxyConfig.ts';
import { adminRequest } from './AdminServer.ts';
import { runAuditVerify } from './audit/index.ts';
import { ProxyServer, adminSocketPath } from './ProxyServer.ts';
import type { SessionListing } from './SessionManager.ts';
import { plainDuration } from './session/SessionTimers.ts';
import { readPassword } from './readPassword.ts';
import { Store, validateUserName } from './Store.ts';
import type { SessionRow } from './Store.ts';

const USAGE = `usage: latch-proxy <command> [options]

  init DIR [--host NAME]... [--listen 127.0.0.1:8443] [--force]
                         write a commented config, a CA, a server certificate and the store
  serve [--config FILE]  run the proxy (HTTPS + WSS on one port)
  user add NAME          add a user; the password is read from stdin (first line)
  user list              list users
  user remove NAME       remove a user and end their sessions
  enroll NAME [--ttl 24h]
                         create a one-time enrollment code and a latch:// link
  sessions [--json]      list live sessions: id, user, groups, idle and absolute time left,
                         renewals
  end SESSION [--reason revoked]
                         end a session (id or a unique prefix of 8+ characters); reason one of
                         revoked (default), error, logout, replaced, idle, absolute
  revoke USER            end every session of a user (reason revoked)
  audit verify [--json] FILE
                         check the audit trail's hash chain (exit 0 intact, 1 broken)

  --config FILE          configuration file (default ./latch-proxy.yaml)

  serve logs one JSON object per line on stderr; LATCH_PROXY_LOG_LEVEL=debug|info|warn|error
  (default info). LATCH_PROXY_DEBUG_STATS=1 serves GET /v1/debug/stats to loopback callers.
  sessions, end and revoke talk to the running serve through admin.sock in the data directory
  (the live client is told at once); with no serve running, end and revoke change the store
  and serve audits them at its next start.`;

const DEFAULT_CONFIG = 'latch-proxy.yaml';
const MIN_PASSWORD_LENGTH = 8;
const MAX_ENROLL_TTL_MS = 30 * 86_400_000;

class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

function parse(args: string[], options: Options): { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] } {
  try {
    return parseArgs({ args, options: { config: { type: 'string' }, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function configPath(values: Record<string, unknown>): string {
  const value = values.config;
  return resolve(typeof value === 'string' ? value : DEFAULT_CONFIG);
}

function expectPositionals(positionals: string[], count: number, what: string): void {
  if (positionals.length !== count) throw new UsageError(`expected ${what}`);
}

function writeFile(path: string, content: string, mode: number): void {
  writeFileSync(path, content, { mode });
  // writeFileSync's mode applies only when creating; --force must tighten existing files too.
  chmodSync(path, mode);
}

function cmdInit(args: string[]): void {
  const { values, positionals } = parse(args, { host: { type: 'string', multiple: true }, listen: { type: 'string' }, force: { type: 'boolean' } });
  expectPositionals(positionals, 1, 'init DIR');
  const dir = resolve(positionals[0] ?? '.');
  const listenText = typeof values.listen === 'string' ? values.listen : '127.0.0.1:8443';
  parseHostPort(listenText, true);
  const hosts = Array.isArray(values.host) ? values.host.filter((h): h is string => typeof h === 'string') : [];
  for (const host of hosts) parseHostPort(`${host.includes(':') ? `[${host}]` : host}:1`, false);

  const configFile = join(dir, 'latch-proxy.yaml');
  if (existsSync(configFile) && values.force !== true) {
    throw new LatchError(ErrorCode.CONFIG, `${configFile} already exists; pass --force to replace it (and the certificates)`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  const ca = createCa();
  const authority = new CertificateAuthority(ca);
  const server = authority.issueServerCertificate(hosts);
  writeFile(join(dir, 'ca.crt'), ca.certPem, 0o644);
  writeFile(join(dir, 'ca.key'), ca.keyPem, 0o600);
  writeFile(join(dir, 'server.crt'), server.certPem, 0o644);
  writeFile(join(dir, 'server.key'), server.keyPem, 0o600);
  writeFile(configFile, starterConfig({ listen: listenText, publicUrl: null }), 0o600);
  const store = new Store(join(dir, 'latch.db'));
  store.close();
  chmodSync(join(dir, 'latch.db'), 0o600);

  console.log(`wrote ${configFile}, ca.crt, ca.key, server.crt, server.key and latch.db in ${dir}`);
  console.log(`CA fingerprint: ${authority.fingerprint}`);
  console.log('');
  console.log('next steps:');
  console.log(`  1. add resources to ${configFile} (resources: id, target, group)`);
  console.log(`  2. echo 'PASSWORD' | npx latch-proxy user add alice --config ${configFile}`);
  console.log(`  3. npx latch-proxy serve --config ${configFile}`);
  console.log(`  4. npx latch-proxy enroll alice --config ${configFile}   (or sign in with the password)`);
}

async function cmdServe(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {});
  expectPositionals(positionals, 0, 'serve [--config FILE]');
  const config = loadConfig(configPath(values));
  const level = process.env.LATCH_PROXY_LOG_LEVEL ?? 'info';
  if (!isLogLevel(level)) throw new LatchError(ErrorCode.CONFIG, `LATCH_PROXY_LOG_LEVEL must be debug, info, warn or error (got "${level}")`);
  const log = createLogger('proxy', undefined, level);
  const server = new ProxyServer({ config, log, debugStats: process.env.LATCH_PROXY_DEBUG_STATS === '1' });
  const address = await server.listen();
  const url = proxyUrl({ ...config, publicUrl: null, listen: { host: address.host, port: address.port } });
  console.log(`listening on ${url}`);
  console.log(`CA fingerprint: ${server.fingerprint}`);
  log.info('server.listening', { url, resources: config.resources.length, fingerprint: server.fingerprint });

  await new Promise<void>((resolveStop) => {
    const stop = (signal: NodeJS.Signals): void => {
      log.info('server.stopping', { signal });
      // A second signal while closing means "now".
      process.once(signal, () => process.exit(1));
      server.close().then(resolveStop, (err: unknown) => {
        log.error('server.close_failed', { error: String(err) });
        resolveStop();
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  log.info('server.stopped');
  // Everything is closed; if a stray handle lingers, do not hang the caller's SIGTERM.
  setTimeout(() => process.exit(0), 2000).unref();
}

async function cmdUser(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parse(rest, {});
  const config = (): ReturnType<typeof loadConfig> => loadConfig(configPath(values));
  switch (sub) {
    case 'add': {
      expectPositionals(positionals, 1, 'user add NAME');
      const name = validateUserName(positionals[0] ?? '');
      const store = new Store(config().store);
      try {
        if (store.hasUser(name)) throw new LatchError(ErrorCode.USAGE, `user "${name}" already exists`);
        const password = await readPassword(`password for ${name}: `);
        if (password.length < MIN_PASSWORD_LENGTH) throw new LatchError(ErrorCode.USAGE, `the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
        store.addUser(name, await hashPassword(password));
      } finally {
        store.close();
      }
      console.log(`added user ${name}`);
      return;
    }
    case 'list': {
      expectPositionals(positionals, 0, 'user list');
      const store = new Store(config().store);
      try {
        for (const user of store.listUsers()) console.log(`${user.name}\t${new Date(user.created).toISOString()}`);
      } finally {
        store.close();
      }
      return;
    }
    case 'remove': {
      expectPositionals(positionals, 1, 'user remove NAME');
      const name = positionals[0] ?? '';
      const loaded = config();
      const store = new Store(loaded.store);
      try {
        if (!store.removeUser(name)) throw new LatchError(ErrorCode.USAGE, `no user "${name}"`);
      } finally {
        store.close();
      }
      const ended = await revokeUser(loaded, name);
      console.log(`removed user ${name}${ended.length > 0 ? `; ended ${ended.length} session(s) and revoked their certificates` : ''}`);
      return;
    }
    default:
      throw new UsageError('expected user add|list|remove');
  }
}

function cmdEnroll(args: string[]): void {
  const { values, positionals } = parse(args, { ttl: { type: 'string' } });
  expectPositionals(positionals, 1, 'enroll NAME');
  const name = positionals[0] ?? '';
  const ttlMs = parseDuration(typeof values.ttl === 'string' ? values.ttl : '24h');
  if (ttlMs <= 0 || ttlMs > MAX_ENROLL_TTL_MS) throw new LatchError(ErrorCode.USAGE, '--ttl must be between 1s and 30d');
  const config = loadConfig(configPath(values));
  const fingerprint = new CertificateAuthority({ certPem: readFileSync(config.tls.ca, 'utf8'), keyPem: readFileSync(config.tls.caKey, 'utf8') }).fingerprint;
  const store = new Store(config.store);
  let created: { code: string; expires: number };
  try {
    created = store.createEnrollment(name, ttlMs);
  } finally {
    store.close();
  }
  const link = `latch://enroll?proxy=${encodeURIComponent(proxyUrl(config))}&fp=${encodeURIComponent(fingerprint)}&code=${encodeURIComponent(created.code)}`;
  console.log(`code: ${created.code}`);
  console.log(`expires: ${new Date(created.expires).toISOString()}`);
  console.log(`link: ${link}`);
}

/** Ends every live session of `user`: through the running serve, else in the store (audited at serve's next start). */
async function revokeUser(config: ReturnType<typeof loadConfig>, user: string): Promise<string[]> {
  const answer = await adminRequest(adminSocketPath(config), { op: 'revoke', user });
  if (answer && 'ended' in answer) return answer.ended;
  const store = new Store(config.store);
  try {
    const ended: string[] = [];
    for (const session of store.listSessions()) {
      if (session.user === user && store.endSession(session.id, 'revoked', Date.now(), { unaudited: true })) ended.push(session.id);
    }
    return ended;
  } finally {
    store.close();
  }
}

/** A stored live session as `sessions` lists it when serve is not running (deadlines as stored). */
function storedListing(row: SessionRow, now: number): SessionListing {
  return {
    sessionId: row.id,
    user: row.user,
    groups: row.groups,
    idleRemainingMs: Math.max(0, Math.min(row.idleDeadline ?? row.absoluteDeadline, row.absoluteDeadline) - now),
    absoluteRemainingMs: Math.max(0, row.absoluteDeadline - now),
    renewals: row.renewals,
    maxRenewals: Number.NaN,
    idleTimeoutMs: Number.NaN,
    maxDurationMs: Number.NaN,
    startedAt: row.created,
  };
}

function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

async function cmdSessions(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } });
  expectPositionals(positionals, 0, 'sessions [--json]');
  const config = loadConfig(configPath(values));
  const answer = await adminRequest(adminSocketPath(config), { op: 'sessions' });
  let sessions: SessionListing[];
  let live = true;
  if (answer && 'sessions' in answer) sessions = answer.sessions;
  else {
    live = false;
    const store = new Store(config.store);
    try {
      const now = Date.now();
      sessions = store.listSessions().map((row) => storedListing(row, now));
    } finally {
      store.close();
    }
  }
  if (values.json === true) {
    console.log(JSON.stringify({ serving: live, sessions: sessions.map((s) => ({ ...s, startedAt: new Date(s.startedAt).toISOString() })) }, (_k, v: unknown) => (typeof v === 'number' && Number.isNaN(v) ? null : v)));
    return;
  }
  if (!live) console.log('# serve is not running: deadlines as stored');
  const rows = [['SESSION', 'USER', 'GROUPS', 'IDLE LEFT', 'ABSOLUTE LEFT', 'RENEWALS', 'POLICY']];
  for (const s of sessions) {
    rows.push([
      s.sessionId,
      s.user,
      s.groups.length > 0 ? s.groups.join(',') : '-',
      clock(s.idleRemainingMs),
      clock(s.absoluteRemainingMs),
      Number.isNaN(s.maxRenewals) ? String(s.renewals) : `${s.renewals}/${s.maxRenewals}`,
      Number.isNaN(s.idleTimeoutMs) ? '-' : `${plainDuration(s.idleTimeoutMs)} idle, ${plainDuration(s.maxDurationMs)} max`,
    ]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of rows) console.log(r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '));
}

const END_REASONS: readonly string[] = Object.values(EndReason);

async function cmdEnd(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { reason: { type: 'string' } });
  expectPositionals(positionals, 1, 'end SESSION [--reason revoked]');
  const session = positionals[0] ?? '';
  const reasonText = typeof values.reason === 'string' ? values.reason : 'revoked';
  if (!END_REASONS.includes(reasonText)) throw new UsageError(`--reason must be one of ${END_REASONS.join(', ')}`);
  const reason = reasonText as EndReasonType;
  const config = loadConfig(configPath(values));
  const answer = await adminRequest(adminSocketPath(config), { op: 'end', session, reason });
  if (answer && 'ended' in answer) {
    console.log(`ended session ${answer.ended.join(', ')} (${reason})`);
    return;
  }
  const store = new Store(config.store);
  try {
    const matches = store.listSessions().filter((s) => s.id === session || (session.length >= 8 && s.id.startsWith(session)));
    const target = matches.length === 1 ? matches[0] : undefined;
    if (!target || !store.endSession(target.id, reason, Date.now(), { unaudited: true })) throw new LatchError(ErrorCode.NOT_FOUND, `no live session "${session}"`);
    console.log(`ended session ${target.id} (${reason}); serve is not running: it audits the end at its next start`);
  } finally {
    store.close();
  }
}

async function cmdRevoke(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {});
  expectPositionals(positionals, 1, 'revoke USER');
  const user = positionals[0] ?? '';
  const ended = await revokeUser(loadConfig(configPath(values)), user);
  console.log(`revoked ${ended.length} session(s) of ${user}${ended.length > 0 ? `: ${ended.join(', ')}` : ''}`);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'init':
        cmdInit(args);
        return 0;
      case 'serve':
        await cmdServe(args);
        return 0;
      case 'user':
        await cmdUser(args);
        return 0;
      case 'enroll':
        cmdEnroll(args);
        return 0;
      case 'sessions':
        await cmdSessions(args);
        return 0;
      case 'end':
        await cmdEnd(args);
        return 0;
      case 'revoke':
        await cmdRevoke(args);
        return 0;
      case 'audit':
        if (args[0] !== 'verify') throw new UsageError('expected audit verify [--json] FILE');
        return await runAuditVerify(args.slice(1));
      case '--help':
      case '-h':
      case 'help':
        console.log(USAGE);
        return 0;
      default:
        throw new UsageError(command === undefined ? 'missing command' : `unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`latch-proxy: ${err.message}`);
      console.error(USAGE);
      return 2;
    }
    if (isLatchError(err)) {
      console.error(`latch-proxy: ${err.code}: ${err.message}`);
      return 1;
    }
    console.error(`latch-proxy: ${ErrorCode.INTERNAL}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}
