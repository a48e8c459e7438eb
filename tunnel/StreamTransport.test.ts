import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duplexPair } from 'node:stream';
import { ErrorCode, isLatchError } from '../common/errors.ts';
import { encodeFrame } from './codec.ts';
import { CloseCode, FrameType, HEADER_SIZE } from './constants.ts';
import { StreamTransport } from './StreamTransport.ts';

function closed(t: StreamTransport): Promise<[number, string]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no close')), 5000);
    t.on('close', (code, reason) => {
      clearTimeout(timer);
      resolve([code, reason]);
    });
  });
}

void test('a close code and reason travel as GO_AWAY; both ends report them once', async () => {
  const [a, b] = duplexPair();
  const ta = new StreamTransport(a);
  const tb = new StreamTransport(b);
  const frames: Buffer[] = [];
  tb.on('frame', (f) => frames.push(f));
  const both = Promise.all([closed(ta), closed(tb)]);
  ta.send(encodeFrame(FrameType.CONTROL, 0, 0, Buffer.from('{"type":"session.ended"}')));
  ta.close(CloseCode.SESSION_LOGOUT, 'signed out');
  ta.close(CloseCode.NORMAL, 'ignored: already closing');
  assert.equal(ta.send(encodeFrame(FrameType.PING, 1, 0, 1)), false, 'no sends after close');
  const [[codeA, reasonA], [codeB, reasonB]] = await both;
  assert.deepEqual([codeA, reasonA], [CloseCode.SESSION_LOGOUT, 'signed out']);
  assert.deepEqual([codeB, reasonB], [CloseCode.SESSION_LOGOUT, 'signed out']);
  // The control message arrived before the GO_AWAY: order is kept.
  assert.deepEqual(frames.map((f) => f.readUInt8(1)), [FrameType.CONTROL, FrameType.GO_AWAY]);
});

void test('a byte stream that ends without GO_AWAY is reported as 1006', async () => {
  const [a, b] = duplexPair();
  const tb = new StreamTransport(b);
  const c = closed(tb);
  a.end();
  assert.equal((await c)[0], 1006);
});

void test('a payload length above the limit is an error from the header alone', async () => {
  const [a, b] = duplexPair();
  const tb = new StreamTransport(b, { maxFrameSize: 100_000 });
  const err = new Promise<Error>((resolve) => tb.on('error', resolve));
  const header = encodeFrame(FrameType.DATA, 0, 1, 0);
  header.writeUInt32BE(100_001, 8);
  assert.equal(header.length, HEADER_SIZE);
  a.write(header);
  assert.ok(isLatchError(await err, ErrorCode.FRAME_TOO_LARGE));
  a.destroy();
});
