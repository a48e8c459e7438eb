/**
 * `latch-proxy`: the admin CLI and the server entry point. Exit codes: 0 success, 1 error
 * (printed as `latch-proxy: <CODE>: <message>`), 2 bad usage.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { parseDuration } from '../common/durations.ts';
import { ErrorCode, LatchError, isLatchError } from '../common/errors.ts';
import { createCa, CertificateAuthority } from './CertificateAuthority.ts';
import { createLogger, isLogLevel } from './logger.ts';
import { hashPassword } from './passwords.ts';
import { loadConfig, parseHostPort, proxyUrl, starterConfig } from './ProxyConfig.ts';
import { ProxyServer } from './ProxyServer.ts';
import { readPassword } from './readPassword.ts';
import { Store, validateUserName } from './Store.ts';

const USAGE = `usage: latch-proxy <command> [options]

  init DIR [--host NAME]... [--listen 127.0.0.1:8443] [--force]
                         write a commented config, a CA, a server certificate and the store
  serve [--config FILE]  run the proxy (HTTPS + WSS on one port)
  user add NAME          add a user; the password is read from stdin (first line)
  user list              list users
  user remove NAME       remove a user and end their sessions
  enroll NAME [--ttl 24h]
                         create a one-time enrollment code and a latch:// link

  --config FILE          configuration file (default ./latch-proxy.yaml)

  serve logs one JSON object per line on stderr; LATCH_PROXY_LOG_LEVEL=debug|info|warn|error
  (default info). LATCH_PROXY_DEBUG_STATS=1 serves GET /v1/debug/stats to loopback callers.`;

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
      const store = new Store(config().store);
      try {
        if (!store.removeUser(name)) throw new LatchError(ErrorCode.USAGE, `no user "${name}"`);
        const sessions = store.listSessions().filter((s) => s.user === name);
        for (const session of sessions) store.endSession(session.id, 'revoked');
        console.log(`removed user ${name}${sessions.length > 0 ? `; ended ${sessions.length} session(s) and revoked their certificates` : ''}`);
      } finally {
        store.close();
      }
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
