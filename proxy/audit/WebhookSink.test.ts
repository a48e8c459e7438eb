import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, isLatchError } from '../../common/errors.ts';
import type { AuditEvent } from './AuditEvent.ts';
import { AuditLog } from './AuditLog.ts';
import { WebhookSink } from './WebhookSink.ts';
import type { WebhookSinkStats } from './WebhookSink.ts';
import { selfSignedCert } from '../../test/support/selfSignedCert.ts';

const salt = Buffer.alloc(32, 3);

interface Received {
  body: string;
  seq: string | undefined;
  at: number;
}

type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;

/** A real HTTP collector on 127.0.0.1; `handler` decides each answer. */
async function collector(t: { after(fn: () => Promise<void>): void }, handler: Handler = (_q, _b, res) => res.end()): Promise<{ url: string; received: Received[]; requests: () => number }> {
  const received: Received[] = [];
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      const body = Buffer.concat(chunks).toString('utf8');
      // Counted as received only once a 2xx answer went out.
      res.on('finish', () => {
        if (res.statusCode >= 200 && res.statusCode < 300) {
          const seq = req.headers['x-latch-audit-seq'];
          received.push({ body, seq: Array.isArray(seq) ? seq[0] : seq, at: Date.now() });
        }
      });
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/ingest`, received, requests: () => requests };
}

/** Polls `cond` every 10 ms until it holds or `ms` passes. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'latch-webhook-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const ev = (i: number): AuditEvent => ({ type: 'session.renewed', user: `u${i}`, sessionId: `s${i}`, renewals: i });

void test('a real collector receives each event within 1 s, as the exact file line, in order', async (t) => {
  const c = await collector(t);
  const file = join(tmp(t), 'audit.jsonl');
  const log = AuditLog.open({ salt, file, webhook: { url: c.url } });
  t.after(() => log.close(1000));
  for (let i = 1; i <= 5; i++) {
    const sentAt = Date.now();
    log.append(ev(i));
    assert.ok(await until(() => c.received.length === i, 1000), `event ${i} not delivered within 1 s`);
    assert.ok((c.received[i - 1]?.at ?? Infinity) - sentAt <= 1000);
    await new Promise((r) => setTimeout(r, 50));
  }
  await log.close(1000);
  const lines = readFileSync(file, 'utf8').split('\n').slice(0, -1);
  assert.deepEqual(c.received.map((r) => r.body), lines);
  assert.deepEqual(c.received.map((r) => r.seq), ['1', '2', '3', '4', '5']);
  assert.equal((JSON.parse(c.received[0]?.body ?? '{}') as { unmapped: { latch_event: string } }).unmapped.latch_event, 'session.renewed');
  assert.deepEqual(log.stats().sinks.webhook, { queued: 0, delivered: 5, dropped: 0, failedAttempts: 0, rejected: 0, lastError: undefined });
});

void test('a collector failing twice then succeeding gets the event exactly once', async (t) => {
  let failures = 0;
  const c = await collector(t, (_q, _b, res) => {
    if (failures < 2) {
      failures++;
      res.statusCode = 503;
    }
    res.end();
  });
  const sink = new WebhookSink({ url: c.url, retryBaseMs: 50, retryMaxMs: 200 });
  t.after(() => sink.close(0));
  sink.write('{"seq":1}', 1);
  assert.ok(await until(() => c.received.length === 1, 3000), 'not delivered after two failures');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(c.received.length, 1);
  assert.equal(c.requests(), 3);
  const stats = sink.stats();
  assert.equal(stats.delivered, 1);
  assert.equal(stats.failedAttempts, 2);
  assert.equal(stats.lastError, 'HTTP 503');
});

void test('a refused event (HTTP 400) is dropped and counted; the next one still goes through', async (t) => {
  const c = await collector(t, (_q, body, res) => {
    if (body.includes('poison')) res.statusCode = 400;
    res.end();
  });
  const sink = new WebhookSink({ url: c.url, retryBaseMs: 50 });
  t.after(() => sink.close(0));
  sink.write('{"poison":true}', 1);
  sink.write('{"seq":2}', 2);
  assert.ok(await until(() => c.received.length === 1, 2000));
  assert.equal(c.received[0]?.body, '{"seq":2}');
  assert.equal(sink.stats().rejected, 1);
  assert.equal(sink.stats().dropped, 1);
});

void test('a collector that never answers times out and is retried', async (t) => {
  let calls = 0;
  const c = await collector(t, (_q, _b, res) => {
    calls++;
    if (calls > 1) res.end();
    // The first request is left hanging.
  });
  const sink = new WebhookSink({ url: c.url, requestTimeoutMs: 200, retryBaseMs: 50 });
  t.after(() => sink.close(0));
  sink.write('{"seq":1}', 1);
  assert.ok(await until(() => c.received.length === 1, 3000));
  assert.equal(sink.stats().failedAttempts, 1);
});

void test('a dead collector never blocks appends, and the queue stays bounded', async (t) => {
  // A port that was just free: connections are refused.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  const file = join(tmp(t), 'audit.jsonl');
  const log = AuditLog.open({ salt, file, webhook: { url: `http://127.0.0.1:${port}/`, maxQueue: 100, retryBaseMs: 20, retryMaxMs: 100 } });
  const started = Date.now();
  for (let i = 1; i <= 1000; i++) log.append(ev(i));
  const elapsed = Date.now() - started;
  // Generous: appends are local file writes; the point is that nothing waits on the network.
  assert.ok(elapsed < 5000, `1000 appends took ${elapsed} ms`);
  const stats = log.stats().sinks.webhook;
  assert.ok(stats !== undefined);
  assert.ok(stats.queued <= 101, `queue holds ${stats.queued}`);
  assert.ok(stats.dropped >= 899, `dropped ${stats.dropped}`);
  assert.equal(log.seq, 1000);

  await new Promise((r) => setTimeout(r, 300));
  assert.ok(((log.stats().sinks.webhook as WebhookSinkStats | undefined)?.failedAttempts ?? 0) >= 1, 'delivery was attempted and retried');
  assert.ok((log.stats().sinks.webhook?.queued ?? 0) <= 101);

  const closeStart = Date.now();
  await log.close(300);
  assert.ok(Date.now() - closeStart < 300 + 1000, 'close honours its deadline');
  const after = log.stats().sinks.webhook;
  assert.equal(after?.queued, 0);
  assert.equal(after?.delivered, 0);
  assert.equal(after?.dropped, 1000);
});

void test('the byte bound drops the oldest events too', async () => {
  const sink = new WebhookSink({ url: 'http://127.0.0.1:9/', maxQueueBytes: 1000, maxQueue: 10_000 });
  const line = 'x'.repeat(300);
  for (let i = 1; i <= 10; i++) sink.write(line, i);
  // At most 3 lines (900 bytes) waiting, plus possibly one taken up for delivery.
  assert.ok(sink.stats().queued <= 4, JSON.stringify(sink.stats()));
  assert.ok(sink.stats().dropped >= 6);
  await sink.close(0);
});

void test('close flushes what is queued to a slow collector before the deadline', async (t) => {
  const c = await collector(t, (_q, _b, res) => {
    setTimeout(() => res.end(), 20);
  });
  const sink = new WebhookSink({ url: c.url });
  for (let i = 1; i <= 20; i++) sink.write(`{"seq":${i}}`, i);
  await sink.close(5000);
  assert.equal(c.received.length, 20);
  assert.deepEqual(c.received.map((r) => r.seq), Array.from({ length: 20 }, (_, i) => String(i + 1)));
  sink.write('{"late":true}', 21);
  assert.equal(sink.stats().dropped, 1, 'writes after close are counted as dropped');
});

void test('custom headers reach the collector; bad options are config errors', async (t) => {
  let auth: string | undefined;
  const c = await collector(t, (req, _b, res) => {
    auth = req.headers.authorization;
    res.end();
  });
  const sink = new WebhookSink({ url: c.url, headers: { authorization: 'Bearer abc' } });
  sink.write('{}', 1);
  await sink.close(2000);
  assert.equal(auth, 'Bearer abc');
  assert.throws(() => new WebhookSink({ url: 'ftp://127.0.0.1/' }), (err) => isLatchError(err, ErrorCode.CONFIG));
  assert.throws(() => new WebhookSink({ url: 'not a url' }), (err) => isLatchError(err, ErrorCode.CONFIG));
  assert.throws(() => new WebhookSink({ url: c.url, maxQueue: 0 }), (err) => isLatchError(err, ErrorCode.CONFIG));
});

void test('an https collector with a private CA is trusted through the ca option, and refused without it', async (t) => {
  // Self-signed, so it is its own private CA; valid for 127.0.0.1.
  const { key, cert: certPem } = selfSignedCert();

  const bodies: string[] = [];
  const server = https.createServer({ key, cert: certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  const trusted = new WebhookSink({ url, ca: certPem });
  trusted.write('{"seq":1}', 1);
  await trusted.close(3000);
  assert.deepEqual(bodies, ['{"seq":1}']);

  const untrusted = new WebhookSink({ url, retryBaseMs: 50 });
  untrusted.write('{"seq":2}', 2);
  assert.ok(await until(() => untrusted.stats().failedAttempts >= 1, 3000));
  assert.match(untrusted.stats().lastError ?? '', /SELF_SIGNED|CERT|UNABLE/i);
  await untrusted.close(0);
  assert.deepEqual(bodies, ['{"seq":1}']);
});
