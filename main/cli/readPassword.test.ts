import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { ErrorCode, isLatchError } from '../../common/errors.ts';
import { readPassword } from './readPassword.ts';

test('from a pipe: the first line, without its line ending', async () => {
  const stdin = new PassThrough();
  const prompt = new PassThrough();
  stdin.end('s3cret pass\r\nsecond line\n');
  assert.equal(await readPassword(stdin, prompt), 's3cret pass');
  assert.equal(prompt.read(), null, 'no prompt is printed for a pipe');
});

test('from a pipe: the whole input when it has no newline, in chunks', async () => {
  const stdin = new PassThrough();
  const pending = readPassword(stdin, new PassThrough());
  stdin.write('ab');
  stdin.end('cd');
  assert.equal(await pending, 'abcd');
});

test('an empty password is a usage error', async () => {
  const stdin = new PassThrough();
  stdin.end('\n');
  await assert.rejects(readPassword(stdin, new PassThrough()), (err: unknown) => isLatchError(err, ErrorCode.USAGE));
});

test('on a terminal: raw mode, nothing echoed, Backspace edits, Enter ends', async () => {
  const stdin = Object.assign(new PassThrough(), { isTTY: true, modes: [] as boolean[] });
  const tty = Object.assign(stdin, { setRawMode: (mode: boolean) => stdin.modes.push(mode) });
  const prompt = new PassThrough();
  const pending = readPassword(tty, prompt, 'Password: ');
  tty.write('hunter3\u007f2\r');
  assert.equal(await pending, 'hunter2');
  assert.deepEqual(stdin.modes, [true, false]);
  assert.equal(String(prompt.read()), 'Password: \n', 'only the prompt and a newline: no echo');
});

test('on a terminal: Ctrl-C cancels', async () => {
  const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
  const pending = readPassword(stdin, new PassThrough());
  stdin.write('abc\u0003');
  await assert.rejects(pending, (err: unknown) => isLatchError(err, ErrorCode.USAGE));
});
