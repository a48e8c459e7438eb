/**
 * One stream of a Multiplexer, as a Node Duplex. The multiplexer owns all protocol state; this
 * class forwards the Duplex hooks to it, so reading grants credit (backpressure to the sender)
 * and writing waits for credit and for the transport.
 *
 * Events besides the Duplex ones: 'open' (client side, the server accepted the stream).
 * 'error' carries a LatchError (UNKNOWN_RESOURCE, DIAL_FAILED, STREAM_LIMIT, BUFFER_LIMIT,
 * STREAM_RESET, CONNECTION_CLOSED) when the stream is rejected or reset.
 */
import { Duplex } from 'node:stream';
import type { LatchError } from '../common/errors.ts';
import { ResetCode } from './constants.ts';

/** The multiplexer's side of a stream. Not part of the public API. */
export interface StreamHost {
  /** The consumer read (or wants to read): grant credit for what left the buffer. */
  read(stream: MuxStream): void;
  write(stream: MuxStream, chunk: Buffer, callback: (err?: Error | null) => void): void;
  final(stream: MuxStream, callback: (err?: Error | null) => void): void;
  destroyed(stream: MuxStream, err: Error | null): void;
  accept(stream: MuxStream): void;
  reject(stream: MuxStream, code: ResetCode): void;
  reset(stream: MuxStream, code: ResetCode): void;
  relay(stream: MuxStream, socket: Duplex, hooks: RelayHooks): void;
}

export interface RelayHooks {
  /** Called with the size of every DATA payload from the peer, as it is written to the socket. */
  onPeerData?: (bytes: number) => void;
}

export interface MuxStreamInit {
  host: StreamHost;
  id: number;
  resourceId: string;
  /** How much the Duplex buffers on the write side before write() returns false. */
  writableHighWaterMark: number;
}

export class MuxStream extends Duplex {
  readonly id: number;
  readonly resourceId: string;
  /** Set when the stream was rejected or reset (by either side). */
  resetCode: ResetCode | undefined;
  /** The error a rejection or reset produced, kept even if nobody listened for 'error'. */
  resetError: LatchError | undefined;
  readonly #host: StreamHost;

  constructor(init: MuxStreamInit) {
    super({ allowHalfOpen: true, writableHighWaterMark: init.writableHighWaterMark, decodeStrings: true });
    this.#host = init.host;
    this.id = init.id;
    this.resourceId = init.resourceId;
  }

  /** Server side: accept a stream the 'stream' event offered; data flows from now on. */
  accept(): void {
    this.#host.accept(this);
  }

  /** Server side: refuse a stream the 'stream' event offered, telling the client why. */
  reject(code: ResetCode): void {
    this.#host.reject(this, code);
  }

  /**
   * Carries `socket` over this stream both ways, bypassing the Duplex: the socket's bytes become
   * DATA frames as they are read, and the peer's DATA is written straight to the socket. FIN
   * travels both ways (socket 'end' → stream end(), peer FIN → socket end()); the Duplex still
   * emits 'end', 'finish' and 'close' as usual. Resets and errors are left to the caller, as
   * with pipe(). Do not read from or write to the stream yourself once relaying.
   */
  relay(socket: Duplex, hooks: RelayHooks = {}): void {
    this.#host.relay(this, socket, hooks);
  }

  /** Abort the stream in both directions and tell the peer (RST with `code`). */
  reset(code: ResetCode = ResetCode.CANCEL): void {
    this.#host.reset(this, code);
  }

  /**
   * Every consumption goes through read() (flowing mode, pipe() and async iteration call it
   * too), so this is where credit is earned. _read alone is not enough: Node calls it before
   * taking bytes out of the buffer, and not again until the next push.
   */
  override read(size?: number): unknown {
    const chunk: unknown = super.read(size);
    if (chunk !== null) this.#host.read(this);
    return chunk;
  }

  override _read(): void {
    this.#host.read(this);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#host.write(this, chunk, callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#host.final(this, callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#host.destroyed(this, err);
    callback(err);
  }
}
