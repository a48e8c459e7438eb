/**
 * FrameTransport over any byte stream (in-memory pipe, TCP, TLS). Frames delimit themselves
 * through the header's length field. A close code travels as a GO_AWAY frame (u16 code + reason)
 * written before the stream is ended; a stream that ends without one reports 1006.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { ErrorCode, LatchError } from '../common/errors.ts';
import { FrameDecoder, decodeGoAway, encodeGoAway } from './codec.ts';
import { DEFAULT_MAX_FRAME_SIZE, FrameType, HEADER_SIZE } from './constants.ts';
import { ABNORMAL_CLOSURE } from './FrameTransport.ts';
import type { FrameTransport } from './FrameTransport.ts';

export interface StreamTransportOptions {
  /** Largest payload accepted; checked from the header before the payload is buffered. */
  maxFrameSize: number;
  /** send() returns false once this many bytes wait in the stream's write buffer. */
  highWaterMark: number;
  /** After close(), how long to wait for the peer to end before destroying the stream. */
  closeTimeoutMs: number;
}

export function defaultStreamTransportOptions(): StreamTransportOptions {
  return { maxFrameSize: DEFAULT_MAX_FRAME_SIZE, highWaterMark: 256 * 1024, closeTimeoutMs: 2000 };
}

interface StreamTransportEvents {
  frame: [frame: Buffer];
  drain: [];
  close: [code: number, reason: string];
  error: [err: Error];
}

export class StreamTransport extends EventEmitter<StreamTransportEvents> implements FrameTransport {
  readonly #duplex: Duplex;
  #decoder: FrameDecoder;
  readonly #options: StreamTransportOptions;
  readonly #hwm: number;
  #closing = false;
  #closed = false;
  #code: number | undefined;
  #reason = '';

  constructor(duplex: Duplex, options: Partial<StreamTransportOptions> = {}) {
    super();
    this.#duplex = duplex;
    this.#options = { ...defaultStreamTransportOptions(), ...options };
    this.#decoder = new FrameDecoder(this.#options.maxFrameSize);
    // Never below the stream's own mark, so a false from us always has a 'drain' coming.
    this.#hwm = Math.max(this.#options.highWaterMark, duplex.writableHighWaterMark);
    const maybeSocket = duplex as Duplex & { setNoDelay?: (noDelay: boolean) => unknown };
    if (typeof maybeSocket.setNoDelay === 'function') maybeSocket.setNoDelay(true);

    duplex.on('data', (chunk: Buffer | string) => this.#onData(chunk));
    duplex.on('drain', () => this.emit('drain'));
    duplex.on('end', () => {
      // The peer finished writing: finish ours too (its GO_AWAY, if any, has been seen).
      if (!duplex.writableEnded) duplex.end();
      duplex.destroy();
    });
    duplex.on('error', (err: Error) => {
      if (!this.#closed && !this.#closing) this.emit('error', err);
      duplex.destroy();
    });
    duplex.on('close', () => this.#finish(this.#code ?? ABNORMAL_CLOSURE, this.#reason));
  }

  get bufferedAmount(): number {
    return this.#duplex.writableLength;
  }

  setMaxFrameSize(bytes: number): void {
    if (this.#decoder.bufferedBytes === 0) this.#decoder = new FrameDecoder(bytes);
  }

  send(frame: Buffer): boolean {
    if (this.#closing || this.#closed || this.#duplex.destroyed || this.#duplex.writableEnded) return false;
    this.#duplex.write(frame);
    return this.#duplex.writableLength < this.#hwm;
  }

  close(code: number, reason: string): void {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    this.#code ??= code;
    if (this.#reason === '') this.#reason = reason;
    const d = this.#duplex;
    if (!d.destroyed && !d.writableEnded) {
      d.end(encodeGoAway(code, reason));
    }
    // Wait for the peer's end so the GO_AWAY is read before the connection goes (destroying
    // a TCP socket with unread input sends RST, which can discard what the peer has not read).
    const timer = setTimeout(() => d.destroy(), this.#options.closeTimeoutMs);
    timer.unref();
    d.once('close', () => clearTimeout(timer));
    d.resume();
  }

  #onData(chunk: Buffer | string): void {
    if (this.#closed) return;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.#closing) return; // draining until the peer ends; frames no longer matter
    let frames: Buffer[];
    try {
      frames = this.#decoder.push(bytes);
    } catch (err) {
      this.emit('error', err instanceof Error ? err : new LatchError(ErrorCode.PROTOCOL, String(err)));
      return;
    }
    for (const frame of frames) {
      if (frame.readUInt8(1) === FrameType.GO_AWAY && this.#code === undefined) {
        try {
          const { code, reason } = decodeGoAway(frame.subarray(HEADER_SIZE));
          this.#code = code;
          this.#reason = reason;
        } catch {
          // The multiplexer reports the malformed GO_AWAY when it parses the frame.
        }
      }
      this.emit('frame', frame);
      if (this.#closed || this.#closing) return;
    }
  }

  #finish(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('close', code, reason);
  }
}
