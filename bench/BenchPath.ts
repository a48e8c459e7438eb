// What the driver needs from each path under test: where to connect for the sink and the echo
// server, which processes' memory to report, and how to take it down.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Endpoint } from './loadgen.ts';

export interface ProcessMemory {
  label: string;
  /** Peak resident set size (VmHWM) in bytes, or null when it could not be read. */
  peakRssBytes: number | null;
  /** Resident set size right after start-up (before any load), for comparison. */
  startRssBytes?: number | null;
}

export interface BenchPath {
  readonly name: string;
  /** One line on how the path is built (cipher, transport...), printed above the table. */
  readonly description: string;
  readonly sink: Endpoint;
  readonly echo: Endpoint;
  memory(): ProcessMemory[];
  /**
   * CPU seconds used so far by the path's own relay processes (not the load generator, not the
   * targets). Measured around each bulk run: CPU per GiB compares the paths' efficiency even
   * when other work on the machine skews their throughput.
   */
  relayCpuSeconds(): number;
  /** Measurements (by label: bulk, latency, concurrency) that say nothing for this path. */
  readonly skips?: readonly string[];
  /** Recent output of the path's processes, shown when a measurement fails. */
  diagnostics(): string;
  stop(): Promise<void>;
}

export interface TargetPorts {
  sink: number;
  echo: number;
}

/** Asks the kernel for a free loopback port (for programs that cannot report an ephemeral one). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no TCP address'));
        else resolve(address.port);
      });
    });
  });
}

/** Polls until a TCP connect to `endpoint` succeeds (then closes it). */
export async function waitForPort(endpoint: Endpoint, timeoutMs: number, isAlive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'never tried';
  for (let attempt = 0; attempt < 1_000 && Date.now() < deadline; attempt++) {
    if (!isAlive()) throw new Error(`the process behind ${endpoint.host}:${endpoint.port} exited`);
    try {
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect({ host: endpoint.host, port: endpoint.port }, () => {
          socket.destroy();
          resolve();
        });
        socket.once('error', reject);
      });
      return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await sleep(25);
  }
  throw new Error(`${endpoint.host}:${endpoint.port} did not accept connections within ${timeoutMs} ms (${lastError})`);
}

export function directPath(targets: TargetPorts): BenchPath {
  return {
    name: 'direct',
    description: 'direct: loopback TCP straight to the target servers',
    sink: { host: '127.0.0.1', port: targets.sink },
    echo: { host: '127.0.0.1', port: targets.echo },
    memory: () => [],
    relayCpuSeconds: () => 0,
    diagnostics: () => '',
    stop: () => Promise.resolve(),
  };
}
