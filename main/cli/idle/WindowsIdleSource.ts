import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ErrorCode, LatchError } from '../../../common/errors.ts';
import type { IdleSample, IdleSource } from '../../core/idle/IdleSource.ts';

/**
 * Runs inside one long-lived PowerShell: compiles a tiny P/Invoke wrapper once (Add-Type, no
 * native build on our side), then answers each input line with one output line
 * `idle <ms> locked <0|1>` (or `error <win32 code>`).
 * - Idle: GetLastInputInfo's tick against GetTickCount, both 32-bit, subtracted unchecked so the
 *   49.7-day wrap-around comes out right.
 * - Lock: SwitchDesktop to the "Default" desktop fails while the secure desktop (lock screen,
 *   Ctrl+Alt+Del screen) has input; a UAC prompt reads as locked too, which is harmless because
 *   nobody is working in the session then.
 */
export const WINDOWS_IDLE_SCRIPT = String.raw`$ErrorActionPreference = 'Stop'
Add-Type -TypeDefinition @'
using System;
using System.Runtime.InteropServices;
public static class LatchIdle {
  [StructLayout(LayoutKind.Sequential)]
  struct LASTINPUTINFO { public uint cbSize; public uint dwTime; }
  [DllImport("user32.dll", SetLastError = true)] static extern bool GetLastInputInfo(ref LASTINPUTINFO info);
  [DllImport("kernel32.dll")] static extern uint GetTickCount();
  [DllImport("user32.dll", SetLastError = true)] static extern IntPtr OpenDesktop(string name, uint flags, bool inherit, uint access);
  [DllImport("user32.dll")] static extern bool SwitchDesktop(IntPtr desktop);
  [DllImport("user32.dll")] static extern bool CloseDesktop(IntPtr desktop);
  const uint DESKTOP_SWITCHDESKTOP = 0x0100;
  public static string Sample() {
    LASTINPUTINFO info = new LASTINPUTINFO();
    info.cbSize = (uint)Marshal.SizeOf(typeof(LASTINPUTINFO));
    if (!GetLastInputInfo(ref info)) return "error " + Marshal.GetLastWin32Error();
    uint idle = unchecked(GetTickCount() - info.dwTime);
    bool locked = true;
    IntPtr desktop = OpenDesktop("Default", 0, false, DESKTOP_SWITCHDESKTOP);
    if (desktop != IntPtr.Zero) { locked = !SwitchDesktop(desktop); CloseDesktop(desktop); }
    return "idle " + idle + " locked " + (locked ? 1 : 0);
  }
}
'@
while ($true) {
  $line = [Console]::In.ReadLine()
  if ($null -eq $line -or $line -eq 'exit') { break }
  [Console]::Out.WriteLine([LatchIdle]::Sample())
  [Console]::Out.Flush()
}
`;

/** PowerShell's -EncodedCommand takes base64 of UTF-16LE: no quoting of the script at all. */
export function encodePowerShellCommand(script: string): string {
  return Buffer.from(script, 'utf16le').toString('base64');
}

export function powershellArgs(script: string = WINDOWS_IDLE_SCRIPT): string[] {
  return ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', encodePowerShellCommand(script)];
}

/** One answer line of WINDOWS_IDLE_SCRIPT → sample, or an error text. */
export function parseWindowsSample(line: string): IdleSample | { error: string } {
  const text = line.trim();
  const ok = /^idle (\d+) locked ([01])$/.exec(text);
  if (ok?.[1] && ok[2]) return { idleMs: Number(ok[1]), locked: ok[2] === '1' };
  const failed = /^error (\d+)$/.exec(text);
  if (failed?.[1]) return { error: `GetLastInputInfo failed with Win32 error ${failed[1]}` };
  return { error: `unexpected line from the idle helper: ${JSON.stringify(text.slice(0, 200))}` };
}

export interface WindowsIdleSourceOptions {
  env: NodeJS.ProcessEnv;
  /** Windows PowerShell 5.1 is on every supported Windows; pwsh 7 works too. */
  powershell: string;
  /** Arguments for the helper; tests substitute a stand-in speaking the same line protocol. */
  args: readonly string[];
  /** Bound on one answer once the helper runs. */
  timeoutMs: number;
  /** Bound on the first answer after a (re)start: Add-Type compiles C#, which takes a second or two. */
  startTimeoutMs: number;
}

export function defaultWindowsIdleSourceOptions(): WindowsIdleSourceOptions {
  return { env: process.env, powershell: 'powershell.exe', args: powershellArgs(), timeoutMs: 2_000, startTimeoutMs: 15_000 };
}

/**
 * Idle time from GetLastInputInfo through one long-lived PowerShell child (spawning PowerShell
 * per sample would cost ~0.5 s of CPU every second). A helper that fails or stalls is killed;
 * the next sample starts a new one.
 */
export class WindowsIdleSource implements IdleSource {
  readonly kind = 'windows';
  readonly #options: WindowsIdleSourceOptions;
  #child: ChildProcessWithoutNullStreams | undefined;
  #fresh = false;
  #waiter: ((line: string | Error) => void) | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: Partial<WindowsIdleSourceOptions> = {}) {
    this.#options = { ...defaultWindowsIdleSourceOptions(), ...options };
    if (!(this.#options.timeoutMs > 0) || !(this.#options.startTimeoutMs > 0)) {
      throw new LatchError(ErrorCode.CONFIG, 'WindowsIdleSource: timeoutMs and startTimeoutMs must be positive');
    }
  }

  /** PID of the running helper, if any (for tests and diagnostics). */
  get helperPid(): number | undefined {
    return this.#child?.pid;
  }

  sample(): Promise<IdleSample> {
    // One request line, one answer line: samples take turns.
    const next = this.#queue.then(() => this.#sampleOnce());
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #sampleOnce(): Promise<IdleSample> {
    if (this.#closed) throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, 'idle source windows is closed');
    const child = this.#ensureChild();
    const timeoutMs = this.#fresh ? this.#options.startTimeoutMs : this.#options.timeoutMs;
    this.#fresh = false;
    const answer = await new Promise<string | Error>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        resolve(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = (line) => {
        clearTimeout(timer);
        this.#waiter = undefined;
        resolve(line);
      };
      child.stdin.write('sample\n');
    });
    if (answer instanceof Error) {
      this.#stopChild();
      throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, `idle helper (${this.#options.powershell}) failed: ${answer.message}`, { cause: answer });
    }
    const parsed = parseWindowsSample(answer);
    if ('error' in parsed) throw new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, parsed.error);
    return parsed;
  }

  #ensureChild(): ChildProcessWithoutNullStreams {
    if (this.#child) return this.#child;
    const child = spawn(this.#options.powershell, this.#options.args, { env: this.#options.env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2_000);
    });
    // Writing to a helper that just died raises EPIPE here; the exit handler reports it.
    child.stdin.on('error', () => undefined);
    // A helper that was replaced (after a timeout) no longer speaks for this source.
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
      if (this.#child === child) this.#waiter?.(line);
    });
    const gone = (why: string) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      this.#waiter?.(new Error(`${why}${stderr.trim() ? `: ${stderr.trim().slice(0, 300)}` : ''}`));
    };
    child.once('error', (err: NodeJS.ErrnoException) => gone(`could not be started (${err.code ?? err.message})`));
    child.once('exit', (code, signal) => gone(`exited with ${code ?? signal}`));
    this.#child = child;
    this.#fresh = true;
    return child;
  }

  #stopChild(): void {
    const child = this.#child;
    this.#child = undefined;
    if (!child) return;
    this.#waiter?.(new Error('the idle source was closed'));
    child.stdin.end();
    child.kill();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopChild();
  }
}
