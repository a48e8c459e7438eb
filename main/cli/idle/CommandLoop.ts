import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { runCommand } from './runCommand.ts';
import type { RunCommandOptions, RunCommandResult } from './runCommand.ts';

/** How an idle source runs its helpers: `runCommand` itself, or LoopedCommands.run. */
export type CommandRunner = (file: string, args: readonly string[], options: Pick<RunCommandOptions, 'env' | 'timeoutMs'>) => Promise<RunCommandResult>;

/**
 * The loop the shell runs: one line in, the command run once, its output (stdout and stderr)
 * then a record-separator line with the exit status. It ends when its stdin closes, i.e. when the
 * process that started it exits for any reason, so it never outlives us.
 */
const LOOP_SCRIPT = ['while IFS= read -r _; do', '  out=$("$0" "$@" 2>&1)', '  rc=$?', "  printf '%s\\n\\036%s\\n' \"$out\" \"$rc\"", 'done'].join('\n');

/** The end of one reply: RS, the exit status, newline. */
const REPLY_END = /(?:^|\n)\x1e(\d+)\n/;

/** A reply longer than this is a failure: none of our helpers prints that much. */
const MAX_REPLY_BYTES = 64 * 1024;

type Shell = ChildProcessByStdio<Writable, Readable, null>;

/** What the shell answered: the command's exit status and output, or why there is no answer. */
type Reply = { code: number; output: string } | { failure: 'spawn' | 'exit' | 'output'; detail: string };

/**
 * Runs one fixed command again and again, on request, through one long-lived /bin/sh. A client
 * samples idle time every second; spawning the helper from Node each time forks the whole Node
 * process (~200 MiB of page tables copied, ~10 ms with the event loop blocked, measured in the
 * client's CPU profile), while the shell's own fork is cheap. Requests are served one at a time;
 * a helper that does not answer in time has its shell (and the helper, one process group) killed,
 * and the next request starts a new shell.
 */
export class CommandLoop {
  readonly #file: string;
  readonly #args: readonly string[];
  readonly #env: NodeJS.ProcessEnv;
  #shell: Shell | null = null;
  #pending = '';
  #reply: ((reply: Reply) => void) | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(file: string, args: readonly string[], env: NodeJS.ProcessEnv) {
    this.#file = file;
    this.#args = args;
    this.#env = env;
  }

  /** Runs the command once; never rejects (the result says what went wrong, as runCommand's). */
  run(timeoutMs: number): Promise<RunCommandResult> {
    const result = this.#queue.then(() => this.#runOnce(timeoutMs));
    this.#queue = result;
    return result;
  }

  /** Ends the shell (and a helper it is running). Later runs fail. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#kill();
  }

  #runOnce(timeoutMs: number): Promise<RunCommandResult> {
    const fail = (failure: 'spawn' | 'timeout' | 'exit' | 'output', detail: string): RunCommandResult => ({ ok: false, failure, detail, stdout: '', stderr: '' });
    if (this.#closed) return Promise.resolve(fail('spawn', `${this.#file}: the command loop is closed`));
    const shell = this.#shell ?? this.#start();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#reply = null;
        this.#kill();
        resolve(fail('timeout', `${this.#file} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#reply = (reply) => {
        clearTimeout(timer);
        this.#reply = null;
        if ('failure' in reply) {
          resolve(fail(reply.failure, `${this.#file}: ${reply.detail}`));
          return;
        }
        if (reply.code === 0) resolve({ ok: true, stdout: reply.output, stderr: '' });
        else resolve({ ok: false, failure: 'exit', detail: `${this.#file} exited with ${reply.code}: ${reply.output.trim().slice(0, 300)}`, stdout: '', stderr: reply.output });
      };
      shell.stdin.write('\n');
    });
  }

  #start(): Shell {
    // detached: the shell leads its own process group, so a hung helper dies with it (#kill).
    const shell = spawn('/bin/sh', ['-c', LOOP_SCRIPT, this.#file, ...this.#args], { env: this.#env, stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    this.#shell = shell;
    this.#pending = '';
    // The loop must never keep the client alive on its own.
    shell.unref();
    (shell.stdin as Writable & { unref?: () => void }).unref?.();
    (shell.stdout as Readable & { unref?: () => void }).unref?.();
    shell.stdin.on('error', () => undefined); // EPIPE when the shell is gone: 'exit' reports it
    shell.stdout.setEncoding('utf8');
    shell.stdout.on('data', (chunk: string) => {
      if (this.#shell !== shell) return;
      this.#pending += chunk;
      const end = REPLY_END.exec(this.#pending);
      if (end === null) {
        if (this.#pending.length > MAX_REPLY_BYTES) {
          this.#kill();
          this.#reply?.({ failure: 'output', detail: `printed more than ${MAX_REPLY_BYTES} bytes` });
        }
        return;
      }
      const output = this.#pending.slice(0, end.index);
      this.#pending = this.#pending.slice(end.index + end[0].length);
      this.#reply?.({ code: Number(end[1]), output: output === '' ? '' : `${output}\n` });
    });
    // A shell that was replaced (killed at a timeout) reports nothing to the request after it.
    shell.on('error', (err: NodeJS.ErrnoException) => {
      if (this.#shell !== shell) return;
      this.#shell = null;
      this.#reply?.({ failure: 'spawn', detail: `/bin/sh could not be started (${err.code ?? err.message})` });
    });
    shell.on('exit', (code, signal) => {
      if (this.#shell !== shell) return;
      this.#shell = null;
      this.#reply?.({ failure: 'exit', detail: `the command loop ended (${code ?? signal})` });
    });
    return shell;
  }

  #kill(): void {
    const shell = this.#shell;
    this.#shell = null;
    if (shell?.pid === undefined || shell.exitCode !== null || shell.signalCode !== null) return;
    try {
      process.kill(-shell.pid, 'SIGKILL');
    } catch {
      shell.kill('SIGKILL');
    }
  }
}

/**
 * A CommandRunner that keeps one CommandLoop per distinct command line (an idle source asks the
 * same few questions every second). Past `maxLoops` distinct commands it falls back to spawning.
 */
export class LoopedCommands {
  readonly #loops = new Map<string, CommandLoop>();
  readonly #maxLoops: number;

  constructor(maxLoops = 8) {
    this.#maxLoops = maxLoops;
  }

  readonly run: CommandRunner = (file, args, options) => {
    const key = JSON.stringify([file, ...args]);
    let loop = this.#loops.get(key);
    if (loop === undefined) {
      if (this.#loops.size >= this.#maxLoops) return runCommand(file, args, options);
      loop = new CommandLoop(file, args, options.env);
      this.#loops.set(key, loop);
    }
    return loop.run(options.timeoutMs);
  };

  close(): void {
    for (const loop of this.#loops.values()) loop.close();
    this.#loops.clear();
  }
}
