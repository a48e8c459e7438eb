/**
 * Audit lines to a stream, normally the proxy's stdout (for a container log collector). A stream
 * nobody reads would buffer without end, so above `maxBufferedBytes` lines are dropped and
 * counted instead.
 */
import type { Writable } from 'node:stream';
import type { AuditSink, AuditSinkStats } from './AuditSink.ts';

export interface StreamSinkOptions {
  maxBufferedBytes: number;
}

export function defaultStreamSinkOptions(): StreamSinkOptions {
  return { maxBufferedBytes: 8 * 1024 * 1024 };
}

export class StreamSink implements AuditSink {
  readonly name = 'stdout';
  readonly #stream: Writable;
  readonly #options: StreamSinkOptions;
  #written = 0;
  #dropped = 0;
  #broken = false;

  constructor(stream: Writable, options: Partial<StreamSinkOptions> = {}) {
    this.#stream = stream;
    this.#options = { ...defaultStreamSinkOptions(), ...options };
    if (!(this.#options.maxBufferedBytes > 0)) throw new RangeError('maxBufferedBytes must be > 0');
    // EPIPE and friends arrive as 'error'; an unhandled one would crash the proxy.
    stream.on('error', () => {
      this.#broken = true;
    });
  }

  write(line: string): void {
    if (this.#broken || this.#stream.destroyed || this.#stream.writableLength > this.#options.maxBufferedBytes) {
      this.#dropped++;
      return;
    }
    this.#stream.write(`${line}\n`);
    this.#written++;
  }

  async close(deadlineMs: number): Promise<void> {
    if (this.#broken || this.#stream.writableLength === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(0, deadlineMs));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#stream.once('drain', done);
      this.#stream.once('error', done);
    });
  }

  /** `delivered` counts lines handed to the stream (the OS pipe takes it from there). */
  stats(): AuditSinkStats {
    return { queued: 0, delivered: this.#written, dropped: this.#dropped };
  }
}
