import { appendFileSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, LatchError } from '../../common/errors.ts';

export interface RotatingLogOptions {
  /** Folder of the log files (Electron: app.getPath('logs')). */
  dir: string;
  /** latch.log, latch.1.log, … */
  name: string;
  /** Rotate when the current file would grow past this. */
  maxBytes: number;
  /** Rotated files kept besides the current one. */
  keep: number;
  now: () => Date;
}

export function defaultRotatingLogOptions(): Omit<RotatingLogOptions, 'dir'> {
  return { name: 'latch', maxBytes: 1024 * 1024, keep: 3, now: () => new Date() };
}

/**
 * The desktop app's log: one line per event, UTC timestamps, size-based rotation
 * (latch.log → latch.1.log → … → dropped). Synchronous appends: a few lines a minute, and the
 * last line before a crash is the one that matters. Never given secrets (tokens, keys, passwords).
 */
export class RotatingLog {
  readonly #options: RotatingLogOptions;
  readonly file: string;
  #size: number;

  constructor(options: Partial<RotatingLogOptions> & { dir: string }) {
    const merged = { ...defaultRotatingLogOptions(), ...options };
    if (!(merged.maxBytes >= 1024) || !Number.isInteger(merged.keep) || merged.keep < 1 || !/^[A-Za-z0-9._-]+$/.test(merged.name)) {
      throw new LatchError(ErrorCode.CONFIG, 'RotatingLog: maxBytes ≥ 1024, keep ≥ 1 and a plain file name are required');
    }
    this.#options = merged;
    mkdirSync(merged.dir, { recursive: true, mode: 0o700 });
    this.file = this.#path(0);
    try {
      this.#size = statSync(this.file).size;
    } catch {
      this.#size = 0;
    }
  }

  #path(index: number): string {
    return join(this.#options.dir, index === 0 ? `${this.#options.name}.log` : `${this.#options.name}.${index}.log`);
  }

  write(level: 'info' | 'warn' | 'error', message: string): void {
    const line = `${this.#options.now().toISOString()} ${level} ${message.replace(/\r?\n/g, '\n    ')}\n`;
    const bytes = Buffer.byteLength(line);
    if (this.#size > 0 && this.#size + bytes > this.#options.maxBytes) this.#rotate();
    appendFileSync(this.file, line, { mode: 0o600 });
    this.#size += bytes;
  }

  #rotate(): void {
    rmSync(this.#path(this.#options.keep), { force: true });
    for (let i = this.#options.keep - 1; i >= 0; i--) {
      try {
        renameSync(this.#path(i), this.#path(i + 1));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    this.#size = 0;
  }
}
