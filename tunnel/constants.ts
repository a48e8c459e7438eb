/**
 * Wire constants of the Latch tunnel protocol. Every name here is the name used in
 * tunnel/PROTOCOL.md; constants.test.ts pins each value and golden bytes.
 */
import { CloseCode } from '../common/closeCodes.ts';
import { SUBPROTOCOL } from '../common/api.ts';

export { CloseCode, SUBPROTOCOL };

/** version u8 | type u8 | flags u16 | stream id u32 | length u32, big-endian. */
export const HEADER_SIZE = 12;

/** The header's version byte for subprotocol `latch.v1`. */
export const PROTOCOL_VERSION = 0x01;

export const FrameType = {
  /** Stream bytes; with FIN: half-close; with RST: reset/reject (4-byte reset code payload). */
  DATA: 0x00,
  /** Length = credit delta in bytes, no payload. With ACK: the server accepts a stream. */
  WINDOW_UPDATE: 0x01,
  /** Stream 0. Length = opaque value echoed back; SYN = request, ACK = response. */
  PING: 0x02,
  /** Stream 0. Payload = u16 close code + UTF-8 reason: the sender is closing the session. */
  GO_AWAY: 0x03,
  /** Client opens an odd stream id; payload = resource id (UTF-8). Flags = SYN. */
  OPEN: 0x04,
  /** Stream 0. Payload = one JSON object `{ type: string, ... }`. */
  CONTROL: 0x05,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const Flag = {
  SYN: 0x1,
  ACK: 0x2,
  FIN: 0x4,
  RST: 0x8,
} as const;
export type Flag = (typeof Flag)[keyof typeof Flag];

/** Carried as the u32 payload of a DATA|RST frame. */
export const ResetCode = {
  /** The application closed the stream abruptly (local socket error, destroy()). */
  CANCEL: 0x00,
  /** The server has no resource with that id, or the session may not use it. */
  UNKNOWN_RESOURCE: 0x01,
  /** The server could not connect to the resource's target. */
  DIAL_FAILED: 0x02,
  /** The session already has its maximum number of concurrent streams. */
  STREAM_LIMIT: 0x03,
  /** Accepting the stream would exceed the receiver's buffered-bytes budget. */
  BUFFER_LIMIT: 0x04,
  /** Refused for another reason (session ending, server-initiated stream, no handler). */
  REFUSED: 0x05,
  /** The peer broke a stream-level rule. */
  PROTOCOL_ERROR: 0x06,
  /** The peer hit an unexpected internal failure for this stream. */
  INTERNAL: 0x07,
  /** The target closed the connection abruptly (TCP reset) after the stream was accepted. */
  TARGET_RESET: 0x08,
} as const;
export type ResetCode = (typeof ResetCode)[keyof typeof ResetCode];

/** Credit every stream starts with in each direction before any WINDOW_UPDATE. */
export const INITIAL_WINDOW = 64 * 1024;
/** Largest payload a sender puts in one frame, and the smallest limit a receiver may enforce. */
export const MAX_SEND_FRAME_SIZE = 64 * 1024;
/** A stream's send credit may never exceed this (u32). */
export const MAX_WINDOW = 0xffff_ffff;

/** OPEN payload: 1..255 bytes of [A-Za-z0-9._-]. Never a host:port. */
export const MAX_RESOURCE_ID_LENGTH = 255;
export const RESOURCE_ID_PATTERN = /^[A-Za-z0-9._-]{1,255}$/;

/** GO_AWAY reason: at most 123 bytes, like a WebSocket close reason (RFC 6455 §5.5). */
export const MAX_CLOSE_REASON_BYTES = 123;

/** Stream ids: client-opened streams are odd, starting at 1; even ids are reserved. */
export const FIRST_CLIENT_STREAM_ID = 1;
export const CONTROL_STREAM_ID = 0;

// Multiplexer defaults (MultiplexerOptions).
export const DEFAULT_INITIAL_WINDOW = 4 * 1024 * 1024;
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024;
export const DEFAULT_MAX_STREAMS = 1024;
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 15_000;

/** Session control message types (JSON on stream 0). The next issue fills in the fields. */
export const ControlType = {
  SESSION_STATE: 'session.state',
  SESSION_WARNING: 'session.warning',
  SESSION_ENDED: 'session.ended',
  ACTIVITY: 'activity',
  RENEW: 'renew',
  LOGOUT: 'logout',
  CREDENTIALS_WIPED: 'credentials.wiped',
} as const;
export type ControlType = (typeof ControlType)[keyof typeof ControlType];
