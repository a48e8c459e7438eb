/**
 * FrameTransport over a `ws` WebSocket: one binary message = one frame. A text message is a
 * protocol error. Backpressure: every send carries a callback that ws calls once the socket has
 * taken the bytes, so bufferedAmount counts exactly what is still queued in this process.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import WebSocket from 'ws';
import { ErrorCode, LatchError } from '../common/errors.ts';
import { encodeFrame, encodeFrameInto, encodedSize, truncateUtf8 } from './codec.ts';
import { CloseCode, HEADER_SIZE, MAX_CLOSE_REASON_BYTES, MAX_SEND_FRAME_SIZE } from './constants.ts';
import type { FrameType } from './constants.ts';
import { ABNORMAL_CLOSURE } from './FrameTransport.ts';
import type { FrameTransport } from './FrameTransport.ts';

export interface WebSocketTransportOptions {
  /** send() returns false once this many bytes are queued. */
  highWaterMark: number;
}

export function defaultWebSocketTransportOptions(): WebSocketTransportOptions {
  return { highWaterMark: 1024 * 1024 };
}

/** The `maxPayload` to give ws so it refuses oversized messages before buffering them. */
export function wsMaxPayload(maxFrameSize: number): number {
  return HEADER_SIZE + maxFrameSize;
}

/**
 * A masking key of zeros. RFC 6455 §10.3 requires unpredictable client masks so that hostile
 * scripts in a browser cannot forge bytes that an intermediary would misread; our client is not
 * a browser and the connection is TLS end to end, so masking protects nothing here. With a zero
 * key, ws skips the per-message copy and XOR (measured: a visible share of the client's CPU).
 */
export function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/**
 * TLS 1.3 suites the client offers, fastest first. The proxy answers with its own preference
 * (OpenSSL's default, AES-256-GCM), so the client offers AES-128-GCM alone among the TLS 1.3
 * suites: every TLS 1.3 server must implement it (RFC 8446 §9.1), and with AES-NI it costs
 * about 20 % less CPU per byte than AES-256-GCM (measured with `openssl speed` on the build
 * machine: 3.4 vs 2.8 GB/s). The TLS 1.2 suites stay Node's defaults.
 */
export function clientCiphers(): string {
  const tls12 = tls.DEFAULT_CIPHERS.split(':').filter((c) => c !== '' && !c.startsWith('TLS_'));
  return ['TLS_AES_128_GCM_SHA256', ...tls12].join(':');
}

export interface WsClientOptions {
  maxPayload: number;
  perMessageDeflate: false;
  generateMask: (mask: Buffer) => void;
  ciphers: string;
}

/** Options for the client's `new WebSocket(url, SUBPROTOCOL, { ...wsClientOptions(), ca, cert, key })`. */
export function wsClientOptions(maxFrameSize: number): WsClientOptions {
  return { maxPayload: wsMaxPayload(maxFrameSize), perMessageDeflate: false, generateMask: zeroMask, ciphers: clientCiphers() };
}

interface WebSocketTransportEvents {
  frame: [frame: Buffer];
  drain: [];
  close: [code: number, reason: string];
  error: [err: Error];
}

/** ws accepts 1000 and 3000-4999 from applications (RFC 6455 §7.4). */
function sendableCode(code: number): number {
  return code === 1000 || (code >= 3000 && code <= 4999) ? code : CloseCode.INTERNAL_ERROR;
}

/**
 * ws reports framing violations as errors with a WS_ERR_* code (and closes the connection
 * itself, e.g. 1009 for a message above maxPayload). Name them in our terms.
 */
function latchErrorFromWs(err: Error): LatchError {
  if (err instanceof LatchError) return err;
  const code = (err as Error & { code?: unknown }).code;
  if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
    return new LatchError(ErrorCode.FRAME_TOO_LARGE, `WebSocket message too large: ${err.message}`, { cause: err });
  }
  if (typeof code === 'string' && code.startsWith('WS_ERR_')) {
    return new LatchError(ErrorCode.PROTOCOL, `WebSocket protocol violation: ${err.message}`, { cause: err });
  }
  return new LatchError(ErrorCode.CONNECTION_CLOSED, err.message, { cause: err });
}

const OPCODE_BINARY_FIN = 0x82;

/** Size of the header of one binary WebSocket frame of `length` bytes (RFC 6455 §5.2). */
export function wsHeaderSize(length: number, masked: boolean): number {
  return 2 + (length > 0xffff ? 8 : length > 125 ? 2 : 0) + (masked ? 4 : 0);
}

/**
 * Writes the header of one unfragmented binary WebSocket frame carrying `length` bytes at the
 * start of `target`; returns its size (the payload follows). A client frame carries the mask bit
 * and a zero masking key (see zeroMask), so the payload is sent as it is.
 */
export function writeWsHeader(target: Buffer, length: number, masked: boolean): number {
  const maskBit = masked ? 0x80 : 0;
  target[0] = OPCODE_BINARY_FIN;
  let offset = 2;
  if (length > 0xffff) {
    target[1] = maskBit | 127;
    target.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    target.writeUInt32BE(length >>> 0, 6);
    offset = 10;
  } else if (length > 125) {
    target[1] = maskBit | 126;
    target.writeUInt16BE(length, 2);
    offset = 4;
  } else {
    target[1] = maskBit | length;
  }
  if (masked) {
    target.writeUInt32BE(0, offset);
    offset += 4;
  }
  return offset;
}

/** Frames of at least this many bytes are built in reusable buffers (smaller ones come from Node's pool). */
const POOLED_FRAME_MIN = 4096;
/** Room for the largest frame any sender writes, with the longest WebSocket header. */
const POOLED_BUFFER_SIZE = wsHeaderSize(HEADER_SIZE + MAX_SEND_FRAME_SIZE, true) + HEADER_SIZE + MAX_SEND_FRAME_SIZE;
/**
 * Reusable frame buffers, shared by every connection of the process and capped (4 MiB), so a
 * proxy with many sessions keeps no more than this however many moved bulk data.
 */
const POOL_MAX = 64;
const framePool: Buffer[] = [];

/** The connection under a ws WebSocket, when ws exposes it as it has since version 1. */
interface RawConnection {
  socket: Duplex;
  /** Client frames are masked (RFC 6455 §5.3). */
  masked: boolean;
}

function rawConnection(ws: WebSocket): RawConnection | undefined {
  const internals = ws as unknown as { _socket?: unknown; _isServer?: unknown };
  const socket = internals._socket;
  if (!(socket instanceof Duplex) || typeof internals._isServer !== 'boolean') return undefined;
  return { socket, masked: !internals._isServer };
}

export class WebSocketTransport extends EventEmitter<WebSocketTransportEvents> implements FrameTransport {
  readonly #ws: WebSocket;
  /**
   * Frames are written to the socket directly, header and frame in one buffer: ws.send() would
   * write its header and our frame as two buffers, which Node's TLS layer copies into one before
   * encrypting (one more copy of every byte), and go through cork/uncork for each frame. ws still
   * reads, answers pings and closes; its own writes go to the same socket in order.
   */
  readonly #raw: RawConnection | undefined;
  /**
   * Large frames are built in buffers from framePool that go back once the socket has written
   * them (write callbacks run in write order, so #inFlight holds them in that order): a bulk
   * transfer then allocates no new ArrayBuffer per frame, which is what drives V8's full
   * collections (see gcTuning.ts).
   */
  readonly #inFlight: Buffer[] = [];
  readonly #recycle = (err?: Error | null): void => {
    const buffer = this.#inFlight.shift();
    if (buffer !== undefined && !err && framePool.length < POOL_MAX) framePool.push(buffer);
  };
  readonly #options: WebSocketTransportOptions;
  readonly #highWaterMark: number;
  #queued = 0;
  #needDrain = false;
  #closed = false;
  #localClose: { code: number; reason: string } | undefined;

  constructor(ws: WebSocket, options: Partial<WebSocketTransportOptions> = {}) {
    super();
    this.#ws = ws;
    this.#options = { ...defaultWebSocketTransportOptions(), ...options };
    ws.binaryType = 'nodebuffer';
    this.#raw = ws.readyState === WebSocket.OPEN ? rawConnection(ws) : undefined;
    // Never below the socket's own mark, so a false from us always has a socket 'drain' coming.
    this.#highWaterMark = Math.max(this.#options.highWaterMark, this.#raw?.socket.writableHighWaterMark ?? 0);
    this.#raw?.socket.on('drain', () => this.#maybeDrain());
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (this.#closed || this.#localClose) return;
      if (!isBinary) {
        this.emit('error', new LatchError(ErrorCode.PROTOCOL, 'text message on a latch.v1 connection'));
        return;
      }
      const frame = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      this.emit('frame', frame);
    });
    ws.on('error', (err: Error) => {
      if (!this.#closed && !this.#localClose) this.emit('error', latchErrorFromWs(err));
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (this.#closed) return;
      this.#closed = true;
      // Report what we asked for when we closed; otherwise what the peer said.
      const info = this.#localClose ?? { code: code === 1005 ? ABNORMAL_CLOSURE : code, reason: reason.toString('utf8') };
      this.emit('close', info.code, info.reason);
    });
    // No setNoDelay here: ws turns Nagle off on every socket it adopts (WebSocket#setSocket).
  }

  get bufferedAmount(): number {
    return this.#queued + (this.#raw?.socket.writableLength ?? 0);
  }

  sendFrame(type: FrameType, flags: number, streamId: number, payload?: Uint8Array | number): boolean {
    const raw = this.#raw;
    if (raw === undefined) return this.send(encodeFrame(type, flags, streamId, payload));
    if (this.#closed || this.#localClose || this.#ws.readyState !== WebSocket.OPEN || raw.socket.destroyed || raw.socket.writableEnded) return false;
    const frameSize = encodedSize(type, payload);
    const total = wsHeaderSize(frameSize, raw.masked) + frameSize;
    if (total < POOLED_FRAME_MIN || total > POOLED_BUFFER_SIZE) {
      const buffer = Buffer.allocUnsafe(total);
      encodeFrameInto(buffer, writeWsHeader(buffer, frameSize, raw.masked), type, flags, streamId, payload);
      raw.socket.write(buffer);
    } else {
      const buffer = framePool.pop() ?? Buffer.allocUnsafe(POOLED_BUFFER_SIZE);
      encodeFrameInto(buffer, writeWsHeader(buffer, frameSize, raw.masked), type, flags, streamId, payload);
      this.#inFlight.push(buffer);
      raw.socket.write(total === buffer.length ? buffer : buffer.subarray(0, total), this.#recycle);
    }
    return this.#belowHighWaterMark();
  }

  #belowHighWaterMark(): boolean {
    if (this.bufferedAmount < this.#highWaterMark) return true;
    this.#needDrain = true;
    return false;
  }

  #maybeDrain(): void {
    if (this.#needDrain && this.bufferedAmount < this.#highWaterMark / 2) {
      this.#needDrain = false;
      this.emit('drain');
    }
  }

  send(frame: Buffer): boolean {
    if (this.#closed || this.#localClose || this.#ws.readyState !== WebSocket.OPEN) return false;
    const size = frame.length;
    this.#queued += size;
    this.#ws.send(frame, { binary: true, compress: false }, () => {
      this.#queued -= size;
      this.#maybeDrain();
    });
    return this.#belowHighWaterMark();
  }

  close(code: number, reason: string): void {
    if (this.#closed || this.#localClose) return;
    this.#localClose = { code, reason };
    const ws = this.#ws;
    if (ws.readyState === WebSocket.CONNECTING) {
      ws.terminate();
      return;
    }
    if (ws.readyState === WebSocket.OPEN) {
      ws.close(sendableCode(code), truncateUtf8(reason, MAX_CLOSE_REASON_BYTES));
      // ws waits up to 30 s for the peer's close frame; do not keep a dead peer that long.
      const timer = setTimeout(() => ws.terminate(), 2000);
      timer.unref();
      ws.once('close', () => clearTimeout(timer));
    }
  }
}
