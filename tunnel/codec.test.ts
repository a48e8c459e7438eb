import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ErrorCode, isLatchError } from '../common/errors.ts';
import { FrameDecoder, decodeHeader, encodeFrame, encodeGoAway, parseFrame, truncateUtf8 } from './codec.ts';
import { Flag, FrameType, HEADER_SIZE } from './constants.ts';

function sampleFrames(): Buffer[] {
  return [
    encodeFrame(FrameType.OPEN, Flag.SYN, 1, Buffer.from('db')),
    encodeFrame(FrameType.WINDOW_UPDATE, 0, 1, 4096),
    encodeFrame(FrameType.DATA, 0, 1, randomBytes(1000)),
    encodeFrame(FrameType.DATA, Flag.FIN, 1),
    encodeFrame(FrameType.PING, Flag.SYN, 0, 7),
    encodeFrame(FrameType.CONTROL, 0, 0, Buffer.from('{"type":"activity"}')),
    encodeGoAway(4004, 'logout'),
  ];
}

void test('decodes a frame sequence split at every byte position', () => {
  const frames = sampleFrames();
  const all = Buffer.concat(frames);
  for (let split = 0; split <= all.length; split++) {
    const decoder = new FrameDecoder(64 * 1024);
    const out = [...decoder.push(all.subarray(0, split)), ...decoder.push(all.subarray(split))];
    assert.deepEqual(out, frames, `split at ${split}`);
    assert.equal(decoder.bufferedBytes, 0);
  }
});

void test('decodes byte by byte and in three random pieces', () => {
  const frames = sampleFrames();
  const all = Buffer.concat(frames);
  const d1 = new FrameDecoder(64 * 1024);
  const out1: Buffer[] = [];
  for (let i = 0; i < all.length; i++) out1.push(...d1.push(all.subarray(i, i + 1)));
  assert.deepEqual(out1, frames);
  for (let round = 0; round < 200; round++) {
    const a = Math.floor(Math.random() * all.length);
    const b = a + Math.floor(Math.random() * (all.length - a));
    const d = new FrameDecoder(64 * 1024);
    const out = [...d.push(all.subarray(0, a)), ...d.push(all.subarray(a, b)), ...d.push(all.subarray(b))];
    assert.deepEqual(out, frames, `splits ${a}/${b}`);
  }
});

function rejects(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => isLatchError(err) && err.code === code);
}

void test('an oversized length is rejected from the header alone, before any payload', () => {
  const decoder = new FrameDecoder(1024);
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt8(1, 0);
  header.writeUInt8(FrameType.DATA, 1);
  header.writeUInt32BE(1, 4);
  header.writeUInt32BE(1025, 8);
  rejects(() => decoder.push(header), ErrorCode.FRAME_TOO_LARGE);
  // Unusable afterwards: the stream has lost its framing.
  rejects(() => decoder.push(Buffer.alloc(1)), ErrorCode.FRAME_TOO_LARGE);
  // 4 GiB claimed: still rejected from 12 bytes, nothing buffered.
  const huge = Buffer.from(header);
  huge.writeUInt32BE(0xffffffff, 8);
  const d2 = new FrameDecoder(1024);
  rejects(() => d2.push(huge), ErrorCode.FRAME_TOO_LARGE);
  assert.equal(d2.bufferedBytes, 0);
});

void test('a frame exactly at the limit is accepted', () => {
  const decoder = new FrameDecoder(1024);
  const frame = encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(1024, 1));
  assert.deepEqual(decoder.push(frame), [frame]);
});

void test('WINDOW_UPDATE and PING carry a value, not a payload, so a large value is fine', () => {
  const decoder = new FrameDecoder(1024);
  const w = encodeFrame(FrameType.WINDOW_UPDATE, 0, 1, 0xfffffff0);
  const p = encodeFrame(FrameType.PING, Flag.ACK, 0, 0xffffffff);
  assert.deepEqual(decoder.push(Buffer.concat([w, p])), [w, p]);
});

void test('bad version and unknown type are named errors', () => {
  rejects(() => new FrameDecoder(1024).push(Buffer.from('GET / HTTP/1.1\r\n\r\n')), ErrorCode.BAD_VERSION);
  const unknown = encodeFrame(FrameType.DATA, 0, 1);
  unknown.writeUInt8(0x06, 1);
  rejects(() => new FrameDecoder(1024).push(unknown), ErrorCode.UNKNOWN_FRAME_TYPE);
  rejects(() => parseFrame(unknown, 1024), ErrorCode.UNKNOWN_FRAME_TYPE);
});

void test('random garbage never yields a frame or hangs: it is rejected or waits for more bytes', () => {
  for (let i = 0; i < 500; i++) {
    const d = new FrameDecoder(1024);
    const junk = randomBytes(1 + Math.floor(Math.random() * 64));
    junk.writeUInt8(junk.readUInt8(0) === 1 ? 2 : junk.readUInt8(0), 0); // never version 1
    if (junk.length >= HEADER_SIZE) rejects(() => d.push(junk), ErrorCode.BAD_VERSION);
    else assert.deepEqual(d.push(junk), []);
  }
});

void test('parseFrame checks the message size against the header', () => {
  const frame = encodeFrame(FrameType.DATA, 0, 1, Buffer.from('abc'));
  rejects(() => parseFrame(frame.subarray(0, frame.length - 1), 1024), ErrorCode.PROTOCOL);
  rejects(() => parseFrame(Buffer.concat([frame, Buffer.from('x')]), 1024), ErrorCode.PROTOCOL);
  rejects(() => parseFrame(frame.subarray(0, 5), 1024), ErrorCode.PROTOCOL);
  assert.equal(parseFrame(frame, 1024).payload.toString(), 'abc');
  assert.equal(decodeHeader(frame).length, 3);
});

void test('close reasons are cut to 123 bytes at a character boundary', () => {
  const long = 'é'.repeat(100); // 200 bytes
  const cut = truncateUtf8(long, 123);
  assert.equal(cut.length, 122);
  assert.equal(cut.toString('utf8'), 'é'.repeat(61));
  const frame = encodeGoAway(4100, long);
  assert.equal(frame.length, HEADER_SIZE + 2 + 122);
});
