/**
 * Many streams over one FrameTransport, with per-stream credit-based flow control
 * (tunnel/PROTOCOL.md). The client opens streams by resource id; the server is offered each one
 * through the 'stream' event and accepts or rejects it. Stream 0 carries pings, GO_AWAY and the
 * JSON session control messages.
 *
 * Events: 'stream' (MuxStream, server side), 'control' (message), 'close' (code, reason; exactly
 * once, whoever closed), 'error' (Error; only emitted when someone listens, so an unhandled
 * protocol violation never crashes the process: it always ends in 'close').
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { ErrorCode, LatchError } from '../common/errors.ts';
import { decodeGoAway, encodeFrame, parseFrame } from './codec.ts';
import {
  CloseCode,
  FIRST_CLIENT_STREAM_ID,
  Flag,
  FrameType,
  INITIAL_WINDOW,
  MAX_SEND_FRAME_SIZE,
  MAX_WINDOW,
  RESOURCE_ID_PATTERN,
  ResetCode,
} from './constants.ts';
import type { FrameTransport } from './FrameTransport.ts';
import { tuneGcForRelay } from './gcTuning.ts';
import { MuxStream } from './MuxStream.ts';
import type { RelayHooks, StreamHost } from './MuxStream.ts';
import { validateOptions } from './MultiplexerOptions.ts';
import type { MultiplexerOptions, Role } from './MultiplexerOptions.ts';

export { defaultOptions, validateOptions } from './MultiplexerOptions.ts';
export type { MultiplexerOptions, Role } from './MultiplexerOptions.ts';

export interface ControlMessage {
  type: string;
  [key: string]: unknown;
}

export interface MultiplexerStats {
  /** Streams open or half-open (including ones waiting for accept). */
  streams: number;
  /** Queued to send (streams + transport) plus received and not yet read. */
  bufferedBytes: number;
  receivedUnread: number;
  queuedToSend: number;
  /** Sum of the receive windows currently granted (bounded by maxBufferedBytes). */
  committedWindow: number;
}

interface MultiplexerEvents {
  stream: [stream: MuxStream];
  control: [message: ControlMessage];
  close: [code: number, reason: string];
  error: [err: Error];
}

type Phase = 'opening' | 'pending' | 'open';

/**
 * A stream's write side accepts this much before write() returns false. Above one socket read
 * (64 KiB), so a source piped in is not paused and resumed for every chunk while credit lasts.
 */
const STREAM_WRITE_HIGH_WATER_MARK = 256 * 1024;

/** Window growth leaves the base window of this many future streams free (64 KiB each). */
const GROWTH_RESERVE_STREAMS = 256;

/** Per-stream protocol state, kept here so MuxStream stays a thin Duplex. */
interface StreamState {
  stream: MuxStream;
  phase: Phase;
  /** Bytes we may still send (the peer's credit to us). */
  sendWindow: number;
  /** Bytes the peer may still send before our next grant. */
  recvCredit: number;
  /** This stream's current receive window; grows to initialWindow while the budget allows. */
  recvTarget: number;
  /** Bytes received since the window last grew (growth is earned by moving data). */
  receivedSinceGrowth: number;
  grantScheduled: boolean;
  localFin: boolean;
  remoteFin: boolean;
  /** The unsent rest of the chunk the Duplex handed to _write, and its callback. */
  chunk: Buffer | undefined;
  chunkCallback: ((err?: Error | null) => void) | undefined;
  /** _final waiting for accept() (server side). */
  finalCallback: ((err?: Error | null) => void) | undefined;
  /** Set by relay(): the socket that DATA is written to and read from, bypassing the Duplex. */
  sink: RelaySocket | undefined;
  relayHooks: RelayHooks | undefined;
  /** The relayed socket is paused until its pending chunk has been sent. */
  relayPaused: boolean;
  grantAfterWrite: (() => void) | undefined;
}

/** What relay() needs from a socket (net.Socket, tls.TLSSocket). */
type RelaySocket = Duplex;

const CLOSE_CODE_FOR_ERROR: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.PROTOCOL]: CloseCode.PROTOCOL_ERROR,
  [ErrorCode.UNKNOWN_FRAME_TYPE]: CloseCode.PROTOCOL_ERROR,
  [ErrorCode.UNKNOWN_STREAM]: CloseCode.PROTOCOL_ERROR,
  [ErrorCode.SUBPROTOCOL]: CloseCode.PROTOCOL_ERROR,
  [ErrorCode.BAD_VERSION]: CloseCode.BAD_VERSION,
  [ErrorCode.FRAME_TOO_LARGE]: CloseCode.FRAME_TOO_LARGE,
  [ErrorCode.FLOW_CONTROL]: CloseCode.FLOW_CONTROL,
  [ErrorCode.BUFFER_LIMIT]: CloseCode.BUFFER_LIMIT,
  [ErrorCode.KEEPALIVE_TIMEOUT]: CloseCode.KEEPALIVE_TIMEOUT,
};

/** The close code a protocol violation gets (PROTOCOL.md §Errors). */
export function closeCodeForError(err: unknown): number {
  if (err instanceof LatchError) return CLOSE_CODE_FOR_ERROR[err.code] ?? CloseCode.INTERNAL_ERROR;
  return CloseCode.INTERNAL_ERROR;
}

const ERROR_FOR_CLOSE_CODE: ReadonlyMap<number, ErrorCode> = new Map([
  [CloseCode.PROTOCOL_ERROR, ErrorCode.PROTOCOL],
  [CloseCode.BAD_VERSION, ErrorCode.BAD_VERSION],
  [CloseCode.FRAME_TOO_LARGE, ErrorCode.FRAME_TOO_LARGE],
  [CloseCode.FLOW_CONTROL, ErrorCode.FLOW_CONTROL],
  [CloseCode.BUFFER_LIMIT, ErrorCode.BUFFER_LIMIT],
  [CloseCode.KEEPALIVE_TIMEOUT, ErrorCode.KEEPALIVE_TIMEOUT],
  [CloseCode.SESSION_IDLE, ErrorCode.SESSION_ENDED],
  [CloseCode.SESSION_ABSOLUTE, ErrorCode.SESSION_ENDED],
  [CloseCode.SESSION_REVOKED, ErrorCode.SESSION_ENDED],
  [CloseCode.SESSION_LOGOUT, ErrorCode.SESSION_ENDED],
  [CloseCode.SESSION_REPLACED, ErrorCode.SESSION_ENDED],
  [CloseCode.SESSION_ERROR, ErrorCode.SESSION_ENDED],
  // WebSocket-level refusals (RFC 6455 §7.4.1): 1002 protocol error, 1003 unsupported data
  // (a text message), 1009 message too big (above ws maxPayload).
  [1002, ErrorCode.PROTOCOL],
  [1003, ErrorCode.PROTOCOL],
  [1009, ErrorCode.FRAME_TOO_LARGE],
]);

/** The error code a stream gets when its session closes with `code`. */
export function errorCodeForCloseCode(code: number): ErrorCode {
  return ERROR_FOR_CLOSE_CODE.get(code) ?? ErrorCode.CONNECTION_CLOSED;
}

const ERROR_FOR_RESET: ReadonlyMap<number, ErrorCode> = new Map([
  [ResetCode.UNKNOWN_RESOURCE, ErrorCode.UNKNOWN_RESOURCE],
  [ResetCode.DIAL_FAILED, ErrorCode.DIAL_FAILED],
  [ResetCode.STREAM_LIMIT, ErrorCode.STREAM_LIMIT],
  [ResetCode.BUFFER_LIMIT, ErrorCode.BUFFER_LIMIT],
]);

/** The LatchError code a stream's 'error' carries for a reset code (PROTOCOL.md §Reset codes). */
export function errorCodeForReset(code: number): ErrorCode {
  return ERROR_FOR_RESET.get(code) ?? ErrorCode.STREAM_RESET;
}

const RESET_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(ResetCode).map(([k, v]) => [v, k]));

export function resetCodeName(code: number): string {
  return RESET_NAMES.get(code) ?? `0x${code.toString(16)}`;
}

export function isValidResourceId(id: string): boolean {
  return RESOURCE_ID_PATTERN.test(id);
}

/** Destroys with the error only if someone listens: an unobserved 'error' would crash Node. */
function destroyQuietly(stream: MuxStream, err: LatchError | undefined): void {
  if (err) stream.resetError ??= err;
  stream.destroy(err !== undefined && stream.listenerCount('error') > 0 ? err : undefined);
}

export class Multiplexer extends EventEmitter<MultiplexerEvents> {
  readonly options: MultiplexerOptions;
  readonly role: Role;
  readonly #transport: FrameTransport;
  readonly #streams = new Map<number, StreamState>();
  readonly #host: StreamHost;
  #nextStreamId = FIRST_CLIENT_STREAM_ID;
  #lastRemoteStreamId = 0;
  #closed = false;
  #closeError: LatchError | undefined;
  /** The transport said false: hold DATA until 'drain'. */
  #blocked = false;
  readonly #waitingForTransport = new Set<StreamState>();
  #committed = 0;
  readonly #pings = new Map<number, { start: number; resolve: (ms: number) => void; reject: (err: Error) => void }>();
  #pingSeq = 0;
  #lastReceivedAt = performance.now();
  #keepaliveSentAt = -1;
  #keepaliveTimer: NodeJS.Timeout | undefined;

  constructor(transport: FrameTransport, options: Partial<MultiplexerOptions> & { role: Role }) {
    super();
    this.options = validateOptions(options);
    // Once per process: every process that multiplexes relays bulk bytes (see gcTuning.ts).
    tuneGcForRelay();
    this.role = this.options.role;
    this.#transport = transport;
    transport.setMaxFrameSize?.(this.options.maxFrameSize);
    this.#host = {
      read: (s) => this.#onStreamRead(s),
      write: (s, chunk, cb) => this.#onStreamWrite(s, chunk, cb),
      final: (s, cb) => this.#onStreamFinal(s, cb),
      destroyed: (s, err) => this.#onStreamDestroyed(s, err),
      accept: (s) => this.#accept(s),
      reject: (s, code) => this.#resetStream(s, code),
      reset: (s, code) => this.#resetStream(s, code),
      relay: (s, socket, hooks) => this.#relay(s, socket, hooks),
    };
    transport.on('frame', (frame) => this.#onFrame(frame));
    transport.on('drain', () => this.#onDrain());
    transport.on('close', (code, reason) => this.#finish(code, reason, undefined));
    // Stays attached for the transport's whole life: a late transport error must not crash.
    transport.on('error', (err) => {
      if (this.#closed) return;
      const latchErr = err instanceof LatchError ? err : new LatchError(ErrorCode.CONNECTION_CLOSED, err.message, { cause: err });
      this.#fail(latchErr);
    });
    if (this.options.keepaliveIntervalMs > 0) {
      this.#keepaliveTimer = setInterval(() => this.#keepaliveTick(), this.options.keepaliveIntervalMs);
      this.#keepaliveTimer.unref();
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Why the session closed, when a protocol violation or transport failure closed it. */
  get closeError(): LatchError | undefined {
    return this.#closeError;
  }

  stats(): MultiplexerStats {
    let receivedUnread = 0;
    let queued = 0;
    for (const st of this.#streams.values()) {
      if (st.sink === undefined) {
        receivedUnread += st.stream.readableLength;
        queued += st.stream.writableLength;
      } else {
        // Relayed: what the socket has not yet handed to the kernel, and the chunk waiting for credit.
        receivedUnread += st.sink.writableLength;
        queued += st.chunk?.length ?? 0;
      }
    }
    queued += this.#transport.bufferedAmount;
    return {
      streams: this.#streams.size,
      bufferedBytes: receivedUnread + queued,
      receivedUnread,
      queuedToSend: queued,
      committedWindow: this.#committed,
    };
  }

  /**
   * Client side: opens a stream to `resourceId`. Data may be written at once. The stream emits
   * 'open' when the server accepts it and 'error' (LatchError) when it is rejected or reset.
   */
  openStream(resourceId: string): MuxStream {
    if (this.role !== 'client') {
      throw new LatchError(ErrorCode.USAGE, 'only the client opens streams (even stream ids are reserved)');
    }
    if (!isValidResourceId(resourceId)) {
      throw new LatchError(ErrorCode.USAGE, `invalid resource id ${JSON.stringify(resourceId)}: 1-255 characters of [A-Za-z0-9._-]`);
    }
    if (this.#closed) {
      return this.#failedStream(resourceId, new LatchError(ErrorCode.CONNECTION_CLOSED, 'the session is closed'));
    }
    if (this.#streams.size >= this.options.maxStreams) {
      return this.#failedStream(resourceId, this.#resetError(ResetCode.STREAM_LIMIT, 'local'), ResetCode.STREAM_LIMIT);
    }
    if (this.#committed + INITIAL_WINDOW > this.options.maxBufferedBytes) {
      return this.#failedStream(resourceId, this.#resetError(ResetCode.BUFFER_LIMIT, 'local'), ResetCode.BUFFER_LIMIT);
    }
    const id = this.#nextStreamId;
    if (id > MAX_WINDOW) {
      return this.#failedStream(resourceId, new LatchError(ErrorCode.STREAM_LIMIT, 'stream ids exhausted; open a new session'));
    }
    this.#nextStreamId += 2;
    const st = this.#register(id, resourceId, 'opening');
    this.#send(FrameType.OPEN, Flag.SYN, id, Buffer.from(resourceId, 'utf8'));
    return st.stream;
  }

  /** Sends one session control message on stream 0. Returns false if the session is closed. */
  sendControl(message: ControlMessage): boolean {
    if (typeof message !== 'object' || message === null || typeof message.type !== 'string' || message.type === '') {
      throw new LatchError(ErrorCode.USAGE, 'a control message is an object with a non-empty string type');
    }
    if (this.#closed) return false;
    const payload = Buffer.from(JSON.stringify(message), 'utf8');
    if (payload.length > MAX_SEND_FRAME_SIZE) {
      throw new LatchError(ErrorCode.FRAME_TOO_LARGE, `control message of ${payload.length} bytes exceeds ${MAX_SEND_FRAME_SIZE}`);
    }
    this.#send(FrameType.CONTROL, 0, 0, payload);
    return true;
  }

  /** Round trip to the peer in milliseconds; rejects with CONNECTION_CLOSED if the session ends first. */
  ping(): Promise<number> {
    if (this.#closed) return Promise.reject(new LatchError(ErrorCode.CONNECTION_CLOSED, 'the session is closed'));
    // Opaque values: keepalive uses 0, explicit pings count up from 1 and wrap within u32.
    this.#pingSeq = (this.#pingSeq % 0xffff_fffe) + 1;
    const value = this.#pingSeq;
    return new Promise<number>((resolve, reject) => {
      this.#pings.set(value, { start: performance.now(), resolve, reject });
      this.#send(FrameType.PING, Flag.SYN, 0, value);
    });
  }

  /** Resets every stream, closes the transport with `code`, emits 'close' once. Idempotent. */
  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.#closed) return;
    this.#finish(code, reason, undefined, true);
  }

  // ---- sending -------------------------------------------------------------------------------

  /** Encodes one frame and hands it to the transport (which may encode it itself). */
  #send(type: FrameType, flags: number, streamId: number, payload?: Uint8Array | number): void {
    if (this.#closed) return;
    const transport = this.#transport;
    const accepted = transport.sendFrame !== undefined ? transport.sendFrame(type, flags, streamId, payload) : transport.send(encodeFrame(type, flags, streamId, payload));
    if (!accepted) this.#blocked = true;
    if (this.#transport.bufferedAmount > this.options.maxBufferedBytes) {
      // The peer keeps sending (pings, opens) but does not read what we queue for it.
      this.#fail(new LatchError(ErrorCode.BUFFER_LIMIT, `more than ${this.options.maxBufferedBytes} bytes queued to a peer that does not read`));
    }
  }

  #canSend(st: StreamState): boolean {
    return !this.#closed && this.#streams.get(st.stream.id) === st && st.phase !== 'pending';
  }

  /** Sends as much of the stream's pending chunk as credit and the transport allow. */
  #flush(st: StreamState): void {
    while (st.chunk !== undefined && this.#canSend(st)) {
      if (this.#blocked) {
        this.#waitingForTransport.add(st);
        return;
      }
      if (st.sendWindow === 0) return; // a WINDOW_UPDATE resumes it
      const n = Math.min(st.chunk.length, st.sendWindow, MAX_SEND_FRAME_SIZE);
      const part = n === st.chunk.length ? st.chunk : st.chunk.subarray(0, n);
      st.chunk = n === st.chunk.length ? undefined : st.chunk.subarray(n);
      st.sendWindow -= n;
      this.#send(FrameType.DATA, 0, st.stream.id, part);
    }
    if (st.chunk === undefined && st.chunkCallback !== undefined) {
      const cb = st.chunkCallback;
      st.chunkCallback = undefined;
      cb();
    }
    this.#maybeSendFin(st);
  }

  #onDrain(): void {
    this.#blocked = false;
    if (this.#waitingForTransport.size === 0) return;
    const waiting = [...this.#waitingForTransport];
    this.#waitingForTransport.clear();
    for (const st of waiting) {
      if (this.#blocked) {
        this.#waitingForTransport.add(st);
        continue;
      }
      this.#flush(st);
    }
  }

  /**
   * Grants the peer credit for what the consumer has read. Coalesced: only once at least half of
   * the window is free, unless `force` (accept, which must answer even with 0).
   *
   * Windows start at INITIAL_WINDOW and grow only for streams that move data: each time a
   * stream has received twice its window, the window doubles, up to initialWindow (as TCP
   * receive-buffer autotuning does). Growth never takes the base windows still reserved for
   * streams that may yet open, so a few bulk streams cannot lock out new ones. Windows never
   * shrink once granted.
   */
  #grant(st: StreamState, force: boolean, flags: number): void {
    if (st.remoteFin || this.#closed || this.#streams.get(st.stream.id) !== st) return;
    // Before accept() the peer has only the initial window: no invitation to send more.
    if (st.phase === 'pending' && flags !== Flag.ACK) return;
    if (st.recvTarget < this.options.initialWindow && st.receivedSinceGrowth >= 2 * st.recvTarget) {
      const reserve = Math.min(this.options.maxStreams - this.#streams.size, GROWTH_RESERVE_STREAMS) * INITIAL_WINDOW;
      const room = this.options.maxBufferedBytes - reserve - this.#committed;
      const grow = Math.min(st.recvTarget, this.options.initialWindow - st.recvTarget, room);
      if (grow > 0) {
        st.recvTarget += grow;
        this.#committed += grow;
        st.receivedSinceGrowth = 0;
      }
    }
    const unread = st.sink === undefined ? st.stream.readableLength : st.sink.writableLength;
    const delta = st.recvTarget - st.recvCredit - unread;
    if (!force && (delta <= 0 || delta < st.recvTarget / 2)) return;
    const credit = Math.max(0, delta);
    if (credit === 0 && flags === 0) return;
    st.recvCredit += credit;
    this.#send(FrameType.WINDOW_UPDATE, flags, st.stream.id, credit);
  }

  // ---- stream hooks ----------------------------------------------------------------------------

  #register(id: number, resourceId: string, phase: Phase): StreamState {
    const stream = new MuxStream({ host: this.#host, id, resourceId, writableHighWaterMark: STREAM_WRITE_HIGH_WATER_MARK });
    const st: StreamState = {
      stream,
      phase,
      sendWindow: INITIAL_WINDOW,
      recvCredit: INITIAL_WINDOW,
      recvTarget: INITIAL_WINDOW,
      receivedSinceGrowth: 0,
      grantScheduled: false,
      localFin: false,
      remoteFin: false,
      chunk: undefined,
      chunkCallback: undefined,
      finalCallback: undefined,
      sink: undefined,
      relayHooks: undefined,
      relayPaused: false,
      grantAfterWrite: undefined,
    };
    this.#committed += INITIAL_WINDOW;
    this.#streams.set(id, st);
    return st;
  }

  #failedStream(resourceId: string, err: LatchError, code?: ResetCode): MuxStream {
    const stream = new MuxStream({ host: this.#host, id: 0, resourceId, writableHighWaterMark: STREAM_WRITE_HIGH_WATER_MARK });
    stream.resetCode = code;
    process.nextTick(() => destroyQuietly(stream, err));
    return stream;
  }

  /**
   * The fast path for a stream that carries one socket: the socket's chunks become DATA frames
   * directly and the peer's DATA is written straight to the socket, with no Duplex buffering or
   * pipe() in between (each byte crosses one stream layer fewer per direction). Backpressure
   * stays exact: the socket is paused while its chunk waits for credit or for the transport,
   * and the peer gets credit only for bytes the socket has handed to the kernel.
   */
  #relay(stream: MuxStream, socket: RelaySocket, hooks: RelayHooks): void {
    const st = this.#state(stream);
    if (!st || st.sink !== undefined) return;
    // What arrived before the relay started (e.g. sent right after OPEN) goes first.
    for (let chunk = stream.read() as Buffer | null; chunk !== null; chunk = stream.read() as Buffer | null) {
      hooks.onPeerData?.(chunk.length);
      socket.write(chunk);
    }
    st.sink = socket;
    st.relayHooks = hooks;
    if (st.remoteFin && !socket.writableEnded) socket.end();
    // Flowing with nothing pushed: the Duplex still emits 'end' after the peer's FIN.
    stream.resume();
    const resumeSocket = (err?: Error | null): void => {
      if (err) return; // the stream is gone; its owner tears the socket down
      if (st.relayPaused) {
        st.relayPaused = false;
        socket.resume();
      }
    };
    socket.on('data', (chunk: Buffer) => {
      if (this.#state(stream) !== st || chunk.length === 0) return;
      if (st.chunk !== undefined) {
        // Paused sockets do not emit, but never lose a byte if one does.
        st.chunk = Buffer.concat([st.chunk, chunk]);
      } else {
        st.chunk = chunk;
        st.chunkCallback = resumeSocket;
        this.#flush(st);
      }
      if (st.chunk !== undefined && !st.relayPaused) {
        st.relayPaused = true;
        socket.pause();
      }
    });
    // The FIN follows a chunk still waiting for credit (#maybeSendFin); writableEnded is true
    // at once, so the socket's owner sees a clean half-close.
    const endStream = (): void => {
      if (!stream.destroyed && !stream.writableEnded) stream.end();
    };
    // A socket whose peer finished before the relay started has already emitted 'end'.
    if (socket.readableEnded) endStream();
    else socket.on('end', endStream);
    this.#grant(st, false, 0);
  }

  /** One callback per relayed stream, made once: a write callback per chunk must not allocate. */
  #grantAfterWrite(st: StreamState): () => void {
    st.grantAfterWrite ??= () => this.#grant(st, false, 0);
    return st.grantAfterWrite;
  }

  #state(stream: MuxStream): StreamState | undefined {
    const st = this.#streams.get(stream.id);
    return st?.stream === stream ? st : undefined;
  }

  /** Coalesced into one microtask per stream: a flowing stream calls read() once per chunk. */
  #onStreamRead(stream: MuxStream): void {
    const st = this.#state(stream);
    if (!st || st.grantScheduled) return;
    st.grantScheduled = true;
    queueMicrotask(() => {
      st.grantScheduled = false;
      this.#grant(st, false, 0);
    });
  }

  #onStreamWrite(stream: MuxStream, chunk: Buffer, cb: (err?: Error | null) => void): void {
    const st = this.#state(stream);
    if (!st) {
      cb(stream.resetError ?? new LatchError(ErrorCode.STREAM_RESET, 'write on a closed stream'));
      return;
    }
    if (chunk.length === 0) {
      cb();
      return;
    }
    st.chunk = chunk;
    st.chunkCallback = cb;
    this.#flush(st);
  }

  #onStreamFinal(stream: MuxStream, cb: (err?: Error | null) => void): void {
    const st = this.#state(stream);
    if (!st) {
      cb();
      return;
    }
    // FIN waits for accept() (server side) and, when relaying, for the socket's last chunk.
    st.finalCallback = cb;
    this.#maybeSendFin(st);
  }

  #maybeSendFin(st: StreamState): void {
    const cb = st.finalCallback;
    if (cb === undefined || st.phase === 'pending' || st.chunk !== undefined || !this.#canSend(st)) return;
    st.finalCallback = undefined;
    this.#sendFin(st);
    cb();
  }

  #sendFin(st: StreamState): void {
    st.localFin = true;
    this.#send(FrameType.DATA, Flag.FIN, st.stream.id);
  }

  #onStreamDestroyed(stream: MuxStream, err: Error | null): void {
    const st = this.#state(stream);
    if (!st) return;
    // Destroyed before both directions finished cleanly: tell the peer.
    if (!(st.localFin && st.remoteFin)) {
      this.#send(FrameType.DATA, Flag.RST, st.stream.id, resetPayload(ResetCode.CANCEL));
    }
    this.#remove(st, err ?? (() => new LatchError(ErrorCode.STREAM_RESET, 'stream destroyed')));
  }

  #accept(stream: MuxStream): void {
    const st = this.#state(stream);
    if (!st || st.phase !== 'pending') return;
    st.phase = 'open';
    this.#grant(st, true, Flag.ACK);
    this.#flush(st);
  }

  #resetStream(stream: MuxStream, code: ResetCode): void {
    const st = this.#state(stream);
    stream.resetCode ??= code;
    if (st) {
      this.#send(FrameType.DATA, Flag.RST, st.stream.id, resetPayload(code));
      this.#remove(st, () => new LatchError(ErrorCode.STREAM_RESET, `stream reset locally (${resetCodeName(code)})`));
    }
    stream.destroy();
  }

  /**
   * Forgets a stream: releases its window budget and fails a write still waiting. `err` may be a
   * factory: a stream that closes cleanly has nothing waiting, and an Error (with its stack) per
   * closed connection would be a measurable share of a burst of short connections.
   */
  #remove(st: StreamState, errOrFactory: Error | (() => Error)): void {
    if (this.#streams.get(st.stream.id) !== st) return;
    this.#streams.delete(st.stream.id);
    this.#waitingForTransport.delete(st);
    this.#committed -= st.recvTarget;
    const chunkCallback = st.chunkCallback;
    const finalCallback = st.finalCallback;
    st.chunk = undefined;
    st.chunkCallback = undefined;
    st.finalCallback = undefined;
    if (chunkCallback === undefined && finalCallback === undefined) return;
    const err = typeof errOrFactory === 'function' ? errOrFactory() : errOrFactory;
    chunkCallback?.(err);
    finalCallback?.(err);
  }

  #resetError(code: number, by: 'local' | 'peer'): LatchError {
    const what = by === 'local' ? 'refused locally' : 'reset by the peer';
    return new LatchError(errorCodeForReset(code), `stream ${what}: ${resetCodeName(code)}`);
  }

  // ---- receiving -----------------------------------------------------------------------------

  #onFrame(frame: Buffer): void {
    if (this.#closed) return;
    this.#lastReceivedAt = performance.now();
    try {
      const { header, payload } = parseFrame(frame, this.options.maxFrameSize);
      const { type, flags, streamId, length } = header;
      switch (type) {
        case FrameType.DATA:
          this.#onData(streamId, flags, payload);
          break;
        case FrameType.WINDOW_UPDATE:
          this.#onWindowUpdate(streamId, flags, length);
          break;
        case FrameType.PING:
          this.#onPing(streamId, flags, length);
          break;
        case FrameType.GO_AWAY: {
          requireSessionFrame(streamId, flags, 'GO_AWAY');
          const { code, reason } = decodeGoAway(payload);
          this.#finish(code, reason, undefined, true);
          break;
        }
        case FrameType.OPEN:
          this.#onOpen(streamId, flags, payload);
          break;
        case FrameType.CONTROL:
          requireSessionFrame(streamId, flags, 'CONTROL');
          this.emit('control', parseControl(payload));
          break;
        default:
          throw new LatchError(ErrorCode.UNKNOWN_FRAME_TYPE, `unknown frame type ${type}`);
      }
    } catch (err) {
      this.#fail(err instanceof LatchError ? err : new LatchError(ErrorCode.INTERNAL, err instanceof Error ? err.message : String(err), { cause: err }));
    }
  }

  /** Frames for a stream we no longer track are ignored if the id was once valid (races with RST). */
  #lookup(streamId: number): StreamState | undefined {
    if (streamId === 0) throw new LatchError(ErrorCode.PROTOCOL, 'stream frame on stream 0');
    const st = this.#streams.get(streamId);
    if (st) return st;
    const odd = streamId % 2 === 1;
    const seen = this.role === 'client' ? odd && streamId < this.#nextStreamId : odd && streamId <= this.#lastRemoteStreamId;
    if (seen) return undefined;
    throw new LatchError(ErrorCode.UNKNOWN_STREAM, `frame for stream ${streamId}, which was never opened`);
  }

  #onData(streamId: number, flags: number, payload: Buffer): void {
    if ((flags & ~(Flag.FIN | Flag.RST)) !== 0) throw new LatchError(ErrorCode.PROTOCOL, `DATA with flags 0x${flags.toString(16)}`);
    const st = this.#lookup(streamId);
    if (flags & Flag.RST) {
      if (payload.length !== 4) throw new LatchError(ErrorCode.PROTOCOL, 'RST without a 4-byte reset code');
      if (!st) return;
      const code = payload.readUInt32BE(0);
      const err = this.#resetError(code, 'peer');
      st.stream.resetCode = code as ResetCode;
      this.#remove(st, err);
      destroyQuietly(st.stream, err);
      return;
    }
    if (!st) return;
    if (st.remoteFin) throw new LatchError(ErrorCode.PROTOCOL, `DATA on stream ${streamId} after FIN`);
    if (st.phase === 'opening') throw new LatchError(ErrorCode.PROTOCOL, `DATA on stream ${streamId} before it was accepted`);
    if (payload.length > st.recvCredit) {
      throw new LatchError(ErrorCode.FLOW_CONTROL, `stream ${streamId}: ${payload.length} bytes sent with ${st.recvCredit} bytes of credit`);
    }
    st.recvCredit -= payload.length;
    st.receivedSinceGrowth += payload.length;
    const sink = st.sink;
    if (sink === undefined) {
      if (payload.length > 0) st.stream.push(payload);
    } else if (payload.length > 0 && !sink.destroyed && !sink.writableEnded) {
      st.relayHooks?.onPeerData?.(payload.length);
      // Credit comes back as the socket hands the bytes to the kernel (#grant counts its queue).
      sink.write(payload, this.#grantAfterWrite(st));
    }
    if (flags & Flag.FIN) {
      st.remoteFin = true;
      if (sink !== undefined && !sink.destroyed && !sink.writableEnded) sink.end();
      st.stream.push(null);
    } else {
      this.#grant(st, false, 0);
    }
  }

  #onWindowUpdate(streamId: number, flags: number, delta: number): void {
    const st = this.#lookup(streamId);
    if (flags === Flag.ACK) {
      if (this.role !== 'client') throw new LatchError(ErrorCode.PROTOCOL, 'only the server accepts streams');
      if (st && st.phase !== 'opening') throw new LatchError(ErrorCode.PROTOCOL, `stream ${streamId} accepted twice`);
    } else if (flags !== 0) {
      throw new LatchError(ErrorCode.PROTOCOL, `WINDOW_UPDATE with flags 0x${flags.toString(16)}`);
    }
    if (!st) return;
    if (st.sendWindow + delta > MAX_WINDOW) {
      throw new LatchError(ErrorCode.FLOW_CONTROL, `stream ${streamId}: window above 2^32-1`);
    }
    st.sendWindow += delta;
    if (flags === Flag.ACK) {
      st.phase = 'open';
      // Deferred: over a synchronous transport the ACK can arrive before openStream() returns.
      const stream = st.stream;
      process.nextTick(() => {
        if (!stream.destroyed) stream.emit('open');
      });
    }
    this.#flush(st);
  }

  #onPing(streamId: number, flags: number, value: number): void {
    if (streamId !== 0) throw new LatchError(ErrorCode.PROTOCOL, 'PING on a stream');
    if (flags === Flag.SYN) {
      this.#send(FrameType.PING, Flag.ACK, 0, value);
    } else if (flags === Flag.ACK) {
      const pending = this.#pings.get(value);
      if (pending) {
        this.#pings.delete(value);
        pending.resolve(performance.now() - pending.start);
      }
    } else {
      throw new LatchError(ErrorCode.PROTOCOL, `PING with flags 0x${flags.toString(16)}`);
    }
  }

  #onOpen(streamId: number, flags: number, payload: Buffer): void {
    if (flags !== Flag.SYN) throw new LatchError(ErrorCode.PROTOCOL, `OPEN with flags 0x${flags.toString(16)}`);
    if (this.role === 'client') {
      // Server-initiated streams are reserved: refuse them, keep the session.
      this.#send(FrameType.DATA, Flag.RST, streamId, resetPayload(ResetCode.REFUSED));
      return;
    }
    if (streamId % 2 !== 1 || streamId <= this.#lastRemoteStreamId) {
      throw new LatchError(ErrorCode.PROTOCOL, `OPEN with stream id ${streamId} (must be odd and increasing)`);
    }
    this.#lastRemoteStreamId = streamId;
    const resourceId = payload.toString('utf8');
    let refusal: ResetCode | undefined;
    if (!isValidResourceId(resourceId)) refusal = ResetCode.UNKNOWN_RESOURCE;
    else if (this.#streams.size >= this.options.maxStreams) refusal = ResetCode.STREAM_LIMIT;
    else if (this.#committed + INITIAL_WINDOW > this.options.maxBufferedBytes) refusal = ResetCode.BUFFER_LIMIT;
    else if (this.listenerCount('stream') === 0) refusal = ResetCode.REFUSED;
    if (refusal !== undefined) {
      this.#send(FrameType.DATA, Flag.RST, streamId, resetPayload(refusal));
      return;
    }
    const st = this.#register(streamId, resourceId, 'pending');
    this.emit('stream', st.stream);
  }

  // ---- keepalive and close ---------------------------------------------------------------------

  #keepaliveTick(): void {
    if (this.#closed) return;
    if (this.#keepaliveSentAt >= 0 && this.#lastReceivedAt < this.#keepaliveSentAt) {
      this.#fail(new LatchError(ErrorCode.KEEPALIVE_TIMEOUT, `no frame from the peer for ${Math.round(performance.now() - this.#lastReceivedAt)} ms`));
      return;
    }
    this.#keepaliveSentAt = performance.now();
    this.#send(FrameType.PING, Flag.SYN, 0, 0);
  }

  /** A violation or transport failure: close with the matching code and report it. */
  #fail(err: LatchError): void {
    if (this.#closed) return;
    this.#closeError = err;
    if (this.listenerCount('error') > 0) this.emit('error', err);
    this.#finish(closeCodeForError(err), `${err.code}: ${err.message}`, err, true);
  }

  #finish(code: number, reason: string, err: LatchError | undefined, closeTransport = false): void {
    if (this.#closed) return;
    this.#closed = true;
    if (err) this.#closeError = err;
    if (this.#keepaliveTimer) clearInterval(this.#keepaliveTimer);
    const streamErr = new LatchError(errorCodeForCloseCode(code), `session closed (${code}${reason ? `: ${reason}` : ''})`);
    for (const pending of this.#pings.values()) pending.reject(new LatchError(ErrorCode.CONNECTION_CLOSED, 'the session closed before the ping returned'));
    this.#pings.clear();
    for (const st of [...this.#streams.values()]) {
      // A stream that finished both ways has lost nothing: no error for it.
      const complete = st.localFin && st.remoteFin;
      this.#remove(st, streamErr);
      destroyQuietly(st.stream, complete ? undefined : streamErr);
    }
    this.#waitingForTransport.clear();
    if (closeTransport) this.#transport.close(code, reason);
    this.emit('close', code, reason);
  }
}

function resetPayload(code: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(code, 0);
  return b;
}

function requireSessionFrame(streamId: number, flags: number, name: string): void {
  if (streamId !== 0) throw new LatchError(ErrorCode.PROTOCOL, `${name} on stream ${streamId} (must be 0)`);
  if (flags !== 0) throw new LatchError(ErrorCode.PROTOCOL, `${name} with flags 0x${flags.toString(16)}`);
}

function parseControl(payload: Buffer): ControlMessage {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new LatchError(ErrorCode.PROTOCOL, 'CONTROL payload is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { type?: unknown }).type !== 'string') {
    throw new LatchError(ErrorCode.PROTOCOL, 'CONTROL payload is not an object with a string type');
  }
  return value as ControlMessage;
}
