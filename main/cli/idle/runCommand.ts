import { spawn } from 'node:child_process';

export interface RunCommandOptions {
  env: NodeJS.ProcessEnv;
  /** The child is killed (SIGKILL) when it has not exited by then. */
  timeoutMs: number;
  /** Output beyond this is a failure, not a truncation: no helper of ours prints that much. */
  maxOutputBytes: number;
}

export function defaultRunCommandOptions(): RunCommandOptions {
  return { env: process.env, timeoutMs: 2_000, maxOutputBytes: 1 << 20 };
}

export type RunCommandResult =
  | { ok: true; stdout: string; stderr: string }
  | { ok: false; failure: 'spawn' | 'timeout' | 'exit' | 'output'; detail: string; stdout: string; stderr: string };

/**
 * Runs a short-lived helper (xprintidle, gdbus, ioreg, osascript) with a hard time bound and
 * reports what happened without throwing, so each caller maps the failure to its own error code.
 */
export function runCommand(file: string, args: readonly string[], options: Partial<RunCommandOptions> = {}): Promise<RunCommandResult> {
  const { env, timeoutMs, maxOutputBytes } = { ...defaultRunCommandOptions(), ...options };
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let settled = false;
    const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString('utf8');
    const finish = (result: RunCommandResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const fail = (failure: 'spawn' | 'timeout' | 'exit' | 'output', detail: string) =>
      finish({ ok: false, failure, detail, stdout: text(out), stderr: text(err) });

    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail('timeout', `${file} did not finish within ${timeoutMs} ms`);
    }, timeoutMs);
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxOutputBytes) {
        child.kill('SIGKILL');
        fail('output', `${file} printed more than ${maxOutputBytes} bytes`);
        return;
      }
      into.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    child.once('error', (e: NodeJS.ErrnoException) => fail('spawn', `${file} could not be started (${e.code ?? e.message})`));
    child.once('close', (code, signal) => {
      if (code === 0) finish({ ok: true, stdout: text(out), stderr: text(err) });
      else fail('exit', `${file} exited with ${code ?? signal}: ${text(err).trim().slice(0, 300)}`);
    });
  });
}
