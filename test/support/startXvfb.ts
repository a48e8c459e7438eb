import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface XvfbHandle {
  /** ':N', for DISPLAY. */
  display: string;
  pid: number;
  /** Stops this Xvfb (by its PID) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a private X server for a test. `-displayfd` lets Xvfb pick a free display number itself
 * and report it, so parallel test files never race for one. `-noreset`: tests talk to it only
 * through short-lived clients (xdotool, xprintidle), and by default the server resets each time
 * the last one disconnects; a client arriving during a reset under load is refused ("Can't open
 * display"; 98 of 800 such connections with three CPU hogs running, none with the flag). Kill it
 * with stop().
 */
export async function startXvfb(options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<XvfbHandle> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const child = spawn('Xvfb', ['-displayfd', '3', '-noreset', '-screen', '0', '640x480x24', '-nolisten', 'tcp'], {
    env: options.env ?? process.env,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  const stop = stopper(child);
  try {
    const display = await new Promise<string>((resolve, reject) => {
      let text = '';
      let stderr = '';
      const timer = setTimeout(() => reject(new Error(`Xvfb did not report a display within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-2_000);
      });
      (child.stdio[3] as Readable).on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('\n')) {
          clearTimeout(timer);
          resolve(`:${text.trim()}`);
        }
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`Xvfb exited with ${code ?? signal}: ${stderr}`));
      });
    });
    return { display, pid: child.pid ?? -1, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** stop() for a child we spawned: SIGTERM, then SIGKILL after 2 s; resolves once it has exited. */
export function stopper(child: ChildProcess): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
        resolve();
        return;
      }
      const force = setTimeout(() => child.kill('SIGKILL'), 2_000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGTERM');
    });
    return done;
  };
}
