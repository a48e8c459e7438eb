/**
 * Session timeouts on the real proxy (issue 3, server side): `latch-proxy serve` as a real
 * process with short real policies (idle 3 s, warning 1 s before), tunnels through the real
 * multiplexer to real TCP targets, the admin CLI as real processes, the audit trail read from
 * disk. Deadlines are checked with at least 1 s of tolerance.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiPath } from '../common/api.ts';
import type { LoginResponse } from '../common/api.ts';
import { CloseCode } from '../common/closeCodes.ts';
import { ErrorCode } from '../common/errors.ts';
import { sessionHash } from '../proxy/audit/index.ts';
import { makeKeyAndCsr } from '../proxy/testCsr.ts';
import { ProxyClientHarness, echo, killSpawned, runCli, serve, waitFor, withTimeout } from './support/proxyHarness.ts';
import type { Serving, Session } from './support/proxyHarness.ts';

const PASSWORD = 'alice-password-1';
const TOLERANCE_MS = 1_000;

interface AuditLine {
  seq: number;
  time: number;
  session?: { uid_hash: string };
  unmapped: { latch_event: string; reason?: string; [key: string]: unknown };
  [key: string]: unknown;
}

void describe('latch-proxy session timers, audit and admin CLI (real processes)', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'latch-sessions-it-'));
  const configFile = join(dir, 'latch-proxy.yaml');
  const auditFile = join(dir, 'audit.jsonl');
  let echoServer: Server;
  let echoPort = 0;
  /** Target-side sockets, to observe the proxy closing them. */
  const targetSockets: { socket: Socket; closedAt: number | undefined }[] = [];
  let proxy: Serving;
  let client: ProxyClientHarness;
  let salt: Buffer;

  const auditLines = (): AuditLine[] =>
    readFileSync(auditFile, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as AuditLine);
  const auditOf = (sessionId: string): AuditLine[] => {
    const hash = sessionHash(sessionId, salt);
    return auditLines().filter((l) => l.session?.uid_hash === hash);
  };
  const eventsOf = (sessionId: string): string[] => auditOf(sessionId).map((l) => l.unmapped.latch_event);
  const sessionIds: string[] = [];
  const login = async (user = 'alice'): Promise<Session> => {
    const s = await client.login(user, PASSWORD);
    sessionIds.push(s.response.sessionId);
    return s;
  };

  before(async () => {
    echoServer = createServer((socket) => {
      const entry = { socket, closedAt: undefined as number | undefined };
      targetSockets.push(entry);
      socket.setNoDelay(true);
      socket.on('close', () => (entry.closedAt = Date.now()));
      socket.on('error', () => socket.destroy());
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echoServer.listen(0, '127.0.0.1', resolve));
    echoPort = (echoServer.address() as AddressInfo).port;

    const init = await runCli(['init', dir, '--listen', '127.0.0.1:0']);
    assert.equal(init.code, 0, init.stderr);
    const starter = readFileSync(configFile, 'utf8');
    // The starter documents groups with production and staging examples (commented out).
    assert.match(starter, /^# groups:$/m);
    assert.match(starter, /^#   production:\n#     idleTimeout: 15m\n#     maxDuration: 1h/m);
    assert.match(starter, /^#   staging:\n#     idleTimeout: 60m\n#     maxDuration: 8h/m);
    const policy = `groups:
  default:
    idleTimeout: 3s
    maxDuration: 1h
    warnBefore: 1s
    maxRenewals: 2
  brief:
    maxDuration: 5s
  strict:
    idleTimeout: 2s
resources:
  - id: echo
    target: 127.0.0.1:${echoPort}
  - id: brief-echo
    target: 127.0.0.1:${echoPort}
    group: brief
  - id: strict-echo
    target: 127.0.0.1:${echoPort}
    group: strict
`;
    writeFileSync(configFile, starter.replace(/^resources: \[\]$/m, policy));
    for (const user of ['alice', 'bob', 'carol']) {
      const add = await runCli(['user', 'add', user, '--config', configFile], `${PASSWORD}\n`);
      assert.equal(add.code, 0, add.stderr);
    }
    proxy = await serve(configFile);
    client = new ProxyClientHarness(readFileSync(join(dir, 'ca.crt'), 'utf8'), proxy.port);
    salt = Buffer.from(readFileSync(join(dir, 'audit.salt'), 'utf8').trim(), 'hex');
  });

  after(async () => {
    killSpawned();
    for (const { socket } of targetSockets) socket.destroy();
    await new Promise<void>((resolve) => echoServer.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  void it('warns at deadline − warnBefore; the idle end closes the target connection (4001) and later requests say why', async () => {
    const s = await login();
    const loggedInAt = Date.now();
    const t = await client.tunnel(s);
    const state = await t.next('session.state');
    assert.equal(state.message.sessionId, s.response.sessionId);
    assert.ok(Math.abs(Number(state.message.idleRemainingMs) - 3_000) <= TOLERANCE_MS, `idle remaining ${String(state.message.idleRemainingMs)}`);
    assert.equal((state.message.policy as { warnBeforeMs: number }).warnBeforeMs, 1_000);

    const stream = t.mux.openStream('echo');
    assert.equal((await echo(stream, Buffer.from('hello'))).toString(), 'hello');
    const target = await waitFor(() => targetSockets.at(-1), 'target connection');

    const warning = await t.next('session.warning');
    assert.equal(warning.message.kind, 'idle');
    assert.equal(warning.message.canRenew, true);
    assert.ok(Math.abs(warning.at - (loggedInAt + 2_000)) <= TOLERANCE_MS, `warning ${warning.at - loggedInAt} ms after sign-in`);

    const closed = await withTimeout(t.closed, 'tunnel closed at the idle deadline');
    assert.equal(closed.code, CloseCode.SESSION_IDLE);
    assert.ok(Math.abs(closed.at - (loggedInAt + 3_000)) <= TOLERANCE_MS, `ended ${closed.at - loggedInAt} ms after sign-in`);
    const ended = t.of('session.ended')[0]?.message;
    assert.equal(ended?.reason, 'idle');
    assert.match(String(ended?.message), /idle for 3 s/);
    await waitFor(() => target.closedAt, 'the target sees its connection close');
    assert.ok((target.closedAt ?? 0) - closed.at <= TOLERANCE_MS);

    const refused = await client.https('GET', ApiPath.RESOURCES, { creds: s });
    assert.equal(refused.status, 403);
    assert.deepEqual([(refused.body as { code: string }).code, (refused.body as { reason: string }).reason], [ErrorCode.SESSION_ENDED, 'idle']);
    const upgrade = await client.refusal(s);
    assert.deepEqual([upgrade.status, upgrade.body.code, upgrade.body.reason], [403, ErrorCode.SESSION_ENDED, 'idle']);

    const events = eventsOf(s.response.sessionId);
    assert.deepEqual(events.filter((e) => e.startsWith('session.')), ['session.started', 'session.warning', 'session.ended']);
    assert.ok(events.includes('connection.opened') && events.includes('connection.closed'), events.join());
    assert.equal(auditOf(s.response.sessionId).find((l) => l.unmapped.latch_event === 'session.ended')?.unmapped.reason, 'idle');
    assert.ok(events.includes('auth.failed'), 'the refused certificate is audited');
  });

  void it('activity moves the idle deadline; renew moves it, is audited, and is bounded by maxRenewals', async () => {
    const s = await login();
    const t = await client.tunnel(s);
    await t.next('session.state');
    await new Promise((r) => setTimeout(r, 1_500));
    const before = t.controls.length;
    t.mux.sendControl({ type: 'activity', idleMs: 0, locked: false });
    const moved = await t.next('session.state', before);
    assert.ok(Number(moved.message.idleRemainingMs) >= 3_000 - TOLERANCE_MS, `after activity: ${String(moved.message.idleRemainingMs)}`);
    // Past the original deadline (sign-in + 3 s) the session is still live.
    await new Promise((r) => setTimeout(r, 2_000));
    const live = await client.https('GET', ApiPath.SESSION, { creds: s });
    assert.equal(live.status, 200, live.text);
    assert.ok(Number((live.body as { idleRemainingMs: number }).idleRemainingMs) > 0);

    const beforeRenew = t.controls.length;
    t.mux.sendControl({ type: 'renew' });
    const renewed = await t.next('session.state', beforeRenew);
    assert.equal(renewed.message.renewalsLeft, 1);
    assert.ok(Math.abs(Number(renewed.message.idleRemainingMs) - 3_000) <= TOLERANCE_MS);

    const viaHttp = await client.https('POST', ApiPath.RENEW, { creds: s });
    assert.equal(viaHttp.status, 200, viaHttp.text);
    assert.equal((viaHttp.body as { renewalsLeft: number }).renewalsLeft, 0);

    const beforeLimit = t.controls.length;
    t.mux.sendControl({ type: 'renew' });
    const refused = await t.next('request.error', beforeLimit);
    assert.equal(refused.message.request, 'renew');
    assert.equal((refused.message.error as { code: string }).code, ErrorCode.RENEWAL_LIMIT);
    const limit = await client.https('POST', ApiPath.RENEW, { creds: s });
    assert.equal(limit.status, 409);
    assert.equal((limit.body as { code: string }).code, ErrorCode.RENEWAL_LIMIT);

    const renewals = auditOf(s.response.sessionId).filter((l) => l.unmapped.latch_event === 'session.renewed');
    assert.deepEqual(renewals.map((l) => l.unmapped.renewals), [1, 2]);
    t.close();
  });

  void it('maxDuration ends the session despite constant activity (brief group: 5 s, close 4002)', async () => {
    const s = await login();
    const loggedInAt = Date.now();
    const t = await client.tunnel(s);
    t.keepAlive(300);
    await t.next('session.state');
    const before = t.controls.length;
    const stream = t.mux.openStream('brief-echo');
    assert.equal((await echo(stream, Buffer.from('x'))).toString(), 'x');
    const tightened = await waitFor(
      () => t.controls.slice(before).find((c) => c.message.type === 'session.state' && (c.message.policy as { groups: string[] }).groups.includes('brief')),
      'the brief policy in session.state',
    );
    assert.equal((tightened.message.policy as { maxDurationMs: number }).maxDurationMs, 5_000);
    const closed = await withTimeout(t.closed, 'tunnel closed at maxDuration');
    assert.equal(closed.code, CloseCode.SESSION_ABSOLUTE);
    assert.ok(Math.abs(closed.at - (loggedInAt + 5_000)) <= TOLERANCE_MS, `ended ${closed.at - loggedInAt} ms after sign-in`);
    assert.equal(t.of('session.ended')[0]?.message.reason, 'absolute');
    assert.ok(t.of('session.warning').some((w) => w.message.kind === 'absolute' && w.message.canRenew === false));
  });

  void it('opening a resource of a stricter group whose idle deadline already passed ends the session before dialing', async () => {
    const s = await login();
    const t = await client.tunnel(s);
    await t.next('session.state');
    const connectionsBefore = targetSockets.length;
    // 2.3 s without input: live under the default (3 s), past the strict group's 2 s.
    await new Promise((r) => setTimeout(r, 2_300));
    const stream = t.mux.openStream('strict-echo');
    const refused = withTimeout(new Promise<string>((resolve) => stream.on('error', (err: NodeJS.ErrnoException) => resolve(String(err.code)))), 'stream refused');
    const closed = await withTimeout(t.closed, 'session ended on open');
    assert.equal(closed.code, CloseCode.SESSION_IDLE);
    assert.equal(t.of('session.ended')[0]?.message.reason, 'idle');
    assert.match(await refused, /^LATCH_ERR_/);
    assert.equal(targetSockets.length, connectionsBefore, 'the target was never dialed');
  });

  void it('latch-proxy sessions lists live sessions; end and revoke reach a live tunnel within 1 s', async () => {
    // Each session reports activity as soon as its tunnel is up: with a 3 s idle policy, three
    // sign-ins in a row on a loaded machine could otherwise outlast the first one's deadline.
    const tunnels: Awaited<ReturnType<typeof client.tunnel>>[] = [];
    const sessions: Awaited<ReturnType<typeof login>>[] = [];
    for (const user of ['alice', 'bob', 'bob']) {
      const s = await login(user);
      const t = await client.tunnel(s);
      t.keepAlive(300);
      sessions.push(s);
      tunnels.push(t);
    }
    const [a, b1] = sessions as [typeof sessions[number], typeof sessions[number]];

    assert.equal(statSync(join(dir, 'admin.sock')).mode & 0o777, 0o600, 'the admin socket is private');
    const listed = await runCli(['sessions', '--json', '--config', configFile]);
    assert.equal(listed.code, 0, listed.stderr);
    const list = JSON.parse(listed.stdout) as { serving: boolean; sessions: { sessionId: string; user: string; groups: string[]; idleRemainingMs: number; absoluteRemainingMs: number; renewals: number }[] };
    assert.equal(list.serving, true);
    const mine = list.sessions.find((x) => x.sessionId === a.response.sessionId);
    assert.ok(mine, listed.stdout);
    assert.equal(mine.user, 'alice');
    assert.ok(mine.idleRemainingMs > 0 && mine.idleRemainingMs <= 3_000);
    assert.ok(mine.absoluteRemainingMs > 3_500_000);
    const table = await runCli(['sessions', '--config', configFile]);
    assert.match(table.stdout, /^SESSION\s+USER\s+GROUPS\s+IDLE LEFT\s+ABSOLUTE LEFT\s+RENEWALS/m);
    assert.ok(table.stdout.includes(a.response.sessionId));

    const ended = await runCli(['end', a.response.sessionId.slice(0, 13), '--config', configFile]);
    const endReturned = Date.now();
    assert.equal(ended.code, 0, ended.stderr);
    const closedA = await withTimeout(tunnels[0]?.closed ?? Promise.reject(new Error('no tunnel')), 'end reached the tunnel', 1_000 + TOLERANCE_MS);
    assert.ok(closedA.at <= endReturned + 1_000, `closed ${closedA.at - endReturned} ms after the CLI returned`);
    assert.equal(closedA.code, CloseCode.SESSION_REVOKED);
    assert.equal(tunnels[0]?.of('session.ended')[0]?.message.reason, 'revoked');

    const revoked = await runCli(['revoke', 'bob', '--config', configFile]);
    const revokeReturned = Date.now();
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /revoked 2 session\(s\) of bob/);
    for (const t of tunnels.slice(1)) {
      const closed = await withTimeout(t.closed, 'revoke reached the tunnel', 1_000 + TOLERANCE_MS);
      assert.ok(closed.at <= revokeReturned + 1_000);
      assert.equal(closed.code, CloseCode.SESSION_REVOKED);
    }
    const after = await client.https('GET', ApiPath.SESSION, { creds: b1 });
    assert.deepEqual([after.status, (after.body as { reason: string }).reason], [403, 'revoked']);
    const audit = auditOf(a.response.sessionId).find((l) => l.unmapped.latch_event === 'session.ended');
    assert.deepEqual([audit?.unmapped.reason, audit?.unmapped.ended_by], ['revoked', 'admin']);

    const bad = await runCli(['end', 'no-such-session', '--config', configFile]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /LATCH_ERR_NOT_FOUND/);
    const badReason = await runCli(['end', a.response.sessionId, '--reason', 'bored', '--config', configFile]);
    assert.equal(badReason.code, 2);
  });

  void it('re-authentication keeps an open stream working, moves the absolute deadline and refuses the old certificate', async () => {
    const s = await login();
    const t = await client.tunnel(s);
    t.keepAlive(300);
    await t.next('session.state');
    const stream = t.mux.openStream('echo');
    assert.equal((await echo(stream, Buffer.from('before'))).toString(), 'before');

    const { keyPem, csrPem } = makeKeyAndCsr();
    const wrong = await client.https('POST', ApiPath.REAUTH, { creds: s, body: { method: 'password', user: 'alice', password: 'not-the-password', csr: csrPem } });
    assert.deepEqual([wrong.status, (wrong.body as { code: string }).code], [401, ErrorCode.AUTH_REJECTED]);
    const other = await client.https('POST', ApiPath.REAUTH, { creds: s, body: { method: 'password', user: 'bob', password: PASSWORD, csr: csrPem } });
    assert.deepEqual([other.status, (other.body as { code: string }).code], [401, ErrorCode.AUTH_REJECTED]);

    const before = t.controls.length;
    const res = await client.https('POST', ApiPath.REAUTH, { creds: s, body: { method: 'password', user: 'alice', password: PASSWORD, csr: csrPem } });
    assert.equal(res.status, 200, res.text);
    const response = res.body as LoginResponse;
    assert.equal(response.sessionId, s.response.sessionId);
    assert.notEqual(response.certificate, s.certPem);
    assert.notEqual(response.token, s.token);
    assert.match(response.wipeReceipt, /^[A-Za-z0-9_-]{43}$/);
    const pushed = await t.next('session.state', before);
    assert.equal(pushed.message.renewalsLeft, 2);
    assert.ok(Number(pushed.message.absoluteRemainingMs) > 3_600_000 - TOLERANCE_MS * 5);

    // The open stream keeps working over the same tunnel.
    assert.equal((await echo(stream, Buffer.from('after'))).toString(), 'after');
    assert.equal(t.mux.closed, false);

    const old = await client.refusal(s);
    assert.deepEqual([old.status, old.body.code], [403, ErrorCode.CERT_REVOKED]);
    const fresh = { certPem: response.certificate, keyPem, token: response.token };
    const state = await client.https('GET', ApiPath.SESSION, { creds: fresh });
    assert.equal(state.status, 200, state.text);
    assert.ok(eventsOf(s.response.sessionId).includes('session.reauthenticated'));
    t.close();
    await client.https('POST', ApiPath.LOGOUT, { creds: fresh });
  });

  void it('POST /v1/wiped audits the wipe once, for an ended session too; a wrong receipt is refused unaudited', async () => {
    const s = await login();
    const out = await client.https('POST', ApiPath.LOGOUT, { creds: s });
    assert.equal(out.status, 200);
    const wrong = await client.https('POST', ApiPath.WIPED, { body: { sessionId: s.response.sessionId, receipt: 'forged-receipt', items: 3 } });
    assert.deepEqual([wrong.status, (wrong.body as { code: string }).code], [401, ErrorCode.AUTH_REJECTED]);
    assert.ok(!eventsOf(s.response.sessionId).includes('credentials.wiped'));
    const ok = await client.https('POST', ApiPath.WIPED, { body: { sessionId: s.response.sessionId, receipt: s.response.wipeReceipt, items: 3 } });
    assert.equal(ok.status, 204, ok.text);
    const again = await client.https('POST', ApiPath.WIPED, { body: { sessionId: s.response.sessionId, receipt: s.response.wipeReceipt, items: 3 } });
    assert.equal(again.status, 204);
    const wiped = auditOf(s.response.sessionId).filter((l) => l.unmapped.latch_event === 'credentials.wiped');
    assert.equal(wiped.length, 1);
    assert.equal(wiped[0]?.unmapped.items, 3);
    const events = eventsOf(s.response.sessionId);
    assert.deepEqual(events.filter((e) => e.startsWith('session.') || e === 'credentials.wiped'), ['session.started', 'session.ended', 'credentials.wiped']);
    const bad = await client.https('POST', ApiPath.WIPED, { body: { sessionId: s.response.sessionId } });
    assert.equal(bad.status, 400);
  });

  void it('SIGKILL and restart: deadlines are unchanged, a deadline passed while down ends with its reason, an end made while down applies', async () => {
    const relaxedFile = join(dir, 'latch-proxy.yaml');
    // Everyone else's idle timeout is 3 s: give this test's long-lived session 30 s via the default.
    // and make `brief` the 3 s idle group (its 5 s maxDuration would end it first while down).
    const text = readFileSync(relaxedFile, 'utf8');
    const relaxed = text.replace('    idleTimeout: 3s\n    maxDuration: 1h', '    idleTimeout: 30s\n    maxDuration: 1h').replace('  brief:\n    maxDuration: 5s', '  brief:\n    idleTimeout: 3s');
    assert.notEqual(relaxed, text);
    writeFileSync(relaxedFile, relaxed);
    proxy.child.kill('SIGTERM');
    assert.equal(await withTimeout(proxy.exited, 'serve stopped'), 0);
    proxy = await serve(configFile);
    client.port = proxy.port;

    const keep = await login();
    const quick = await login();
    const ended = await login('carol');
    const quickTunnel = await client.tunnel(quick);
    await quickTunnel.next('session.state');
    // Opening a brief resource binds `quick` to idle 3 s.
    const s = quickTunnel.mux.openStream('brief-echo');
    assert.equal((await echo(s, Buffer.from('q'))).toString(), 'q');
    const keepState = (await client.https('GET', ApiPath.SESSION, { creds: keep })).body as { idleRemainingMs: number; absoluteRemainingMs: number };
    const measuredAt = Date.now();

    proxy.child.kill('SIGKILL');
    await withTimeout(proxy.exited, 'serve killed');
    const endWhileDown = await runCli(['end', ended.response.sessionId, '--config', configFile]);
    assert.equal(endWhileDown.code, 0, endWhileDown.stderr);
    assert.match(endWhileDown.stdout, /serve is not running/);
    await new Promise((r) => setTimeout(r, 3_500));
    proxy = await serve(configFile);
    client.port = proxy.port;

    const after = await client.https('GET', ApiPath.SESSION, { creds: keep });
    assert.equal(after.status, 200, after.text);
    const elapsed = Date.now() - measuredAt;
    const body = after.body as { idleRemainingMs: number; absoluteRemainingMs: number };
    assert.ok(Math.abs(body.idleRemainingMs - (keepState.idleRemainingMs - elapsed)) <= TOLERANCE_MS, `idle ${body.idleRemainingMs} vs ${keepState.idleRemainingMs - elapsed}`);
    assert.ok(Math.abs(body.absoluteRemainingMs - (keepState.absoluteRemainingMs - elapsed)) <= TOLERANCE_MS);

    const quickRefused = await client.refusal(quick);
    assert.deepEqual([quickRefused.status, quickRefused.body.code, quickRefused.body.reason], [403, ErrorCode.SESSION_ENDED, 'idle']);
    const endedRefused = await client.https('GET', ApiPath.RESOURCES, { creds: ended });
    assert.deepEqual([endedRefused.status, (endedRefused.body as { reason: string }).reason], [403, 'revoked']);
    const quickEnd = auditOf(quick.response.sessionId).filter((l) => l.unmapped.latch_event === 'session.ended');
    assert.deepEqual(quickEnd.map((l) => l.unmapped.reason), ['idle']);
    const adminEnd = auditOf(ended.response.sessionId).filter((l) => l.unmapped.latch_event === 'session.ended');
    assert.deepEqual(adminEnd.map((l) => [l.unmapped.reason, l.unmapped.ended_by]), [['revoked', 'admin']]);
    await client.https('POST', ApiPath.LOGOUT, { creds: keep });
  });

  void it('audit verify passes on the trail, then fails after one byte is changed', async () => {
    proxy.child.kill('SIGTERM');
    assert.equal(await withTimeout(proxy.exited, 'serve stopped'), 0);
    const ok = await runCli(['audit', 'verify', auditFile]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /hash chain intact/);
    const lines = auditLines();
    assert.ok(lines.length > 20, `${lines.length} audit lines`);
    assert.ok(lines.every((l, i) => l.seq === i + 1));
    const text = readFileSync(auditFile, 'utf8');
    assert.ok(sessionIds.length > 5);
    for (const id of sessionIds) assert.ok(!text.includes(id), 'session ids appear only as salted hashes');

    const tampered = join(dir, 'tampered.jsonl');
    copyFileSync(auditFile, tampered);
    const bytes = readFileSync(tampered);
    const at = bytes.indexOf('"user":{"name":"alice"}') + '"user":{"name":"a'.length;
    bytes[at] = 'A'.charCodeAt(0);
    writeFileSync(tampered, bytes);
    const broken = await runCli(['audit', 'verify', tampered]);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /LATCH_ERR_AUDIT_CHANGED/);
  });
});

void describe('activity: input+traffic counts relayed bytes (real proxy)', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'latch-traffic-it-'));
  const configFile = join(dir, 'latch-proxy.yaml');
  let echoServer: Server;
  const sockets = new Set<Socket>();
  let client: ProxyClientHarness;

  before(async () => {
    echoServer = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echoServer.listen(0, '127.0.0.1', resolve));
    const port = (echoServer.address() as AddressInfo).port;
    const init = await runCli(['init', dir, '--listen', '127.0.0.1:0']);
    assert.equal(init.code, 0, init.stderr);
    const policy = `groups:\n  default:\n    idleTimeout: 3s\n    warnBefore: 1s\n    activity: input+traffic\nresources:\n  - id: echo\n    target: 127.0.0.1:${port}\n`;
    writeFileSync(configFile, readFileSync(configFile, 'utf8').replace(/^resources: \[\]$/m, policy));
    const add = await runCli(['user', 'add', 'alice', '--config', configFile], `${PASSWORD}\n`);
    assert.equal(add.code, 0, add.stderr);
    const proxy = await serve(configFile);
    client = new ProxyClientHarness(readFileSync(join(dir, 'ca.crt'), 'utf8'), proxy.port);
  });

  after(async () => {
    killSpawned();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => echoServer.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  void it('bytes through a stream keep the session past idleTimeout without input reports; silence ends it', async () => {
    const s = await client.login('alice', PASSWORD);
    const t = await client.tunnel(s);
    await t.next('session.state');
    const stream = t.mux.openStream('echo');
    const started = Date.now();
    while (Date.now() - started < 5_000) {
      await echo(stream, Buffer.from('tick'));
      await new Promise((r) => setTimeout(r, 400));
    }
    const live = await client.https('GET', ApiPath.SESSION, { creds: s });
    assert.equal(live.status, 200, live.text);
    assert.equal((live.body as { policy: { activity: string } }).policy.activity, 'input+traffic');
    const quietSince = Date.now();
    const closed = await withTimeout(t.closed, 'idle end after the traffic stops', 10_000);
    assert.equal(closed.code, CloseCode.SESSION_IDLE);
    assert.ok(closed.at - quietSince <= 3_000 + TOLERANCE_MS, `ended ${closed.at - quietSince} ms after the last byte`);
  });
});
