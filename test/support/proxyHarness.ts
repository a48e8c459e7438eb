/**
 * Drives `latch-proxy` as real processes for integration suites: the CLI, `serve` (killable),
 * HTTPS with mutual TLS, and WSS tunnels through the real multiplexer. Every process started
 * here is tracked so a suite's after() can kill exactly those.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ApiPath, SUBPROTOCOL } from '../../common/api.ts';
import type { LoginResponse } from '../../common/api.ts';
import { makeKeyAndCsr } from '../../proxy/testCsr.ts';
import { Multiplexer } from '../../tunnel/Multiplexer.ts';
import type { ControlMessage } from '../../tunnel/Multiplexer.ts';
import type { MuxStream } from '../../tunnel/MuxStream.ts';
import { WebSocketTransport } from '../../tunnel/WebSocketTransport.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
const NODE = process.execPath;
const BIN = join(ROOT, 'bin', 'latch-proxy.js');
export const STEP_TIMEOUT_MS = 20_000;

export const spawned = new Set<ChildProcess>();

/** Kills every process this harness started that is still running. */
export function killSpawned(): void {
  for (const child of spawned) child.kill('SIGKILL');
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [BIN, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    spawned.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`latch-proxy ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, STEP_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      spawned.delete(child);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

export interface Serving {
  child: ChildProcess;
  port: number;
  fingerprint: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `latch-proxy serve --config FILE` (with `env` on top of ours); resolves once it printed its URL and CA fingerprint. */
export function serve(config: string, env: NodeJS.ProcessEnv = { LATCH_PROXY_LOG_LEVEL: 'debug' }): Promise<Serving> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [BIN, 'serve', '--config', config], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    spawned.add(child);
    let stdout = '';
    let stderr = '';
    const exited = new Promise<number | null>((res) =>
      child.on('exit', (code) => {
        spawned.delete(child);
        res(code);
      }),
    );
    const timer = setTimeout(() => reject(new Error(`serve did not start; stdout: ${stdout} stderr: ${stderr}`)), STEP_TIMEOUT_MS);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const port = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1];
      const fingerprint = /CA fingerprint: (sha256:[0-9a-f]{64})/.exec(stdout)?.[1];
      if (port && fingerprint) {
        clearTimeout(timer);
        resolve({ child, port: Number(port), fingerprint, stdout: () => stdout, stderr: () => stderr, exited });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${stderr}`));
    });
  });
}

export interface HttpResult {
  status: number;
  body: unknown;
  text: string;
}

export interface ClientCreds {
  certPem: string;
  keyPem: string;
  token: string;
}

export interface Session extends ClientCreds {
  response: LoginResponse;
}

/** One HTTPS request to the proxy with its CA pinned; the body is parsed as JSON when it is JSON. */
export function httpsRequest(port: number, caPem: string, method: string, path: string, options: { body?: unknown; raw?: string | Buffer; creds?: Partial<ClientCreds> } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const headers: Record<string, string | number> = {};
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    if (options.creds?.token) headers.authorization = `Bearer ${options.creds.token}`;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        ca: caPem,
        headers,
        agent: false,
        timeout: STEP_TIMEOUT_MS,
        ...(options.creds?.certPem ? { cert: options.creds.certPem } : {}),
        ...(options.creds?.keyPem ? { key: options.creds.keyPem } : {}),
      },
      (res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let body: unknown = undefined;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body, text });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

export class ProxyClientHarness {
  readonly caPem: string;
  port: number;

  constructor(caPem: string, port: number) {
    this.caPem = caPem;
    this.port = port;
  }

  https(method: string, path: string, options: { body?: unknown; creds?: Partial<ClientCreds> } = {}): Promise<HttpResult> {
    return httpsRequest(this.port, this.caPem, method, path, options);
  }

  async login(user: string, password: string): Promise<Session> {
    const { keyPem, csrPem } = makeKeyAndCsr();
    const res = await this.https('POST', ApiPath.LOGIN, { body: { method: 'password', user, password, csr: csrPem } });
    assert.equal(res.status, 200, res.text);
    const response = res.body as LoginResponse;
    return { certPem: response.certificate, keyPem, token: response.token, response };
  }

  /** Opens a WSS tunnel; resolves with the socket, or the HTTP refusal (status + body). */
  openTunnel(creds: Partial<ClientCreds>): Promise<WebSocket | { status: number; body: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${this.port}${ApiPath.TUNNEL}`, [SUBPROTOCOL], {
        ca: this.caPem,
        ...(creds.certPem ? { cert: creds.certPem } : {}),
        ...(creds.keyPem ? { key: creds.keyPem } : {}),
        headers: creds.token ? { authorization: `Bearer ${creds.token}` } : {},
        perMessageDeflate: false,
        handshakeTimeout: STEP_TIMEOUT_MS,
      });
      ws.on('open', () => resolve(ws));
      ws.on('unexpected-response', (_req, res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
      });
      ws.on('error', reject);
    });
  }

  async refusal(creds: Partial<ClientCreds>): Promise<{ status: number; body: Record<string, unknown> }> {
    const result = await this.openTunnel(creds);
    if (result instanceof WebSocket) {
      result.terminate();
      assert.fail('the upgrade was accepted');
    }
    return result;
  }

  async tunnel(creds: ClientCreds): Promise<Tunnel> {
    const ws = await this.openTunnel(creds);
    assert.ok(ws instanceof WebSocket, `tunnel refused: ${JSON.stringify(ws)}`);
    return new Tunnel(ws);
  }
}

export interface TimedControl {
  at: number;
  message: ControlMessage;
}

/** A client end of a tunnel that records every control message with its arrival time. */
export class Tunnel {
  readonly ws: WebSocket;
  readonly mux: Multiplexer;
  readonly controls: TimedControl[] = [];
  readonly closed: Promise<{ code: number; reason: string; at: number }>;
  private keepAliveTimer: NodeJS.Timeout | undefined;

  constructor(ws: WebSocket) {
    this.ws = ws;
    this.mux = new Multiplexer(new WebSocketTransport(ws), { role: 'client', keepaliveIntervalMs: 0 });
    this.mux.on('control', (message) => this.controls.push({ at: Date.now(), message }));
    this.mux.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      this.mux.on('close', (code, reason) => {
        clearInterval(this.keepAliveTimer);
        resolve({ code, reason, at: Date.now() });
      }),
    );
  }

  of(type: string): TimedControl[] {
    return this.controls.filter((c) => c.message.type === type);
  }

  /** Waits for the first control message of `type` after index `from`. */
  next(type: string, from = 0, ms = STEP_TIMEOUT_MS): Promise<TimedControl> {
    return waitFor(() => this.controls.slice(from).find((c) => c.message.type === type), `control ${type}`, ms);
  }

  /** Reports "input just now" every `everyMs` (what a client at the keyboard sends). */
  keepAlive(everyMs = 500): void {
    clearInterval(this.keepAliveTimer);
    const report = (): void => void this.mux.sendControl({ type: 'activity', idleMs: 0, locked: false });
    report();
    this.keepAliveTimer = setInterval(report, everyMs);
  }

  stopKeepAlive(): void {
    clearInterval(this.keepAliveTimer);
  }

  close(): void {
    clearInterval(this.keepAliveTimer);
    this.mux.close(1000, 'done');
  }
}

export function withTimeout<T>(promise: Promise<T>, what: string, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))),
  ]);
}

/** Polls `probe` every 20 ms until it returns a value (not undefined/false), bounded by `ms`. */
export async function waitFor<T>(probe: () => T | undefined | false, what: string, ms = STEP_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Writes `data` to a stream and collects the same number of bytes back. */
export function echo(stream: MuxStream, data: Buffer): Promise<Buffer> {
  return withTimeout(
    new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let got = 0;
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        got += chunk.length;
        if (got >= data.length) {
          stream.off('data', onData);
          stream.off('error', reject);
          resolve(Buffer.concat(chunks));
        }
      };
      stream.on('data', onData);
      // Removed on success: a stream echoed through in a loop must not collect listeners.
      stream.once('error', reject);
      stream.write(data);
    }),
    'echo through the tunnel',
  );
}
