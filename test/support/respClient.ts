import type net from 'node:net';
import { connectTcp } from './tcpTargets.ts';

export type RespValue = string | number | null | RespError | RespValue[];

export class RespError extends Error {}

/**
 * A minimal Redis client speaking RESP over one TCP connection (through a Latch listener):
 * enough to show that a tunneled connection works, and when it is closed by the far end.
 */
export class RespClient {
  readonly socket: net.Socket;
  /** Epoch ms when the connection closed (undefined while open). */
  closedAt: number | undefined;
  readonly closed: Promise<number>;
  #buffer = Buffer.alloc(0);
  readonly #waiting: Array<{ resolve: (v: RespValue) => void; reject: (e: Error) => void }> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      for (;;) {
        const parsed = parse(this.#buffer, 0);
        if (parsed === undefined) break;
        this.#buffer = this.#buffer.subarray(parsed.end);
        this.#waiting.shift()?.resolve(parsed.value);
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.closedAt = Date.now();
        for (const w of this.#waiting.splice(0)) w.reject(new Error('connection closed'));
        resolve(this.closedAt);
      });
    });
  }

  static async connect(port: number): Promise<RespClient> {
    return new RespClient(await connectTcp(port));
  }

  /** Sends one command; resolves with its reply (bounded). */
  command(args: readonly string[], timeoutMs = 10_000): Promise<RespValue> {
    if (this.closedAt !== undefined) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${args[0] ?? ''} within ${timeoutMs} ms`)), timeoutMs);
      this.#waiting.push({
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

function parse(buf: Buffer, at: number): { value: RespValue; end: number } | undefined {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const kind = String.fromCharCode(buf[at] ?? 0);
  const line = buf.toString('utf8', at + 1, eol);
  const next = eol + 2;
  switch (kind) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RespError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      if (buf.length < next + n + 2) return undefined;
      return { value: buf.toString('utf8', next, next + n), end: next + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const item = parse(buf, pos);
        if (item === undefined) return undefined;
        items.push(item.value);
        pos = item.end;
      }
      return { value: items, end: pos };
    }
    default:
      throw new Error(`not RESP: ${JSON.stringify(buf.toString('utf8', at, Math.min(buf.length, at + 40)))}`);
  }
}
