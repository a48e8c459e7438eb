/** Options of a Multiplexer, their documented defaults and validation (PROTOCOL.md §Limits). */
import { ErrorCode, LatchError } from '../common/errors.ts';
import {
  DEFAULT_INITIAL_WINDOW,
  DEFAULT_KEEPALIVE_INTERVAL_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_STREAMS,
  INITIAL_WINDOW,
  MAX_SEND_FRAME_SIZE,
  MAX_WINDOW,
} from './constants.ts';

export type Role = 'client' | 'server';

export interface MultiplexerOptions {
  role: Role;
  /** Per-stream receive window in bytes: how much the peer may send before we grant more. */
  initialWindow: number;
  /** Largest payload accepted in one frame (a receiver limit; senders never exceed 64 KiB). */
  maxFrameSize: number;
  /** Concurrent streams per session; an OPEN beyond it is rejected with STREAM_LIMIT. */
  maxStreams: number;
  /**
   * Hard cap on bytes this side can be made to hold: the sum of every stream's receive window
   * (what peers may send us) and the transport's send queue.
   */
  maxBufferedBytes: number;
  /** Ping interval; a silent peer is declared dead within two intervals. 0 disables. */
  keepaliveIntervalMs: number;
}

export function defaultOptions(role: Role): MultiplexerOptions {
  return {
    role,
    initialWindow: DEFAULT_INITIAL_WINDOW,
    maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
    maxStreams: DEFAULT_MAX_STREAMS,
    maxBufferedBytes: DEFAULT_MAX_BUFFERED_BYTES,
    keepaliveIntervalMs: DEFAULT_KEEPALIVE_INTERVAL_MS,
  };
}

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new LatchError(ErrorCode.CONFIG, `multiplexer option ${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/** Fills defaults and rejects impossible values with LATCH_ERR_CONFIG. */
export function validateOptions(options: Partial<MultiplexerOptions> & { role: Role }): MultiplexerOptions {
  if (options.role !== 'client' && options.role !== 'server') {
    throw new LatchError(ErrorCode.CONFIG, `multiplexer role must be 'client' or 'server', got ${String(options.role)}`);
  }
  const merged = { ...defaultOptions(options.role), ...stripUndefined(options) };
  const o: MultiplexerOptions = {
    role: merged.role,
    initialWindow: integer('initialWindow', merged.initialWindow, INITIAL_WINDOW, MAX_WINDOW),
    maxFrameSize: integer('maxFrameSize', merged.maxFrameSize, MAX_SEND_FRAME_SIZE, 16 * 1024 * 1024),
    maxStreams: integer('maxStreams', merged.maxStreams, 1, 1 << 20),
    maxBufferedBytes: integer('maxBufferedBytes', merged.maxBufferedBytes, INITIAL_WINDOW, Number.MAX_SAFE_INTEGER),
    keepaliveIntervalMs: integer('keepaliveIntervalMs', merged.keepaliveIntervalMs, 0, 24 * 3600 * 1000),
  };
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
