import type { FrameType } from './constants.ts';

/**
 * What the multiplexer needs from a connection: whole frames in, whole frames out, a close with
 * a code, and backpressure. WebSocketTransport (one binary message = one frame) and
 * StreamTransport (any byte stream, frames delimited by their header) implement it.
 */
export interface FrameTransport {
  /** Queues one complete frame. false = above the high-water mark: wait for 'drain'. */
  send(frame: Buffer): boolean;
  /** Closes the connection, telling the peer `code` and `reason` where the medium allows it. */
  close(code: number, reason: string): void;
  /** Bytes queued for sending and not yet handed to the operating system. */
  readonly bufferedAmount: number;
  /**
   * Optional: encodes and queues one frame (as codec.encodeFrame would), so that the transport
   * can put its own framing and the frame in one buffer it may reuse. The multiplexer calls it
   * instead of send() when present. Same return value as send().
   */
  sendFrame?(type: FrameType, flags: number, streamId: number, payload?: Uint8Array | number): boolean;
  /** Optional: the multiplexer announces its payload limit so a byte-stream decoder can apply it. */
  setMaxFrameSize?(bytes: number): void;
  on(event: 'frame', listener: (frame: Buffer) => void): this;
  on(event: 'drain', listener: () => void): this;
  on(event: 'close', listener: (code: number, reason: string) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

/** Close code reported when a connection ends without a close code (as in RFC 6455 §7.1.5). */
export const ABNORMAL_CLOSURE = 1006;
