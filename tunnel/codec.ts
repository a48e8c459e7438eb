/**
 * Frame encoding and decoding (tunnel/PROTOCOL.md §Framing). Pure functions plus FrameDecoder,
 * which turns arbitrary byte chunks from a byte-stream transport into complete frames.
 */
import { ErrorCode, LatchError } from '../common/errors.ts';
import { FrameType, HEADER_SIZE, MAX_CLOSE_REASON_BYTES, PROTOCOL_VERSION } from './constants.ts';

export interface FrameHeader {
  version: number;
  type: number;
  flags: number;
  streamId: number;
  /** Payload length, or the value itself for WINDOW_UPDATE and PING. */
  length: number;
}

export interface Frame {
  header: FrameHeader;
  payload: Buffer;
}

const EMPTY = Buffer.alloc(0);
const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(FrameType));

/** WINDOW_UPDATE and PING carry a value in the length field and no payload. */
export function hasPayload(type: number): boolean {
  return type !== FrameType.WINDOW_UPDATE && type !== FrameType.PING;
}

export function payloadLength(header: FrameHeader): number {
  return hasPayload(header.type) ? header.length : 0;
}

/**
 * One frame in one allocation: the header, then a copy of the payload. `payload` is either the
 * payload bytes or, for WINDOW_UPDATE and PING, the u32 value of the length field.
 */
export function encodeFrame(type: FrameType, flags: number, streamId: number, payload: Uint8Array | number = EMPTY): Buffer {
  const frame = Buffer.allocUnsafe(encodedSize(type, payload));
  encodeFrameInto(frame, 0, type, flags, streamId, payload);
  return frame;
}

/** Bytes encodeFrame() needs for this frame. */
export function encodedSize(type: FrameType, payload: Uint8Array | number = EMPTY): number {
  return HEADER_SIZE + (typeof payload === 'number' || !hasPayload(type) ? 0 : payload.length);
}

/** Writes one frame into `target` at `offset` (room for encodedSize() bytes); returns its end. */
export function encodeFrameInto(target: Buffer, offset: number, type: FrameType, flags: number, streamId: number, payload: Uint8Array | number = EMPTY): number {
  if (typeof payload === 'number') {
    writeHeader(target, type, flags, streamId, payload, offset);
    return offset + HEADER_SIZE;
  }
  writeHeader(target, type, flags, streamId, payload.length, offset);
  target.set(payload, offset + HEADER_SIZE);
  return offset + HEADER_SIZE + payload.length;
}

export function writeHeader(target: Buffer, type: number, flags: number, streamId: number, length: number, offset = 0): void {
  target.writeUInt8(PROTOCOL_VERSION, offset);
  target.writeUInt8(type, offset + 1);
  target.writeUInt16BE(flags, offset + 2);
  target.writeUInt32BE(streamId, offset + 4);
  target.writeUInt32BE(length, offset + 8);
}

/** Reads a header without judging it; see validateHeader. */
export function decodeHeader(bytes: Buffer, offset = 0): FrameHeader {
  if (bytes.length - offset < HEADER_SIZE) {
    throw new LatchError(ErrorCode.PROTOCOL, `frame shorter than the ${HEADER_SIZE}-byte header`);
  }
  return {
    version: bytes.readUInt8(offset),
    type: bytes.readUInt8(offset + 1),
    flags: bytes.readUInt16BE(offset + 2),
    streamId: bytes.readUInt32BE(offset + 4),
    length: bytes.readUInt32BE(offset + 8),
  };
}

/** Rejects from the header alone, before any payload is buffered. */
export function validateHeader(header: FrameHeader, maxFrameSize: number): void {
  if (header.version !== PROTOCOL_VERSION) {
    throw new LatchError(ErrorCode.BAD_VERSION, `unsupported protocol version 0x${header.version.toString(16).padStart(2, '0')}`);
  }
  if (!KNOWN_TYPES.has(header.type)) {
    throw new LatchError(ErrorCode.UNKNOWN_FRAME_TYPE, `unknown frame type 0x${header.type.toString(16).padStart(2, '0')}`);
  }
  if (hasPayload(header.type) && header.length > maxFrameSize) {
    throw new LatchError(ErrorCode.FRAME_TOO_LARGE, `frame payload of ${header.length} bytes exceeds the limit of ${maxFrameSize}`);
  }
}

/** Parses one complete frame (e.g. one WebSocket message); its size must match its header. */
export function parseFrame(frame: Buffer, maxFrameSize: number): Frame {
  const header = decodeHeader(frame);
  validateHeader(header, maxFrameSize);
  const expected = HEADER_SIZE + payloadLength(header);
  if (frame.length !== expected) {
    throw new LatchError(ErrorCode.PROTOCOL, `frame is ${frame.length} bytes but its header says ${expected}`);
  }
  return { header, payload: frame.subarray(HEADER_SIZE) };
}

/** GO_AWAY payload: u16 close code, then the UTF-8 reason (truncated to 123 bytes). */
export function encodeGoAway(code: number, reason: string): Buffer {
  const text = truncateUtf8(reason, MAX_CLOSE_REASON_BYTES);
  const payload = Buffer.allocUnsafe(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  return encodeFrame(FrameType.GO_AWAY, 0, 0, payload);
}

export function decodeGoAway(payload: Buffer): { code: number; reason: string } {
  if (payload.length < 2 || payload.length > 2 + MAX_CLOSE_REASON_BYTES) {
    throw new LatchError(ErrorCode.PROTOCOL, `GO_AWAY payload of ${payload.length} bytes`);
  }
  return { code: payload.readUInt16BE(0), reason: payload.toString('utf8', 2) };
}

/** Cuts at a character boundary so the result is valid UTF-8 of at most `max` bytes. */
export function truncateUtf8(text: string, max: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return bytes;
  let end = max;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/**
 * Reassembles frames from a byte stream. Frames are self-delimiting through the header's length.
 * The header is validated as soon as its 12 bytes have arrived, so an oversized length is
 * rejected before a single payload byte is held: memory stays ≤ one frame + one chunk.
 * After it throws, the decoder is unusable (the byte stream has lost its framing).
 */
export class FrameDecoder {
  readonly maxFrameSize: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #pending: FrameHeader | undefined;
  #failed: LatchError | undefined;

  constructor(maxFrameSize: number) {
    this.maxFrameSize = maxFrameSize;
  }

  /** Bytes held waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Feeds a chunk; returns every frame it completed (header + payload, one Buffer each). */
  push(chunk: Buffer): Buffer[] {
    if (this.#failed) throw this.#failed;
    const frames: Buffer[] = [];
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    try {
      for (;;) {
        if (this.#pending === undefined) {
          if (this.#buffered < HEADER_SIZE) break;
          const header = decodeHeader(this.#peek(HEADER_SIZE));
          validateHeader(header, this.maxFrameSize);
          this.#pending = header;
        }
        const size = HEADER_SIZE + payloadLength(this.#pending);
        if (this.#buffered < size) break;
        frames.push(this.#take(size));
        this.#pending = undefined;
      }
    } catch (err) {
      this.#failed = err instanceof LatchError ? err : new LatchError(ErrorCode.PROTOCOL, 'undecodable frame', { cause: err });
      this.#chunks = [];
      this.#buffered = 0;
      throw this.#failed;
    }
    return frames;
  }

  /** The first n buffered bytes without consuming them (copies only if they span chunks). */
  #peek(n: number): Buffer {
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= n) return first.subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (const c of this.#chunks) {
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (filled === n) break;
    }
    return out;
  }

  /** Consumes n bytes: a zero-copy view when they lie in one chunk, else one copy. */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0];
      if (c === undefined) throw new LatchError(ErrorCode.INTERNAL, 'decoder accounting error');
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(k);
    }
    return out;
  }
}
