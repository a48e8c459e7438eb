import { ErrorCode, LatchError } from '../common/errors.ts';

/**
 * Reads one line from stdin as a password. On a terminal the prompt goes to stderr and the
 * typed characters are not echoed; from a pipe the first line is taken (so scripts can do
 * `echo pw | latch-proxy user add NAME`).
 */

const MAX_PASSWORD = 1024;

export function readPassword(prompt: string, input: NodeJS.ReadStream = process.stdin): Promise<string> {
  return input.isTTY ? readFromTerminal(prompt, input) : readFirstLine(input);
}

function readFirstLine(input: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const finish = (err?: LatchError): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
      if (err) {
        reject(err);
        return;
      }
      const line = buffered.split(/\r?\n/, 1)[0] ?? '';
      resolve(line);
    };
    const onData = (chunk: Buffer | string): void => {
      buffered += chunk.toString();
      if (buffered.includes('\n')) finish();
      else if (buffered.length > MAX_PASSWORD) finish(new LatchError(ErrorCode.USAGE, `the password is longer than ${MAX_PASSWORD} characters`));
    };
    const onEnd = (): void => {
      if (buffered === '') finish(new LatchError(ErrorCode.USAGE, 'no password on stdin (pipe it in, e.g. echo PASSWORD | latch-proxy user add NAME)'));
      else finish();
    };
    const onError = (err: Error): void => finish(new LatchError(ErrorCode.USAGE, `cannot read stdin: ${err.message}`));
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
    input.resume();
  });
}

function readFromTerminal(prompt: string, input: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve, reject) => {
    process.stderr.write(prompt);
    input.setRawMode(true);
    input.setEncoding('utf8');
    let password = '';
    const done = (err?: LatchError): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(password);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          done();
          return;
        }
        if (ch === '\u0003') {
          done(new LatchError(ErrorCode.USAGE, 'cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') password = password.slice(0, -1);
        else if (password.length < MAX_PASSWORD) password += ch;
      }
    };
    input.on('data', onData);
    input.resume();
  });
}
