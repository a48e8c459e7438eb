/**
 * The proxy's audit trail: one OCSF-shaped JSON line per lifecycle event, chained by hash
 * (AuditChain.ts), written to a file and copied to optional sinks (stdout, webhook).
 *
 * Writing. append() is synchronous: it shapes the record, writes the whole line with one
 * write(2) on an O_APPEND descriptor, advances the chain and hands the line to the sinks (which
 * only enqueue). The process is single-threaded, so appends are serialized by construction;
 * a lock file (`<file>.lock`, holding the pid) keeps a second process from interleaving its own
 * chain into the same file. A line written is in the kernel when append() returns, so it
 * survives the proxy being killed (SIGKILL) at any point.
 *
 * Durability (fsync policy, option `fsync`):
 *   - 'interval' (default): fdatasync at most every `fsyncIntervalMs` (1 s) while there are new
 *     lines, off the event path, and on close. An OS crash or power loss can lose the last
 *     second; a process crash loses nothing.
 *   - 'always': fdatasync inside every append. Nothing acknowledged is ever lost, at the cost of
 *     a disk flush (often milliseconds) on the proxy's event path.
 *   - 'never': leave it to the OS.
 *
 * Restart. open() reads the file's last line to continue the chain (seq and hash). A file whose
 * last line is cut off, is not an audit record or was changed is refused (AUDIT_TRUNCATED /
 * AUDIT_BAD_JSON / AUDIT_CHANGED) rather than extended: the operator moves it aside after `latch-proxy audit verify`.
 */
import { closeSync, fdatasync, fdatasyncSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { ErrorCode, LatchError } from '../../common/errors.ts';
import type { AuditEvent, OcsfRecord } from './AuditEvent.ts';
import { MIN_SALT_BYTES, toOcsfRecord } from './AuditEvent.ts';
import { GENESIS_HASH, MAX_LINE_BYTES, lineHash, lineHashMatches, parseChainFields, sealLine } from './AuditChain.ts';
import type { AuditSink, AuditSinkStats, SinkLogger } from './AuditSink.ts';
import { StreamSink } from './StreamSink.ts';
import type { WebhookSinkOptions } from './WebhookSink.ts';
import { WebhookSink } from './WebhookSink.ts';

export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface AuditLogOptions {
  /** Per-proxy secret for session id hashes (AuditSalt.ts). Required. */
  salt: Uint8Array;
  /** The chained JSON-lines file; null for sinks only (then the chain restarts at every start). */
  file: string | null;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  /** Copy every line to this stream (normally process.stdout). */
  stdout: Writable | null;
  /** Post every line to a collector. */
  webhook: (Partial<WebhookSinkOptions> & { url: string }) | null;
  /** More sinks (tests, embedding). */
  sinks: AuditSink[];
  now: () => number;
  productVersion: string | undefined;
  logger: SinkLogger | undefined;
}

export function defaultAuditLogOptions(): Omit<AuditLogOptions, 'salt'> {
  return {
    file: null,
    fsync: 'interval',
    fsyncIntervalMs: 1000,
    stdout: null,
    webhook: null,
    sinks: [],
    now: Date.now,
    productVersion: undefined,
    logger: undefined,
  };
}

export function validateAuditLogOptions(o: AuditLogOptions): void {
  if (!(o.salt instanceof Uint8Array) || o.salt.length < MIN_SALT_BYTES) {
    throw new LatchError(ErrorCode.CONFIG, `audit salt must be at least ${MIN_SALT_BYTES} bytes`);
  }
  if (o.fsync !== 'always' && o.fsync !== 'interval' && o.fsync !== 'never') {
    throw new LatchError(ErrorCode.CONFIG, `audit fsync must be always, interval or never, got ${String(o.fsync)}`);
  }
  if (!Number.isFinite(o.fsyncIntervalMs) || o.fsyncIntervalMs <= 0) {
    throw new LatchError(ErrorCode.CONFIG, 'audit fsyncIntervalMs must be a positive number');
  }
  if (o.file === null && o.stdout === null && o.webhook === null && o.sinks.length === 0) {
    throw new LatchError(ErrorCode.CONFIG, 'audit log needs at least one sink (file, stdout or webhook)');
  }
}

export interface AppendResult {
  seq: number;
  /** SHA-256 of the line just written: the next line's prev_hash. */
  hash: string;
  record: OcsfRecord;
}

export interface AuditLogStats {
  seq: number;
  sinks: Record<string, AuditSinkStats>;
}

/** Files held open by this process: a second AuditLog on one file would fork the chain. */
const openInProcess = new Set<string>();

export class AuditLog {
  readonly #o: AuditLogOptions;
  readonly #path: string | null;
  readonly #sinks: AuditSink[];
  #fd: number | null = null;
  #seq: number;
  #prevHash: string;
  #dirty = false;
  #syncing: Promise<void> | undefined;
  #syncTimer: NodeJS.Timeout | undefined;
  #failure: LatchError | undefined;
  #closed = false;

  /** Opens (or creates) the log and continues its chain. Throws LatchError on a bad file or lock. */
  static open(options: Partial<AuditLogOptions> & { salt: Uint8Array }): AuditLog {
    const o: AuditLogOptions = { ...defaultAuditLogOptions(), ...options };
    validateAuditLogOptions(o);
    return new AuditLog(o);
  }

  private constructor(o: AuditLogOptions) {
    this.#o = o;
    this.#path = o.file === null ? null : resolve(o.file);
    this.#seq = 0;
    this.#prevHash = GENESIS_HASH;
    // Sinks first: a bad webhook option must fail before the file lock is taken.
    const sinks: AuditSink[] = [];
    if (o.stdout) sinks.push(new StreamSink(o.stdout));
    if (o.webhook) sinks.push(new WebhookSink(o.logger === undefined ? o.webhook : { logger: o.logger, ...o.webhook }));
    sinks.push(...o.sinks);
    this.#sinks = sinks;
    if (this.#path !== null) this.#openFile(this.#path);
    if (this.#fd !== null && o.fsync === 'interval') {
      this.#syncTimer = setInterval(() => this.#backgroundSync(), o.fsyncIntervalMs);
      this.#syncTimer.unref();
    }
  }

  #openFile(path: string): void {
    if (openInProcess.has(path)) throw new LatchError(ErrorCode.AUDIT_LOCKED, `audit file ${path} is already open in this process`);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    acquireLock(`${path}.lock`);
    openInProcess.add(path);
    try {
      // Audit lines name users and addresses: owner-only.
      this.#fd = openSync(path, 'a+', 0o600);
      const tail = readLastLine(this.#fd, path);
      if (tail) {
        this.#seq = tail.seq;
        this.#prevHash = tail.hash;
      }
    } catch (err) {
      if (this.#fd !== null) closeSync(this.#fd);
      this.#fd = null;
      releaseLock(`${path}.lock`);
      openInProcess.delete(path);
      throw err;
    }
  }

  get seq(): number {
    return this.#seq;
  }

  get path(): string | null {
    return this.#path;
  }

  /**
   * Records one event. Synchronous and fast (one write(2), no waiting on sinks). Throws
   * AUDIT_WRITE_FAILED once the file cannot be written (disk full, I/O error): from then on
   * every append throws, so the caller can fail closed instead of running unaudited.
   */
  append(event: AuditEvent): AppendResult {
    if (this.#closed) throw new LatchError(ErrorCode.AUDIT_CLOSED, 'audit log is closed');
    if (this.#failure) throw this.#failure;
    const record = toOcsfRecord(
      event,
      this.#o.productVersion === undefined ? { salt: this.#o.salt, now: this.#o.now } : { salt: this.#o.salt, now: this.#o.now, productVersion: this.#o.productVersion },
    );
    const seq = this.#seq + 1;
    const line = sealLine(JSON.stringify({ seq, prev_hash: this.#prevHash, ...record }));
    const bytes = Buffer.from(line, 'utf8');
    if (this.#fd !== null) this.#writeLine(bytes);
    const hash = lineHash(bytes);
    this.#seq = seq;
    this.#prevHash = hash;
    for (const sink of this.#sinks) {
      try {
        sink.write(line, seq);
      } catch {
        // A sink bug must not stop the file trail; sinks count their own losses.
      }
    }
    return { seq, hash, record };
  }

  #writeLine(bytes: Buffer): void {
    const fd = this.#fd;
    if (fd === null) return;
    const out = Buffer.allocUnsafe(bytes.length + 1);
    bytes.copy(out);
    out[bytes.length] = 0x0a;
    try {
      let off = 0;
      // write(2) on a regular file writes everything unless the disk is full; loop anyway.
      for (let i = 0; off < out.length && i < 100; i++) off += writeSync(fd, out, off, out.length - off);
      if (off < out.length) throw new Error('short write');
      if (this.#o.fsync === 'always') fdatasyncSync(fd);
    } catch (err) {
      this.#failure = new LatchError(ErrorCode.AUDIT_WRITE_FAILED, `cannot write audit file ${this.#path ?? ''}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
      this.#o.logger?.warn('audit.write_failed', { code: (err as NodeJS.ErrnoException).code ?? null });
      throw this.#failure;
    }
    this.#dirty = true;
  }

  #backgroundSync(): void {
    const fd = this.#fd;
    if (!this.#dirty || this.#syncing || fd === null) return;
    this.#dirty = false;
    this.#syncing = new Promise<void>((done) => {
      fdatasync(fd, (err) => {
        if (err) this.#o.logger?.warn('audit.fsync_failed', { code: err.code ?? null });
        this.#syncing = undefined;
        done();
      });
    });
  }

  stats(): AuditLogStats {
    const sinks: Record<string, AuditSinkStats> = {};
    for (const s of this.#sinks) sinks[s.name] = s.stats();
    return { seq: this.#seq, sinks };
  }

  /** Flushes sinks (each until `deadlineMs`), syncs and closes the file, releases the lock. Never rejects. */
  async close(deadlineMs = 5000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#syncTimer);
    await Promise.all(this.#sinks.map((s) => s.close(deadlineMs).catch(() => undefined)));
    await this.#syncing;
    const fd = this.#fd;
    this.#fd = null;
    if (fd !== null) {
      try {
        if (this.#o.fsync !== 'never') fdatasyncSync(fd);
      } catch (err) {
        // Shutdown goes on: the lines are in the kernel; only an OS crash could lose them now.
        this.#o.logger?.warn('audit.fsync_failed', { code: (err as NodeJS.ErrnoException).code ?? null });
      } finally {
        closeSync(fd);
        if (this.#path !== null) {
          releaseLock(`${this.#path}.lock`);
          openInProcess.delete(this.#path);
        }
      }
    }
  }
}

/** Reads the last complete line's chain position; undefined for an empty file. */
function readLastLine(fd: number, path: string): { seq: number; hash: string } | undefined {
  const size = fstatSync(fd).size;
  if (size === 0) return undefined;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  if (last[0] !== 0x0a) {
    throw new LatchError(ErrorCode.AUDIT_TRUNCATED, `audit file ${path} ends in the middle of a line (cut off?); run \`latch-proxy audit verify\` and move it aside`);
  }
  // Walk back from the final newline to the previous one, at most MAX_LINE_BYTES.
  const end = size - 1;
  const window = Math.min(end, MAX_LINE_BYTES + 1);
  const buf = Buffer.alloc(window);
  readSync(fd, buf, 0, window, end - window);
  const nl = buf.lastIndexOf(0x0a);
  if (nl === -1 && window < end) {
    throw new LatchError(ErrorCode.AUDIT_BAD_JSON, `the last line of audit file ${path} is longer than ${MAX_LINE_BYTES} bytes`);
  }
  const line = buf.subarray(nl + 1);
  const fields = parseChainFields(line);
  if (!fields) {
    throw new LatchError(ErrorCode.AUDIT_BAD_JSON, `the last line of audit file ${path} is not an audit record; run \`latch-proxy audit verify\` and move it aside`);
  }
  if (!lineHashMatches(line)) {
    throw new LatchError(ErrorCode.AUDIT_CHANGED, `the last line of audit file ${path} was changed (line_hash mismatch); run \`latch-proxy audit verify\` and move it aside`);
  }
  return { seq: fields.seq, hash: lineHash(line) };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `<file>.lock`; a lock left by a dead process (e.g. after SIGKILL) is taken over. */
function acquireLock(lockPath: string): void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = Number.NaN;
    try {
      holder = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
    } catch {
      // Vanished between open and read: retry.
    }
    // Our own pid in a lock we do not hold (openInProcess) is a previous process's, e.g. pid 1 in a container.
    if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new LatchError(ErrorCode.AUDIT_LOCKED, `audit file is in use by process ${holder} (${lockPath})`);
    }
    try {
      unlinkSync(lockPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new LatchError(ErrorCode.AUDIT_LOCKED, `cannot take the audit lock ${lockPath}`);
}

function releaseLock(lockPath: string): void {
  try {
    if (Number.parseInt(readFileSync(lockPath, 'utf8'), 10) === process.pid) unlinkSync(lockPath);
  } catch {
    // Already gone: nothing to release.
  }
}
