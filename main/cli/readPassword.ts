import type { Readable, Writable } from 'node:stream';
import { ErrorCode, LatchError } from '../../common/errors.ts';

const MAX_PASSWORD_BYTES = 4096;

interface TtyInput extends Readable {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

/**
 * Reads the password: the first line of stdin. On a terminal nothing is echoed (raw mode,
 * Backspace works, Ctrl-C cancels); from a pipe the first line is taken and the rest ignored.
 */
export async function readPassword(stdin: TtyInput, prompt: Writable, promptText = 'Password: '): Promise<string> {
  const password = stdin.isTTY === true && typeof stdin.setRawMode === 'function' ? await readFromTty(stdin, prompt, promptText) : await readFirstLine(stdin);
  if (password === '') throw new LatchError(ErrorCode.USAGE, 'no password given (it is read from the first line of stdin)');
  return password;
}

function readFirstLine(stdin: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (err?: LatchError): void => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onError);
      stdin.pause();
      if (err) reject(err);
      else resolve(text.replace(/\r$/, ''));
    };
    const onData = (chunk: Buffer | string): void => {
      text += chunk.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        text = text.slice(0, nl);
        finish();
      } else if (Buffer.byteLength(text) > MAX_PASSWORD_BYTES) {
        finish(new LatchError(ErrorCode.USAGE, 'the password line is too long'));
      }
    };
    const onEnd = (): void => finish();
    const onError = (err: Error): void => finish(new LatchError(ErrorCode.USAGE, `cannot read the password from stdin: ${err.message}`));
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', onError);
    stdin.resume();
  });
}

function readFromTty(stdin: TtyInput, prompt: Writable, promptText: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    prompt.write(promptText);
    stdin.setRawMode?.(true);
    const finish = (err?: LatchError): void => {
      stdin.setRawMode?.(false);
      stdin.off('data', onData);
      stdin.pause();
      prompt.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new LatchError(ErrorCode.USAGE, 'cancelled'));
        if (ch === '\u007f' || ch === '\b') text = [...text].slice(0, -1).join('');
        else if (ch >= ' ') text += ch;
        if (Buffer.byteLength(text) > MAX_PASSWORD_BYTES) return finish(new LatchError(ErrorCode.USAGE, 'the password is too long'));
      }
      return undefined;
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}
