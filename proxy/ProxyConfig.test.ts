import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, LatchError } from '../common/errors.ts';
import { parseConfig, parseHostPort, parseSize, proxyUrl, starterConfig } from './ProxyConfig.ts';

const MINIMAL = `tls:
  ca: ca.crt
  caKey: ca.key
  cert: server.crt
  key: server.key
store: latch.db
`;

function configError(text: string): string {
  try {
    parseConfig(text, '/etc/latch/proxy.yaml');
  } catch (err) {
    assert.ok(err instanceof LatchError);
    assert.equal(err.code, ErrorCode.CONFIG);
    return err.message;
  }
  assert.fail('expected a config error');
}

void describe('ProxyConfig', () => {
  void it('the starter config is valid and resolves paths relative to the file', () => {
    const config = parseConfig(starterConfig({ listen: '127.0.0.1:0', publicUrl: null }), '/srv/latch/latch-proxy.yaml');
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 0 });
    assert.equal(config.tls.caKey, '/srv/latch/ca.key');
    assert.equal(config.store, '/srv/latch/latch.db');
    assert.equal(config.session.maxDurationMs, 8 * 3_600_000);
    assert.deepEqual(config.resources, []);
    assert.equal(typeof config.limits.maxStreams, 'number');
    assert.equal(typeof config.limits.keepaliveIntervalMs, 'number');
  });

  void it('the starter config explains every key with a comment', () => {
    const text = starterConfig({ listen: '127.0.0.1:8443', publicUrl: null });
    for (const key of ['listen', 'publicUrl', 'tls', 'store', 'maxDuration', 'maxStreams', 'maxFrameSize', 'initialWindow', 'maxBufferedBytes', 'keepaliveInterval', 'resources', 'groups']) {
      assert.match(text, new RegExp(`#[^\\n]*\\n[^\\n]*${key}|#.*${key}`), `${key} has no comment`);
    }
  });

  void it('reads resources, limits with units, durations and publicUrl', () => {
    const config = parseConfig(
      `${MINIMAL}listen: "[::1]:9443"
publicUrl: https://proxy.example.com:8443
session:
  maxDuration: 1h30m
limits:
  maxStreams: 10
  maxFrameSize: 128KiB
  initialWindow: 1MiB
  maxBufferedBytes: 1048576
  keepaliveInterval: 5s
groups:
  production:
    idleTimeout: 15m
resources:
  - id: redis
    target: 127.0.0.1:6379
  - id: db.prod
    target: db.internal:5432
    group: production
`,
      '/x/p.yaml',
    );
    assert.deepEqual(config.listen, { host: '::1', port: 9443 });
    assert.equal(config.publicUrl, 'https://proxy.example.com:8443');
    assert.equal(config.session.maxDurationMs, 5_400_000);
    assert.deepEqual(config.limits, { maxStreams: 10, maxFrameSize: 131072, initialWindow: 1048576, maxBufferedBytes: 1048576, keepaliveIntervalMs: 5000 });
    assert.deepEqual(config.resources, [
      { id: 'redis', host: '127.0.0.1', port: 6379, group: 'default' },
      { id: 'db.prod', host: 'db.internal', port: 5432, group: 'production' },
    ]);
    assert.deepEqual(config.groups, { production: { idleTimeout: '15m' } });
    assert.equal(proxyUrl(config), 'https://proxy.example.com:8443');
  });

  void it('reports the key path and line of each mistake', () => {
    const message = configError(`${MINIMAL}session:
  maxDuration: forever
limits:
  maxStreams: -1
resources:
  - id: ok
    target: 127.0.0.1:1
  - id: "bad id"
    target: 127.0.0.1:2
  - id: nodest
`);
    assert.match(message, /proxy\.yaml:8: session\.maxDuration: invalid duration "forever"/);
    assert.match(message, /proxy\.yaml:10: limits\.maxStreams: must be an integer/);
    assert.match(message, /proxy\.yaml:14: resources\[1\]\.id: use 1-255/);
    assert.match(message, /proxy\.yaml:16: resources\[2\]\.target: is required/);
  });

  void it('checks limits against the multiplexer bounds, with the line', () => {
    const message = configError(`${MINIMAL}limits:
  maxFrameSize: 1KiB
  keepaliveInterval: 2d
`);
    assert.match(message, /:8: limits\.maxFrameSize: must be an integer in \[65536, /);
    assert.match(message, /:9: limits\.keepaliveInterval: must be an integer in /);
  });

  void it('rejects unknown keys at the top level and inside sections, with their line', () => {
    const message = configError(`${MINIMAL}colour: blue
session:
  maxDuraton: 1h
`);
    assert.match(message, /:7: colour: unknown key/);
    assert.match(message, /:9: session\.maxDuraton: unknown key/);
  });

  void it('rejects duplicate resource ids, bad targets, and undefined groups', () => {
    const message = configError(`${MINIMAL}groups:
  staging: {}
resources:
  - id: a
    target: 127.0.0.1:70000
  - id: a
    target: 127.0.0.1:1
  - id: b
    target: 127.0.0.1:2
    group: production
`);
    assert.match(message, /:11: resources\[0\]\.target: port 70000 is out of range/);
    assert.match(message, /:12: resources\[1\]\.id: duplicate resource id "a"/);
    assert.match(message, /:16: resources\[2\]\.group: group "production" is not defined/);
  });

  void it('reports missing required keys and YAML syntax errors with a line', () => {
    assert.match(configError('listen: 127.0.0.1:1\n'), /:1: tls: is required/);
    assert.match(configError(`${MINIMAL}resources: [\n`), /proxy\.yaml:\d+: YAML: /);
    assert.match(configError('- a\n- b\n'), /must be a YAML mapping/);
    assert.match(configError(`${MINIMAL}publicUrl: http://x:1\n`), /:7: publicUrl: must be an https URL/);
  });

  void it('parses host:port and sizes strictly', () => {
    assert.deepEqual(parseHostPort('localhost:80', false), { host: 'localhost', port: 80 });
    assert.throws(() => parseHostPort('127.0.0.1', false), /host:port/);
    assert.throws(() => parseHostPort('127.0.0.1:0', false), /out of range/);
    assert.throws(() => parseHostPort('bad_host!:1', false), /not a valid host/);
    assert.equal(parseSize('64KiB'), 65536);
    assert.equal(parseSize(10), 10);
    assert.throws(() => parseSize('0'), /positive size/);
    assert.throws(() => parseSize('1.5MiB'), /positive size/);
  });

  void it('builds the policies: session.maxDuration feeds the default, groups.default overrides it, groups inherit', () => {
    const config = parseConfig(
      `${MINIMAL}session:
  maxDuration: 4h
groups:
  default:
    idleTimeout: 20m
  production:
    idleTimeout: 15m
    maxDuration: 1h
    maxRenewals: 2
    activity: input+traffic
    onLock: end
  staging:
resources:
  - id: db
    target: 127.0.0.1:5432
    group: production
`,
      '/x/p.yaml',
    );
    const { defaultPolicy, groups } = config.policies;
    assert.equal(defaultPolicy.maxDurationMs, 4 * 3_600_000);
    assert.equal(defaultPolicy.idleTimeoutMs, 20 * 60_000);
    assert.deepEqual(groups.get('production'), { idleTimeoutMs: 15 * 60_000, maxDurationMs: 3_600_000, warnBeforeMs: 2 * 60_000, maxRenewals: 2, activity: 'input+traffic', onLock: 'end' });
    assert.equal(groups.get('staging')?.idleTimeoutMs, 20 * 60_000, 'an empty group inherits the default');
    assert.equal(config.audit.file, '/x/audit.jsonl');
    assert.equal(config.audit.stdout, false);
    assert.equal(config.audit.webhook, null);
  });

  void it('a short session.maxDuration shrinks the built-in idle timeout and warning to fit', () => {
    const config = parseConfig(`${MINIMAL}session:
  maxDuration: 2s
`, '/x/p.yaml');
    assert.deepEqual([config.policies.defaultPolicy.maxDurationMs, config.policies.defaultPolicy.idleTimeoutMs, config.policies.defaultPolicy.warnBeforeMs], [2000, 2000, 1000]);
  });

  void it('reports policy mistakes with the key path and line; an inherited conflict points at the group', () => {
    const bad = configError(`${MINIMAL}groups:
  production:
    idleTimeout: 15m
    activity: keyboard
`);
    assert.match(bad, /:10: groups\.production\.activity: must be "input" or "input\+traffic"/);
    const inherited = configError(`${MINIMAL}groups:
  default:
    warnBefore: 10m
  quick:
    idleTimeout: 5m
`);
    assert.match(inherited, /:11: groups\.quick\.idleTimeout: warnBefore \(10m 00s \(inherited\)\) must be shorter than idleTimeout/);
    const unknown = configError(`${MINIMAL}groups:
  staging:
    idle: 5m
`);
    assert.match(unknown, /:9: groups\.staging\.idle: unknown key/);
    const undefinedGroup = configError(`${MINIMAL}resources:
  - id: db
    target: 127.0.0.1:1
    group: production
`);
    assert.match(undefinedGroup, /:10: resources\[0\]\.group: group "production" is not defined under groups/);
  });

  void it('reads the audit section and reports its mistakes with lines', () => {
    const config = parseConfig(
      `${MINIMAL}audit:
  file: logs/trail.jsonl
  stdout: true
  webhook:
    url: https://siem.example.com/in
    headers:
      authorization: Bearer abc
`,
      '/x/p.yaml',
    );
    assert.deepEqual(config.audit, { file: '/x/logs/trail.jsonl', stdout: true, webhook: { url: 'https://siem.example.com/in', headers: { authorization: 'Bearer abc' } } });
    const message = configError(`${MINIMAL}audit:
  stdout: yes please
  webhook:
    url: ftp://x
  sink: x
`);
    assert.match(message, /:8: audit\.stdout: must be true or false/);
    assert.match(message, /:10: audit\.webhook\.url: must be an http or https URL/);
    assert.match(message, /:11: audit\.sink: unknown key/);
  });
});
