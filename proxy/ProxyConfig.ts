import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Node as YamlNode, Pair, YAMLMap } from 'yaml';
import { parseDuration } from '../common/durations.ts';
import { ErrorCode, LatchError, isLatchError } from '../common/errors.ts';
import {
  DEFAULT_INITIAL_WINDOW,
  DEFAULT_KEEPALIVE_INTERVAL_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_STREAMS,
} from '../tunnel/constants.ts';
import { validateOptions } from '../tunnel/MultiplexerOptions.ts';
import { DEFAULT_POLICY, PolicyError, parsePolicies } from './session/Policy.ts';
import type { Policy, PolicySet } from './session/Policy.ts';

/**
 * The proxy's YAML configuration: loading, validation with the key path and line of every
 * mistake, and the commented starter file `init` writes. Paths in the file are relative to the
 * file itself, so a config directory can be moved as a whole.
 */

export interface ListenAddress {
  host: string;
  port: number;
}

export interface ResourceConfig {
  id: string;
  host: string;
  port: number;
  group: string;
}

/** Multiplexer limits given in the file; absent keys fall back to the tunnel's defaults. */
export interface LimitsConfig {
  maxStreams?: number;
  maxFrameSize?: number;
  initialWindow?: number;
  maxBufferedBytes?: number;
  keepaliveIntervalMs?: number;
}

export interface ProxyConfig {
  /** Absolute path of the file this was read from. */
  file: string;
  listen: ListenAddress;
  /** The https URL clients use (enrollment links); null = derived from `listen`. */
  publicUrl: string | null;
  tls: { ca: string; caKey: string; cert: string; key: string };
  store: string;
  session: { maxDurationMs: number };
  limits: LimitsConfig;
  resources: ResourceConfig[];
  /** Per-group policy as written (raw); `policies` is the validated form. */
  groups: Record<string, Record<string, unknown>>;
  /** The default policy (built-in, `session.maxDuration`, then `groups.default`) and every group's. */
  policies: PolicySet;
  audit: AuditConfig;
}

export interface AuditConfig {
  /** The chained JSON-lines file (default `audit.jsonl` next to the store). */
  file: string;
  /** Copy every audit line to stdout. */
  stdout: boolean;
  webhook: { url: string; headers: Record<string, string> } | null;
}

/** Where `serve` keeps what is not configuration: the store's directory. */
export function dataDir(config: Pick<ProxyConfig, 'store'>): string {
  return dirname(config.store);
}

/**
 * The built-in default policy, with `session.maxDuration` as its maxDuration. Built-in values
 * that would not fit a shorter maxDuration shrink with it (an admin who writes
 * `maxDuration: 10m` and nothing else means it); values the admin wrote are never adjusted.
 */
export function basePolicy(maxDurationMs: number): Policy {
  const idleTimeoutMs = Math.min(DEFAULT_POLICY.idleTimeoutMs, maxDurationMs);
  const warnBeforeMs = Math.min(DEFAULT_POLICY.warnBeforeMs, Math.floor(idleTimeoutMs / 2));
  return { ...DEFAULT_POLICY, maxDurationMs, idleTimeoutMs, warnBeforeMs };
}

export const DEFAULT_LISTEN: ListenAddress = { host: '127.0.0.1', port: 8443 };
export const DEFAULT_MAX_DURATION_MS = 8 * 3_600_000;
export const DEFAULT_GROUP = 'default';

const RESOURCE_ID = /^[A-Za-z0-9._-]{1,255}$/;
const GROUP_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const SIZE = /^(\d+)\s*(B|KiB|MiB|GiB)?$/;
const SIZE_UNITS = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 } as const;

type Path = readonly (string | number)[];

function formatPath(path: Path): string {
  let out = '';
  for (const segment of path) {
    out += typeof segment === 'number' ? `[${segment}]` : out === '' ? segment : `.${segment}`;
  }
  return out === '' ? '(top level)' : out;
}

class Problems {
  readonly list: string[] = [];
  private readonly file: string;
  private readonly lines: LineCounter;

  constructor(file: string, lines: LineCounter) {
    this.file = file;
    this.lines = lines;
  }

  add(node: YamlNode | Pair | null | undefined, path: Path, message: string): void {
    this.list.push(`${this.file}:${this.lineOf(node)}: ${formatPath(path)}: ${message}`);
  }

  private lineOf(node: YamlNode | Pair | null | undefined): number {
    const range = node && 'range' in node ? node.range : node && 'key' in node && node.key && typeof node.key === 'object' && 'range' in node.key ? (node.key as YamlNode).range : undefined;
    if (!range) return 1;
    return this.lines.linePos(range[0]).line || 1;
  }
}

/** host:port with the host as IPv4, [IPv6] or a DNS name. */
export function parseHostPort(text: string, allowPortZero: boolean): ListenAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!match) throw new LatchError(ErrorCode.CONFIG, `"${text}" is not host:port (IPv6 as [::1]:port)`);
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (port > 65535 || (port === 0 && !allowPortZero)) throw new LatchError(ErrorCode.CONFIG, `port ${port} is out of range`);
  if (match[1] === undefined && !IPV4.test(host) && !HOSTNAME.test(host)) {
    throw new LatchError(ErrorCode.CONFIG, `"${host}" is not a valid host name or IPv4 address`);
  }
  return { host, port };
}

export function parseSize(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  if (typeof value === 'string') {
    const match = SIZE.exec(value.trim());
    if (match) {
      const bytes = Number(match[1]) * SIZE_UNITS[(match[2] ?? 'B') as keyof typeof SIZE_UNITS];
      if (Number.isSafeInteger(bytes) && bytes > 0) return bytes;
    }
  }
  throw new LatchError(ErrorCode.CONFIG, `must be a positive size in bytes, e.g. 65536, 64KiB or 1MiB (got ${JSON.stringify(value)})`);
}

function scalarValue(node: unknown): unknown {
  return isScalar(node) ? node.value : undefined;
}

function pairKey(pair: Pair): string {
  const key = scalarValue(pair.key);
  return typeof key === 'string' ? key : String(key);
}

/** Reads a mapping's entries, reporting unknown and duplicate keys. */
function entries(map: YAMLMap, path: Path, known: readonly string[], problems: Problems): Map<string, Pair> {
  const out = new Map<string, Pair>();
  for (const pair of map.items) {
    const key = pairKey(pair);
    if (!known.includes(key)) {
      problems.add(pair.key as YamlNode, [...path, key], `unknown key (expected one of: ${known.join(', ')})`);
      continue;
    }
    out.set(key, pair);
  }
  return out;
}

function requireString(pair: Pair | undefined, path: Path, problems: Problems, parent: YamlNode | null): string | undefined {
  if (!pair) {
    problems.add(parent, path, 'is required');
    return undefined;
  }
  const value = scalarValue(pair.value);
  if (typeof value !== 'string' || value.trim() === '') {
    problems.add((pair.value ?? pair.key) as YamlNode, path, 'must be a non-empty string');
    return undefined;
  }
  return value.trim();
}

function optionalString(pair: Pair | undefined, path: Path, problems: Problems): string | undefined {
  if (!pair) return undefined;
  return requireString(pair, path, problems, null);
}

/** Runs a converter that throws LatchError and turns its message into a located problem. */
function convert<T>(pair: Pair, path: Path, problems: Problems, fn: (value: unknown) => T): T | undefined {
  try {
    return fn(scalarValue(pair.value));
  } catch (err) {
    if (!isLatchError(err)) throw err;
    problems.add((pair.value ?? pair.key) as YamlNode, path, err.message);
    return undefined;
  }
}

function durationOf(value: unknown): number {
  if (typeof value !== 'string') throw new LatchError(ErrorCode.CONFIG, `must be a duration like 90s, 15m or 8h (got ${JSON.stringify(value)})`);
  const ms = parseDuration(value);
  if (ms <= 0) throw new LatchError(ErrorCode.CONFIG, 'must be longer than zero');
  return ms;
}

const TOP_KEYS = ['listen', 'publicUrl', 'tls', 'store', 'session', 'limits', 'resources', 'groups', 'audit'] as const;
const AUDIT_KEYS = ['file', 'stdout', 'webhook'] as const;
const WEBHOOK_KEYS = ['url', 'headers'] as const;
const TLS_KEYS = ['ca', 'caKey', 'cert', 'key'] as const;
const SESSION_KEYS = ['maxDuration'] as const;
const LIMIT_KEYS = ['maxStreams', 'maxFrameSize', 'initialWindow', 'maxBufferedBytes', 'keepaliveInterval'] as const;
const RESOURCE_KEYS = ['id', 'target', 'group'] as const;

/** Parses and validates config text. Every problem found is reported at once, each with its line. */
export function parseConfig(text: string, file: string): ProxyConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems = new Problems(file, lines);
  for (const err of doc.errors) {
    const line = err.linePos?.[0].line ?? lines.linePos(err.pos[0]).line;
    problems.list.push(`${file}:${line || 1}: YAML: ${err.message.split('\n')[0] ?? err.message}`);
  }
  if (problems.list.length > 0) throw new LatchError(ErrorCode.CONFIG, problems.list.join('\n'));

  const base = dirname(resolve(file));
  const root = doc.contents;
  if (!isMap(root)) {
    throw new LatchError(ErrorCode.CONFIG, `${file}:1: the configuration must be a YAML mapping (see latch-proxy init)`);
  }
  const top = entries(root, [], TOP_KEYS, problems);

  const config: ProxyConfig = {
    file: resolve(file),
    listen: DEFAULT_LISTEN,
    publicUrl: null,
    tls: { ca: '', caKey: '', cert: '', key: '' },
    store: '',
    session: { maxDurationMs: DEFAULT_MAX_DURATION_MS },
    limits: {},
    resources: [],
    groups: {},
    policies: parsePolicies({}, basePolicy(DEFAULT_MAX_DURATION_MS)),
    audit: { file: '', stdout: false, webhook: null },
  };

  const listen = top.get('listen');
  if (listen) {
    const value = convert(listen, ['listen'], problems, (v) => {
      if (typeof v !== 'string') throw new LatchError(ErrorCode.CONFIG, 'must be "host:port", e.g. 127.0.0.1:8443');
      return parseHostPort(v, true);
    });
    if (value) config.listen = value;
  }

  const publicUrl = optionalString(top.get('publicUrl'), ['publicUrl'], problems);
  if (publicUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(publicUrl);
    } catch {
      url = undefined;
    }
    if (!url || url.protocol !== 'https:' || url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') {
      problems.add(top.get('publicUrl')?.value as YamlNode, ['publicUrl'], 'must be an https URL with no path, e.g. https://proxy.example.com:8443');
    } else {
      config.publicUrl = url.origin;
    }
  }

  const tls = top.get('tls');
  if (!tls) problems.add(root, ['tls'], 'is required (paths to ca, caKey, cert, key)');
  else if (!isMap(tls.value)) problems.add(tls.key as YamlNode, ['tls'], 'must be a mapping with ca, caKey, cert, key');
  else {
    const tlsEntries = entries(tls.value, ['tls'], TLS_KEYS, problems);
    for (const key of TLS_KEYS) {
      const value = requireString(tlsEntries.get(key), ['tls', key], problems, tls.value);
      if (value !== undefined) config.tls[key] = resolve(base, value);
    }
  }

  const store = requireString(top.get('store'), ['store'], problems, root);
  if (store !== undefined) config.store = resolve(base, store);

  const session = top.get('session');
  if (session && !isMap(session.value)) problems.add(session.key as YamlNode, ['session'], 'must be a mapping');
  else if (session && isMap(session.value)) {
    const sessionEntries = entries(session.value, ['session'], SESSION_KEYS, problems);
    const maxDuration = sessionEntries.get('maxDuration');
    if (maxDuration) {
      const ms = convert(maxDuration, ['session', 'maxDuration'], problems, durationOf);
      if (ms !== undefined && ms < 1000) problems.add(maxDuration.value as YamlNode, ['session', 'maxDuration'], 'must be at least 1s');
      else if (ms !== undefined) config.session.maxDurationMs = ms;
    }
  }

  const limits = top.get('limits');
  if (limits && !isMap(limits.value)) problems.add(limits.key as YamlNode, ['limits'], 'must be a mapping');
  else if (limits && isMap(limits.value)) {
    const limitEntries = entries(limits.value, ['limits'], LIMIT_KEYS, problems);
    const maxStreams = limitEntries.get('maxStreams');
    if (maxStreams) {
      const n = convert(maxStreams, ['limits', 'maxStreams'], problems, (v) => {
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > 1_000_000) throw new LatchError(ErrorCode.CONFIG, 'must be an integer between 1 and 1000000');
        return v;
      });
      if (n !== undefined) config.limits.maxStreams = n;
    }
    for (const key of ['maxFrameSize', 'initialWindow', 'maxBufferedBytes'] as const) {
      const pair = limitEntries.get(key);
      if (!pair) continue;
      const n = convert(pair, ['limits', key], problems, parseSize);
      if (n !== undefined) config.limits[key] = n;
    }
    const keepalive = limitEntries.get('keepaliveInterval');
    if (keepalive) {
      // 0 disables keepalive; anything else is a duration.
      const ms = convert(keepalive, ['limits', 'keepaliveInterval'], problems, (v) => (v === 0 || v === '0' ? 0 : durationOf(v)));
      if (ms !== undefined) config.limits.keepaliveIntervalMs = ms;
    }
    // The multiplexer has its own bounds (e.g. a frame size of at least 64 KiB): check each
    // value against them now, with its line, rather than when the first tunnel opens.
    const keyOf = { maxStreams: 'maxStreams', maxFrameSize: 'maxFrameSize', initialWindow: 'initialWindow', maxBufferedBytes: 'maxBufferedBytes', keepaliveIntervalMs: 'keepaliveInterval' } as const;
    for (const [option, key] of Object.entries(keyOf) as [keyof LimitsConfig, string][]) {
      const value = config.limits[option];
      if (value === undefined) continue;
      try {
        validateOptions({ role: 'server', [option]: value });
      } catch (err) {
        if (!isLatchError(err)) throw err;
        problems.add(limitEntries.get(key)?.value as YamlNode, ['limits', key], err.message.replace(/^multiplexer option \S+ /, ''));
      }
    }
    try {
      validateOptions({ role: 'server', ...config.limits });
    } catch (err) {
      if (!isLatchError(err)) throw err;
      if (problems.list.length === 0) problems.add(limits.key as YamlNode, ['limits'], err.message);
    }
  }

  const groups = top.get('groups');
  const groupNames = new Set<string>();
  if (groups && groups.value !== null && !isMap(groups.value)) problems.add(groups.key as YamlNode, ['groups'], 'must be a mapping of group name to policy');
  else if (groups && isMap(groups.value)) {
    for (const pair of groups.value.items) {
      const name = pairKey(pair);
      if (!GROUP_NAME.test(name)) problems.add(pair.key as YamlNode, ['groups', name], 'group names use letters, digits, dot, dash and underscore');
      // `staging:` with nothing under it inherits everything.
      const empty = pair.value === null || (isScalar(pair.value) && pair.value.value === null);
      if (!empty && !isMap(pair.value)) {
        problems.add(pair.key as YamlNode, ['groups', name], 'must be a mapping of policy settings');
        continue;
      }
      groupNames.add(name);
      const raw: unknown = isMap(pair.value) ? pair.value.toJSON() : {};
      config.groups[name] = raw as Record<string, unknown>;
    }
  }

  if (groups && isMap(groups.value)) {
    try {
      config.policies = parsePolicies(config.groups, basePolicy(config.session.maxDurationMs));
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err;
      // The key that broke a rule, or the group itself when the key was inherited.
      problems.add(policyNode(groups.value, err.path.slice(1)), err.path, err.detail);
    }
  } else {
    config.policies = parsePolicies({}, basePolicy(config.session.maxDurationMs));
  }

  const resources = top.get('resources');
  if (resources && resources.value !== null && !isSeq(resources.value)) problems.add(resources.key as YamlNode, ['resources'], 'must be a list of { id, target, group }');
  else if (resources && isSeq(resources.value)) {
    const seen = new Set<string>();
    resources.value.items.forEach((item, index) => {
      const path = ['resources', index] as const;
      if (!isMap(item)) {
        problems.add(item as YamlNode, path, 'must be a mapping with id, target and group');
        return;
      }
      const fields = entries(item, path, RESOURCE_KEYS, problems);
      const id = requireString(fields.get('id'), [...path, 'id'], problems, item);
      if (id !== undefined && !RESOURCE_ID.test(id)) {
        problems.add(fields.get('id')?.value as YamlNode, [...path, 'id'], 'use 1-255 of A-Z a-z 0-9 . _ -');
        return;
      }
      if (id !== undefined && seen.has(id)) {
        problems.add(fields.get('id')?.value as YamlNode, [...path, 'id'], `duplicate resource id "${id}"`);
        return;
      }
      if (id !== undefined) seen.add(id);
      const targetPair = fields.get('target');
      const target = targetPair
        ? convert(targetPair, [...path, 'target'], problems, (v) => {
            if (typeof v !== 'string') throw new LatchError(ErrorCode.CONFIG, 'must be "host:port"');
            return parseHostPort(v, false);
          })
        : (problems.add(item, [...path, 'target'], 'is required'), undefined);
      const group = optionalString(fields.get('group'), [...path, 'group'], problems) ?? DEFAULT_GROUP;
      if (!GROUP_NAME.test(group)) problems.add(fields.get('group')?.value as YamlNode, [...path, 'group'], 'group names use letters, digits, dot, dash and underscore');
      else if (group !== DEFAULT_GROUP && !groupNames.has(group)) {
        problems.add(fields.get('group')?.value as YamlNode, [...path, 'group'], `group "${group}" is not defined under groups`);
      }
      if (id !== undefined && target) config.resources.push({ id, host: target.host, port: target.port, group });
    });
  }

  const audit = top.get('audit');
  config.audit.file = config.store === '' ? '' : join(dataDir(config), 'audit.jsonl');
  if (audit && audit.value !== null && !isMap(audit.value)) problems.add(audit.key as YamlNode, ['audit'], 'must be a mapping with file, stdout, webhook');
  else if (audit && isMap(audit.value)) {
    const auditEntries = entries(audit.value, ['audit'], AUDIT_KEYS, problems);
    const file = optionalString(auditEntries.get('file'), ['audit', 'file'], problems);
    if (file !== undefined) config.audit.file = resolve(base, file);
    const stdout = auditEntries.get('stdout');
    if (stdout) {
      const value = convert(stdout, ['audit', 'stdout'], problems, (v) => {
        if (typeof v !== 'boolean') throw new LatchError(ErrorCode.CONFIG, 'must be true or false');
        return v;
      });
      if (value !== undefined) config.audit.stdout = value;
    }
    const webhook = auditEntries.get('webhook');
    if (webhook && !isMap(webhook.value)) problems.add(webhook.key as YamlNode, ['audit', 'webhook'], 'must be a mapping with url and headers');
    else if (webhook && isMap(webhook.value)) {
      const hookEntries = entries(webhook.value, ['audit', 'webhook'], WEBHOOK_KEYS, problems);
      const urlPair = hookEntries.get('url');
      const url = requireString(urlPair, ['audit', 'webhook', 'url'], problems, webhook.value);
      const headers: Record<string, string> = {};
      const headersPair = hookEntries.get('headers');
      if (headersPair && !isMap(headersPair.value)) problems.add(headersPair.key as YamlNode, ['audit', 'webhook', 'headers'], 'must be a mapping of header name to value');
      else if (headersPair && isMap(headersPair.value)) {
        for (const pair of headersPair.value.items) {
          const name = pairKey(pair);
          const value = scalarValue(pair.value);
          if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) problems.add(pair.key as YamlNode, ['audit', 'webhook', 'headers', name], 'is not a valid HTTP header name');
          else if (typeof value !== 'string' && typeof value !== 'number') problems.add((pair.value ?? pair.key) as YamlNode, ['audit', 'webhook', 'headers', name], 'must be a string');
          else headers[name] = String(value);
        }
      }
      if (url !== undefined) {
        let parsed: URL | undefined;
        try {
          parsed = new URL(url);
        } catch {
          parsed = undefined;
        }
        if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) problems.add(urlPair?.value as YamlNode, ['audit', 'webhook', 'url'], 'must be an http or https URL');
        else config.audit.webhook = { url, headers };
      }
    }
  }

  if (problems.list.length > 0) throw new LatchError(ErrorCode.CONFIG, problems.list.join('\n'));
  return config;
}

/** The YAML node a policy error points at: the key itself, else the deepest mapping entry that exists. */
function policyNode(groups: YAMLMap, path: readonly string[]): YamlNode | Pair | null {
  let map: unknown = groups;
  let found: YamlNode | Pair | null = null;
  for (const segment of path) {
    if (!isMap(map)) break;
    const pair = map.items.find((p) => pairKey(p) === segment);
    if (!pair) break;
    found = pair.key as YamlNode;
    map = pair.value;
  }
  return found;
}

export function loadConfig(file: string): ProxyConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LatchError(ErrorCode.CONFIG, `cannot read ${file}${code === 'ENOENT' ? ': no such file (create one with latch-proxy init DIR)' : `: ${code ?? String(err)}`}`, { cause: err });
  }
  return parseConfig(text, file);
}

/** The https URL clients should use: `publicUrl`, or the listen address. */
export function proxyUrl(config: ProxyConfig, boundPort?: number): string {
  if (config.publicUrl !== null) return config.publicUrl;
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  const anyHost = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;
  return `https://${anyHost}:${boundPort ?? config.listen.port}`;
}

/** The commented starter file written by `latch-proxy init`. Every key is explained. */
function sizeText(bytes: number): string {
  if (bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2}MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024}KiB`;
  return String(bytes);
}

export function starterConfig(options: { listen: string; publicUrl: string | null }): string {
  return `# Latch reference proxy configuration.
# Paths are relative to this file. Durations are written like 90s, 15m, 8h (or 1h30m).
# Sizes are bytes, or with a unit: 64KiB, 1MiB.

# Address and port for HTTPS + WSS (sign-in API and tunnels share one port).
# Loopback by default; use 0.0.0.0:8443 (or a specific interface) to accept remote clients.
# Port 0 picks a free port and prints it at start-up.
listen: ${options.listen}

# The https URL clients reach this proxy at, used in enrollment links. Defaults to the listen
# address. Set it when the proxy sits behind a DNS name or a port forward.
${options.publicUrl === null ? '# publicUrl: https://proxy.example.com:8443' : `publicUrl: ${options.publicUrl}`}

# Certificates made by \`latch-proxy init\`. The CA signs the server certificate and every
# client certificate; clients pin its fingerprint. Keep ca.key secret (mode 0600).
tls:
  ca: ca.crt
  caKey: ca.key
  cert: server.crt
  key: server.key

# SQLite database: users, enrollment codes, sessions and revoked certificate serials.
store: latch.db

session:
  # Absolute lifetime of a session. Client certificates expire no later than this.
  maxDuration: 8h

# Per-tunnel limits. A peer that breaks one gets a named error and its tunnel is closed; other
# sessions are not affected. Omit a key to use the built-in default.
limits:
  # Concurrent streams (tunneled TCP connections) per session.
  maxStreams: ${DEFAULT_MAX_STREAMS}
  # Largest frame payload accepted from a client.
  maxFrameSize: ${sizeText(DEFAULT_MAX_FRAME_SIZE)}
  # Per-stream flow-control window: bytes a peer may send before the reader grants more.
  initialWindow: ${sizeText(DEFAULT_INITIAL_WINDOW)}
  # Hard cap on bytes buffered for one session (sending and receiving).
  maxBufferedBytes: ${sizeText(DEFAULT_MAX_BUFFERED_BYTES)}
  # Ping interval; a silent peer is dropped after two intervals. 0 disables.
  keepaliveInterval: ${DEFAULT_KEEPALIVE_INTERVAL_MS / 1000}s

# What clients may reach. Clients name a resource id; the proxy dials only these targets.
#   id:     name clients use (letters, digits, . _ -)
#   target: host:port the proxy connects to
#   group:  policy group (see groups below); "default" if omitted
resources: []
#  - id: redis
#    target: 127.0.0.1:6379
#    group: default

# Session policy per resource group. A session starts under the default policy; opening a
# resource of a group binds it to the strictest value of every key among the default and the
# groups it has opened (a staging resource never loosens production's limits).
#   idleTimeout:  no input for this long ends the session (renew or input resets it)
#   maxDuration:  absolute limit from sign-in; only signing in again starts a new period
#   warnBefore:   the client warns (with Renew) this long before either deadline
#   maxRenewals:  explicit renewals allowed per sign-in
#   activity:     input (default) or input+traffic (tunnel bytes also count as activity)
#   onLock:       idle (default: a locked screen counts as no input) or end (ends at once)
# "default" replaces the built-in default (15m idle, session.maxDuration, 2m warning,
# 10 renewals, input, idle) for every group; other groups override it key by key.
# groups:
#   default:
#     idleTimeout: 15m
#   production:
#     idleTimeout: 15m
#     maxDuration: 1h
#     warnBefore: 2m
#     maxRenewals: 3
#     onLock: end
#   staging:
#     idleTimeout: 60m
#     maxDuration: 8h
#     warnBefore: 5m

# Audit trail: one OCSF-shaped JSON line per session event, chained by hash
# (check it with: latch-proxy audit verify FILE). The file defaults to audit.jsonl next to the
# store; a per-proxy secret salt (audit.salt) hashes session ids.
# audit:
#   file: audit.jsonl
#   stdout: false
#   webhook:
#     url: https://siem.example.com/ingest
#     headers:
#       authorization: Bearer TOKEN
`;
}
