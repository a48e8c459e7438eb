// The load generator must measure only what really arrived intact: these tests run it against
// the bench's own target process, and against servers that lose or corrupt bytes, which it must
// refuse. No figure is asserted (a benchmark is not a test). Run: node --test bench/
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { Children } from './Children.ts';
import { measureBulk, measureConcurrency, measureLatency, percentile } from './loadgen.ts';
import type { Endpoint } from './loadgen.ts';

const children = new Children();
let sink: Endpoint;
let echo: Endpoint;

before(async () => {
  const targets = children.spawn('targets', process.execPath, [join(import.meta.dirname, 'targets.ts')]);
  const ports = JSON.parse((await targets.waitFor(/^(\{.*\})$/m, 10_000))[1] ?? '') as { sink: number; echo: number };
  sink = { host: '127.0.0.1', port: ports.sink };
  echo = { host: '127.0.0.1', port: ports.echo };
});

after(() => children.stopAll());

/** A TCP server on 127.0.0.1 for the duration of one test. */
async function serve(handler: (socket: net.Socket) => void): Promise<{ endpoint: Endpoint; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    handler(s);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const address = server.address() as net.AddressInfo;
  return {
    endpoint: { host: '127.0.0.1', port: address.port },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

test('bulk: the sink confirms exactly the bytes sent, odd sizes included', async () => {
  for (const bytes of [1, 1024 * 1024 + 7, 32 * 1024 * 1024]) {
    const r = await measureBulk(sink, bytes, { chunkSize: 256 * 1024, timeoutMs: 20_000 });
    assert.equal(r.bytes, bytes);
    assert.ok(r.seconds > 0 && Number.isFinite(r.mbPerSec));
  }
});

test('bulk: a count that differs from what was sent is an error, not a figure', async () => {
  // Answers the u64 count minus one as soon as the header arrives.
  const liar = await serve((s) => {
    s.once('data', (d: Buffer) => {
      const reply = Buffer.alloc(8);
      reply.writeBigUInt64BE(d.readBigUInt64BE(0) - 1n, 0);
      s.end(reply);
    });
  });
  try {
    await assert.rejects(measureBulk(liar.endpoint, 4096, { timeoutMs: 5_000 }), /sink counted 4095 bytes, 4096 were sent/);
  } finally {
    await liar.close();
  }
});

test('bulk: a sink that never answers times out within the bound', async () => {
  const silent = await serve(() => {});
  const started = Date.now();
  try {
    await assert.rejects(measureBulk(silent.endpoint, 1024, { timeoutMs: 500 }), /did not finish within 500 ms/);
    assert.ok(Date.now() - started < 1_500);
  } finally {
    await silent.close();
  }
});

test('latency: percentiles come from every timed round trip', async () => {
  const r = await measureLatency(echo, { roundTrips: 500, warmup: 50, timeoutMs: 20_000 });
  assert.equal(r.roundTrips, 500);
  assert.ok(r.p50Us > 0 && r.p99Us >= r.p50Us);
});

test('latency: an echo that alters a byte fails the run', async () => {
  const flipper = await serve((s) => {
    let n = 0;
    s.on('data', (d: Buffer) => {
      n += 1;
      const copy = Buffer.from(d);
      if (n === 20) copy[10] = (copy[10] ?? 0) ^ 0xff;
      s.write(copy);
    });
  });
  try {
    await assert.rejects(measureLatency(flipper.endpoint, { roundTrips: 100, warmup: 0, timeoutMs: 5_000 }), /echo mismatch at round trip 19/);
  } finally {
    await flipper.close();
  }
});

test('concurrency: every connection gets its own bytes back', async () => {
  const r = await measureConcurrency(echo, { connections: 200, bytesPer: 64 * 1024, maxOpening: 50, timeoutMs: 30_000 });
  assert.equal(r.connections, 200);
  assert.equal(r.bytesVerified, 200 * 64 * 1024);
});

test('concurrency: a server that swaps data between connections is caught', async () => {
  // Echoes each connection's bytes to the previous connection: lengths match, contents do not.
  const peers: net.Socket[] = [];
  const swapper = await serve((s) => {
    const target = peers.length > 0 ? peers[peers.length - 1] : s;
    peers.push(s);
    s.on('data', (d: Buffer) => target?.write(d));
  });
  try {
    await assert.rejects(measureConcurrency(swapper.endpoint, { connections: 4, bytesPer: 1024, maxOpening: 4, timeoutMs: 5_000 }), /received (different|more) bytes than it sent|closed after/);
  } finally {
    await swapper.close();
  }
});

test('percentile uses the nearest rank', () => {
  const sorted = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(percentile(sorted, 0.5), 5);
  assert.equal(percentile(sorted, 0.99), 10);
  assert.equal(percentile(sorted, 0.1), 1);
  assert.ok(Number.isNaN(percentile(new Float64Array(0), 0.5)));
});
