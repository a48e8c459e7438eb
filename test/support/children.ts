import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Processes started by an end-to-end suite. Every child goes through spawnChild() or runChild(),
 * is recorded here, and is stopped by its own PID (stopAll) whatever happened in the test.
 */

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const live = new Set<Child>();

/** Last bytes kept per stream: enough for diagnostics, bounded for chatty processes. */
const MAX_KEPT = 256 * 1024;

export class Child {
  readonly name: string;
  readonly proc: ChildProcess;
  #stdout = '';
  #stderr = '';
  /** Complete stdout lines with the time each arrived (bounded like the text). */
  readonly #lines: Array<{ at: number; text: string }> = [];
  #partial = '';
  #exit: ChildExit | undefined;
  readonly exited: Promise<ChildExit>;
  readonly #listeners = new Set<() => void>();

  constructor(name: string, proc: ChildProcess) {
    this.name = name;
    this.proc = proc;
    proc.stdout?.setEncoding('utf8').on('data', (text: string) => {
      this.#stdout = keep(this.#stdout + text);
      const at = Date.now();
      const parts = (this.#partial + text).split('\n');
      this.#partial = parts.pop() ?? '';
      for (const line of parts) this.#lines.push({ at, text: line });
      if (this.#lines.length > 10_000) this.#lines.splice(0, this.#lines.length - 10_000);
      this.#notify();
    });
    proc.stderr?.setEncoding('utf8').on('data', (text: string) => {
      this.#stderr = keep(this.#stderr + text);
      this.#notify();
    });
    this.exited = new Promise((resolve) => {
      // 'exit' can come before the last output is read; 'close' comes after it, unless a
      // grandchild holds the pipes open, so wait for it only briefly.
      proc.once('exit', (code, signal) => {
        const settle = (): void => {
          if (this.#exit !== undefined) return;
          this.#exit = { code, signal };
          live.delete(this);
          this.#notify();
          resolve(this.#exit);
        };
        const late = setTimeout(settle, 1_000);
        proc.once('close', () => {
          clearTimeout(late);
          settle();
        });
      });
      proc.once('error', (err) => {
        this.#stderr = keep(`${this.#stderr}${err.message}\n`);
        if (this.#exit === undefined) {
          this.#exit = { code: null, signal: null };
          live.delete(this);
          this.#notify();
          resolve(this.#exit);
        }
      });
    });
    live.add(this);
  }

  get pid(): number {
    if (this.proc.pid === undefined) throw new Error(`${this.name} did not start`);
    return this.proc.pid;
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Complete stdout lines, each with the epoch ms it was read. */
  get lines(): ReadonlyArray<{ at: number; text: string }> {
    return this.#lines;
  }

  get exit(): ChildExit | undefined {
    return this.#exit;
  }

  /** The last lines of both streams, for assertion messages. */
  tail(chars = 3_000): string {
    return `[${this.name} pid ${this.proc.pid ?? '?'}${this.#exit ? ` exited ${this.#exit.code ?? this.#exit.signal}` : ''}]\nstdout: ${this.#stdout.slice(-chars)}\nstderr: ${this.#stderr.slice(-chars)}`;
  }

  /**
   * Resolves with the first match of `pattern` in everything printed so far or later on
   * `stream`; rejects when the process exits without it or after timeoutMs.
   */
  waitFor(pattern: RegExp, timeoutMs: number, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpExecArray> {
    return this.waitUntil(() => pattern.exec(stream === 'stdout' ? this.#stdout : this.#stderr) ?? undefined, timeoutMs, `${stream} ${String(pattern)}`);
  }

  /** Resolves with the first defined value of `probe`, re-run on every output chunk and on exit. */
  waitUntil<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const value = probe();
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (this.#exit !== undefined) {
          done();
          reject(new Error(`${this.name} exited before ${what}\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Resolves with how the process ended; rejects if it is still running after timeoutMs. */
  async wait(timeoutMs: number): Promise<ChildExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name} did not exit within ${timeoutMs} ms\n${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a signal to this process only (nothing if it has exited). */
  signal(signal: NodeJS.Signals): void {
    if (this.#exit === undefined) this.proc.kill(signal);
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves once it has exited. Idempotent. */
  async stop(graceMs = 3_000): Promise<ChildExit> {
    if (this.#exit !== undefined) return this.#exit;
    // A stopped (SIGSTOP) process does not act on SIGTERM until continued.
    this.proc.kill('SIGCONT');
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

function keep(text: string): string {
  return text.length > MAX_KEPT ? text.slice(-MAX_KEPT) : text;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string;
}

export function spawnChild(name: string, command: string, args: readonly string[], options: SpawnOptions = {}): Child {
  const proc = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.input !== undefined) {
    proc.stdin?.on('error', () => undefined);
    proc.stdin?.end(options.input);
  }
  return new Child(name, proc);
}

export interface RunResult extends ChildExit {
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (SIGKILL after timeoutMs, then rejects). */
export async function runChild(name: string, command: string, args: readonly string[], options: SpawnOptions & { timeoutMs?: number } = {}): Promise<RunResult> {
  const child = spawnChild(name, command, args, options);
  try {
    const exit = await child.wait(options.timeoutMs ?? 30_000);
    return { ...exit, stdout: child.stdout, stderr: child.stderr };
  } catch (err) {
    await child.stop(0);
    throw err;
  }
}

/** Stops every child still running (each by its PID). For after() hooks. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop(1_000)));
}

/** Resident set size of a process in bytes (VmRSS from /proc), or 0 if it has exited. */
export function rssBytes(pid: number): number {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}
