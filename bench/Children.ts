// Every process the benchmark starts goes through here, so each one is stopped by its own PID at
// the end (SIGTERM, then SIGKILL after a grace period), whatever happened in between.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which then stays open unless `closeStdin`. */
  input?: string;
  closeStdin?: boolean;
}

export class BenchChild {
  readonly name: string;
  readonly proc: ChildProcess;
  private out = '';
  private err = '';
  private exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exitPromise: Promise<void>;

  constructor(name: string, proc: ChildProcess) {
    this.name = name;
    this.proc = proc;
    proc.stdout?.setEncoding('utf8').on('data', (text: string) => {
      this.out = keepTail(this.out + text);
    });
    proc.stderr?.setEncoding('utf8').on('data', (text: string) => {
      this.err = keepTail(this.err + text);
    });
    this.exitPromise = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exited = { code, signal };
        resolve();
      });
      proc.once('error', (err) => {
        this.err = keepTail(`${this.err}${err.message}\n`);
        this.exited ??= { code: null, signal: null };
        resolve();
      });
    });
  }

  get pid(): number {
    if (this.proc.pid === undefined) throw new Error(`${this.name} did not start`);
    return this.proc.pid;
  }

  get alive(): boolean {
    return this.exited === null;
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  /** Resolves with the first match of `pattern` on stdout (or stderr); rejects on exit or timeout. */
  async waitFor(pattern: RegExp, timeoutMs: number, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const match = pattern.exec(stream === 'stdout' ? this.out : this.err);
      if (match !== null) return match;
      if (!this.alive) throw new Error(`${this.name} exited (${this.describeExit()}) before printing ${pattern}: ${this.tail()}`);
      await sleep(10);
    }
    throw new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms: ${this.tail()}`);
  }

  async wait(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const timedOut = await Promise.race([this.exitPromise.then(() => false), sleep(timeoutMs, undefined, { ref: false }).then(() => true)]);
    if (timedOut || this.exited === null) throw new Error(`${this.name} did not exit within ${timeoutMs} ms: ${this.tail()}`);
    return this.exited;
  }

  async stop(graceMs = 5_000): Promise<void> {
    if (!this.alive) return;
    this.proc.kill('SIGTERM');
    const gone = await Promise.race([this.exitPromise.then(() => true), sleep(graceMs, undefined, { ref: false }).then(() => false)]);
    if (!gone && this.alive) {
      this.proc.kill('SIGKILL');
      await Promise.race([this.exitPromise, sleep(2_000, undefined, { ref: false })]);
    }
  }

  describeExit(): string {
    if (this.exited === null) return 'running';
    return this.exited.signal !== null ? `signal ${this.exited.signal}` : `code ${this.exited.code}`;
  }

  tail(): string {
    const text = `${this.err}\n${this.out}`.trim();
    return text.length > 2000 ? `…${text.slice(-2000)}` : text;
  }
}

function keepTail(text: string): string {
  // Enough to find every line we wait for and to show an error; never unbounded.
  return text.length > 256 * 1024 ? text.slice(-128 * 1024) : text;
}

export class Children {
  private readonly all: BenchChild[] = [];

  spawn(name: string, command: string, args: readonly string[], options: SpawnOptions = {}): BenchChild {
    const proc = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const child = new BenchChild(name, proc);
    this.all.push(child);
    proc.stdin?.on('error', () => {});
    if (options.input !== undefined) proc.stdin?.write(options.input);
    if (options.closeStdin === true) proc.stdin?.end();
    return child;
  }

  /** Runs a command to completion; throws with its output if it fails or exceeds the timeout. */
  async run(name: string, command: string, args: readonly string[], options: SpawnOptions & { timeoutMs?: number } = {}): Promise<BenchChild> {
    const child = this.spawn(name, command, args, { ...options, closeStdin: true });
    const timeoutMs = options.timeoutMs ?? 30_000;
    try {
      const { code, signal } = await child.wait(timeoutMs);
      if (code !== 0) throw new Error(`${name} failed (${signal ?? `exit ${code}`}): ${child.tail()}`);
    } catch (err) {
      await child.stop(1_000);
      throw err;
    }
    return child;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.all.map((c) => c.stop()));
  }
}

/** Peak resident set size (VmHWM) of a live process, in bytes; null once it is gone. */
export function peakRss(pid: number): number | null {
  return statusKb(pid, 'VmHWM');
}

/** Current resident set size (VmRSS) of a live process, in bytes; null once it is gone. */
export function currentRss(pid: number): number | null {
  return statusKb(pid, 'VmRSS');
}

function statusKb(pid: number, field: string): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return match?.[1] !== undefined ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** PIDs of the live descendants of `pid` (from /proc/PID/task/TID/children). */
export function descendants(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  for (let guard = 0; queue.length > 0 && guard < 10_000; guard++) {
    const current = queue.shift() as number;
    let kids: number[] = [];
    try {
      kids = readFileSync(`/proc/${current}/task/${current}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      kids = [];
    }
    found.push(...kids);
    queue.push(...kids);
  }
  return found;
}

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5_000 }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU time (user + system) a live process has used so far, in seconds; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / clockTicks() : 0;
  } catch {
    return 0;
  }
}
