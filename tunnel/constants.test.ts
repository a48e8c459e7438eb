// Pins every wire constant of tunnel/PROTOCOL.md and round-trips golden bytes written by hand.
// Changing a value here is a protocol change: bump the version and update PROTOCOL.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONTROL_STREAM_ID,
  CloseCode,
  ControlType,
  DEFAULT_INITIAL_WINDOW,
  DEFAULT_KEEPALIVE_INTERVAL_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_STREAMS,
  FIRST_CLIENT_STREAM_ID,
  Flag,
  FrameType,
  HEADER_SIZE,
  INITIAL_WINDOW,
  MAX_CLOSE_REASON_BYTES,
  MAX_RESOURCE_ID_LENGTH,
  MAX_SEND_FRAME_SIZE,
  MAX_WINDOW,
  PROTOCOL_VERSION,
  ResetCode,
  SUBPROTOCOL,
} from './constants.ts';
import { decodeGoAway, decodeHeader, encodeFrame, encodeGoAway, parseFrame } from './codec.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

void test('header, version and subprotocol', () => {
  assert.equal(HEADER_SIZE, 12);
  assert.equal(PROTOCOL_VERSION, 0x01);
  assert.equal(SUBPROTOCOL, 'latch.v1');
});

void test('frame types', () => {
  assert.deepEqual({ ...FrameType }, { DATA: 0x00, WINDOW_UPDATE: 0x01, PING: 0x02, GO_AWAY: 0x03, OPEN: 0x04, CONTROL: 0x05 });
});

void test('flags', () => {
  assert.deepEqual({ ...Flag }, { SYN: 0x1, ACK: 0x2, FIN: 0x4, RST: 0x8 });
});

void test('reset codes', () => {
  assert.deepEqual({ ...ResetCode }, {
    CANCEL: 0x00,
    UNKNOWN_RESOURCE: 0x01,
    DIAL_FAILED: 0x02,
    STREAM_LIMIT: 0x03,
    BUFFER_LIMIT: 0x04,
    REFUSED: 0x05,
    PROTOCOL_ERROR: 0x06,
    INTERNAL: 0x07,
    TARGET_RESET: 0x08,
  });
});

void test('windows, limits and defaults', () => {
  assert.equal(INITIAL_WINDOW, 65536);
  assert.equal(MAX_SEND_FRAME_SIZE, 65536);
  assert.equal(MAX_WINDOW, 4294967295);
  assert.equal(MAX_RESOURCE_ID_LENGTH, 255);
  assert.equal(MAX_CLOSE_REASON_BYTES, 123);
  assert.equal(FIRST_CLIENT_STREAM_ID, 1);
  assert.equal(CONTROL_STREAM_ID, 0);
  assert.equal(DEFAULT_INITIAL_WINDOW, 4194304);
  assert.equal(DEFAULT_MAX_FRAME_SIZE, 65536);
  assert.equal(DEFAULT_MAX_STREAMS, 1024);
  assert.equal(DEFAULT_MAX_BUFFERED_BYTES, 67108864);
  assert.equal(DEFAULT_KEEPALIVE_INTERVAL_MS, 15000);
});

void test('close codes are the ones in common/closeCodes.ts', () => {
  assert.deepEqual({ ...CloseCode }, {
    NORMAL: 1000,
    GOING_AWAY: 1001,
    SESSION_IDLE: 4001,
    SESSION_ABSOLUTE: 4002,
    SESSION_REVOKED: 4003,
    SESSION_LOGOUT: 4004,
    SESSION_REPLACED: 4005,
    SESSION_ERROR: 4006,
    PROTOCOL_ERROR: 4100,
    FRAME_TOO_LARGE: 4101,
    FLOW_CONTROL: 4102,
    BUFFER_LIMIT: 4103,
    KEEPALIVE_TIMEOUT: 4104,
    BAD_VERSION: 4105,
    AUTH_FAILED: 4200,
    CERT_EXPIRED: 4201,
    CERT_REVOKED: 4202,
    SERVER_SHUTDOWN: 4900,
    INTERNAL_ERROR: 4999,
  });
});

void test('control message types', () => {
  assert.deepEqual(Object.values(ControlType).sort(), [
    'activity',
    'credentials.wiped',
    'logout',
    'renew',
    'session.ended',
    'session.state',
    'session.warning',
  ]);
});

// Each golden frame: the bytes as PROTOCOL.md shows them, and the fields they must decode to.
const golden: { name: string; bytes: string; type: number; flags: number; streamId: number; length: number; payload: string; encode: () => Buffer }[] = [
  {
    name: 'OPEN stream 1 for resource "db"',
    bytes: '01 04 0001 00000001 00000002 6462',
    type: 0x04, flags: 0x1, streamId: 1, length: 2, payload: '6462',
    encode: () => encodeFrame(FrameType.OPEN, Flag.SYN, 1, Buffer.from('db')),
  },
  {
    name: 'accept stream 1 granting 983040 more bytes (WINDOW_UPDATE|ACK)',
    bytes: '01 01 0002 00000001 000f0000',
    type: 0x01, flags: 0x2, streamId: 1, length: 0x000f0000, payload: '',
    encode: () => encodeFrame(FrameType.WINDOW_UPDATE, Flag.ACK, 1, 983040),
  },
  {
    name: 'DATA "hi" on stream 3',
    bytes: '01 00 0000 00000003 00000002 6869',
    type: 0x00, flags: 0, streamId: 3, length: 2, payload: '6869',
    encode: () => encodeFrame(FrameType.DATA, 0, 3, Buffer.from('hi')),
  },
  {
    name: 'FIN on stream 3',
    bytes: '01 00 0004 00000003 00000000',
    type: 0x00, flags: 0x4, streamId: 3, length: 0, payload: '',
    encode: () => encodeFrame(FrameType.DATA, Flag.FIN, 3),
  },
  {
    name: 'reject stream 5 with UNKNOWN_RESOURCE (DATA|RST)',
    bytes: '01 00 0008 00000005 00000004 00000001',
    type: 0x00, flags: 0x8, streamId: 5, length: 4, payload: '00000001',
    encode: () => encodeFrame(FrameType.DATA, Flag.RST, 5, hex('00000001')),
  },
  {
    name: 'PING request, opaque 0x2a',
    bytes: '01 02 0001 00000000 0000002a',
    type: 0x02, flags: 0x1, streamId: 0, length: 42, payload: '',
    encode: () => encodeFrame(FrameType.PING, Flag.SYN, 0, 42),
  },
  {
    name: 'GO_AWAY 4001 "idle"',
    bytes: '01 03 0000 00000000 00000006 0fa1 69646c65',
    type: 0x03, flags: 0, streamId: 0, length: 6, payload: '0fa169646c65',
    encode: () => encodeGoAway(4001, 'idle'),
  },
  {
    name: 'CONTROL {"type":"renew"}',
    bytes: '01 05 0000 00000000 00000010 7b2274797065223a2272656e6577227d',
    type: 0x05, flags: 0, streamId: 0, length: 16, payload: Buffer.from('{"type":"renew"}').toString('hex'),
    encode: () => encodeFrame(FrameType.CONTROL, 0, 0, Buffer.from(JSON.stringify({ type: 'renew' }))),
  },
];

for (const g of golden) {
  void test(`golden bytes: ${g.name}`, () => {
    const bytes = hex(g.bytes);
    assert.deepEqual(g.encode(), bytes, 'encoder output');
    const header = decodeHeader(bytes);
    assert.deepEqual(header, { version: 1, type: g.type, flags: g.flags, streamId: g.streamId, length: g.length });
    const { payload } = parseFrame(bytes, DEFAULT_MAX_FRAME_SIZE);
    assert.equal(payload.toString('hex'), g.payload);
  });
}

void test('GO_AWAY payload decodes to code and reason', () => {
  assert.deepEqual(decodeGoAway(hex('0fa1 69646c65')), { code: 4001, reason: 'idle' });
});

void test('PROTOCOL.md lists every error code and every close code', async () => {
  const { readFile } = await import('node:fs/promises');
  const { ErrorCode } = await import('../common/errors.ts');
  const doc = await readFile(new URL('./PROTOCOL.md', import.meta.url), 'utf8');
  const missingErrors = Object.values(ErrorCode).filter((code) => !doc.includes(`| \`${code}\``));
  assert.deepEqual(missingErrors, [], 'add these codes to tunnel/PROTOCOL.md §10');
  const missingClose = Object.entries(CloseCode).filter(([name, code]) => !new RegExp(`\\| ${code} \\| ${name} `).test(doc));
  assert.deepEqual(missingClose, [], 'add these close codes to tunnel/PROTOCOL.md §9');
  for (const [name, value] of Object.entries(ResetCode)) {
    assert.ok(doc.includes(`| \`0x${value.toString(16).padStart(2, '0')}\` | ${name} `), `reset code ${name} in PROTOCOL.md`);
  }
  for (const [name, value] of Object.entries(FrameType)) {
    assert.ok(doc.includes(`| \`0x${value.toString(16).padStart(2, '0')}\` | ${name} `), `frame type ${name} in PROTOCOL.md`);
  }
});
