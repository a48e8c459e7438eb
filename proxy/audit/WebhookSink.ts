/**
 * Posts every audit line to an HTTP(S) endpoint (a SIEM collector), one JSON event per POST, in
 * chain order, normally within milliseconds of the event.
 *
 * The proxy's event path only enqueues (O(1), never waits). Delivery runs asynchronously: one
 * request at a time over a keep-alive connection; a failure (network error, timeout, 408, 429,
 * 5xx) is retried with exponential backoff and jitter, honouring Retry-After; other statuses
 * (4xx, 3xx) are permanent refusals: the event is dropped and counted, so one poison event
 * cannot stall the queue. The queue is bounded by count and bytes; beyond either bound the
 * oldest waiting event is dropped and counted. Every POST carries `X-Latch-Audit-Seq` so the
 * receiver can deduplicate a retry whose first attempt did arrive (delivery is at-least-once).
 */
import http from 'node:http';
import https from 'node:https';
import type { AuditSink, AuditSinkStats, SinkLogger } from './AuditSink.ts';
import { ErrorCode, LatchError } from '../../common/errors.ts';

export interface WebhookSinkOptions {
  /** http: or https: URL of the collector. */
  url: string;
  /** Extra request headers, e.g. `{ authorization: 'Splunk …' }`. */
  headers: Record<string, string>;
  /** PEM CA bundle to trust for an https: collector with a private CA. */
  ca: string | undefined;
  /** Most events held while the collector is slow or down. */
  maxQueue: number;
  /** Most bytes held (sum of line lengths). */
  maxQueueBytes: number;
  requestTimeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  logger: SinkLogger | undefined;
}

export function defaultWebhookSinkOptions(): Omit<WebhookSinkOptions, 'url'> {
  return {
    headers: {},
    ca: undefined,
    maxQueue: 10_000,
    maxQueueBytes: 16 * 1024 * 1024,
    requestTimeoutMs: 5_000,
    retryBaseMs: 250,
    retryMaxMs: 30_000,
    logger: undefined,
  };
}

export function validateWebhookSinkOptions(options: WebhookSinkOptions): void {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new LatchError(ErrorCode.CONFIG, 'audit webhook url is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new LatchError(ErrorCode.CONFIG, `audit webhook url must be http: or https:, got ${url.protocol}`);
  }
  const positive: (keyof WebhookSinkOptions)[] = ['maxQueue', 'maxQueueBytes', 'requestTimeoutMs', 'retryBaseMs', 'retryMaxMs'];
  for (const key of positive) {
    const v = options[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new LatchError(ErrorCode.CONFIG, `audit webhook ${key} must be a positive number`);
    }
  }
  if (options.retryMaxMs < options.retryBaseMs) throw new LatchError(ErrorCode.CONFIG, 'audit webhook retryMaxMs must be ≥ retryBaseMs');
}

export interface WebhookSinkStats extends AuditSinkStats {
  /** Attempts that failed and were (or would have been) retried. */
  failedAttempts: number;
  /** Events the collector refused for good (4xx other than 408/429). */
  rejected: number;
  /** The error code or HTTP status of the last failure, for `latch-proxy` diagnostics. */
  lastError: string | undefined;
}

interface Item {
  line: string;
  seq: number;
  bytes: number;
}

type Outcome = { kind: 'ok' } | { kind: 'retry'; error: string; retryAfterMs?: number } | { kind: 'reject'; error: string };

/** A FIFO with O(1) push and shift (Array#shift is O(n) on large arrays). */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head++;
    // Compact once the consumed prefix dominates, keeping memory proportional to the content.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

export class WebhookSink implements AuditSink {
  readonly name = 'webhook';
  readonly #options: WebhookSinkOptions;
  readonly #url: URL;
  readonly #agent: http.Agent;
  readonly #queue = new Fifo<Item>();
  #queuedBytes = 0;
  /** The event being posted or waiting for its retry; not counted in #queue. */
  #current: Item | undefined;
  #attempt = 0;
  #pumping = false;
  #closed = false;
  #stopped = false;
  #request: http.ClientRequest | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #wakeRetry: (() => void) | undefined;
  #idleWaiters: (() => void)[] = [];
  #delivered = 0;
  #dropped = 0;
  #rejected = 0;
  #failedAttempts = 0;
  #lastError: string | undefined;

  constructor(options: Partial<WebhookSinkOptions> & { url: string }) {
    this.#options = { ...defaultWebhookSinkOptions(), ...options };
    validateWebhookSinkOptions(this.#options);
    this.#url = new URL(this.#options.url);
    const agentOptions = { keepAlive: true, maxSockets: 1 };
    this.#agent = this.#url.protocol === 'https:'
      ? new https.Agent(this.#options.ca === undefined ? agentOptions : { ...agentOptions, ca: this.#options.ca })
      : new http.Agent(agentOptions);
  }

  write(line: string, seq: number): void {
    if (this.#closed) {
      this.#dropped++;
      return;
    }
    const item: Item = { line, seq, bytes: Buffer.byteLength(line) };
    this.#queue.push(item);
    this.#queuedBytes += item.bytes;
    while (this.#queue.length > this.#options.maxQueue || (this.#queuedBytes > this.#options.maxQueueBytes && this.#queue.length > 1)) {
      const old = this.#queue.shift();
      if (old) this.#queuedBytes -= old.bytes;
      this.#dropped++;
    }
    if (!this.#pumping) {
      this.#pumping = true;
      // Deliver after the current tick: the caller's event path is never slowed by I/O set-up.
      setImmediate(() => void this.#pump());
    }
  }

  stats(): WebhookSinkStats {
    return {
      queued: this.#queue.length + (this.#current ? 1 : 0),
      delivered: this.#delivered,
      dropped: this.#dropped,
      failedAttempts: this.#failedAttempts,
      rejected: this.#rejected,
      lastError: this.#lastError,
    };
  }

  /** Stops accepting events, delivers what is queued until the deadline, then drops the rest. */
  async close(deadlineMs: number): Promise<void> {
    this.#closed = true;
    if (!this.#stopped && (this.#current || this.#queue.length > 0)) {
      // A referenced timer: the process stays up for the flush even if nothing else holds it.
      let deadline: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#idleWaiters.push(resolve);
        deadline = setTimeout(resolve, Math.max(0, deadlineMs));
      });
      clearTimeout(deadline);
    }
    this.#stop();
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const left = this.#queue.length + (this.#current ? 1 : 0);
    this.#dropped += left;
    if (left > 0) this.#options.logger?.warn('audit.webhook.undelivered', { events: left });
    this.#queue.clear();
    this.#queuedBytes = 0;
    this.#current = undefined;
    clearTimeout(this.#retryTimer);
    this.#wakeRetry?.();
    this.#request?.destroy();
    this.#agent.destroy();
    this.#notifyIdle();
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  async #pump(): Promise<void> {
    try {
      while (!this.#stopped) {
        if (!this.#current) {
          this.#current = this.#queue.shift();
          if (!this.#current) break;
          this.#queuedBytes -= this.#current.bytes;
          this.#attempt = 0;
        }
        const item = this.#current;
        this.#attempt++;
        const outcome = await this.#post(item);
        if (this.#stopped) break;
        if (outcome.kind === 'ok') {
          this.#delivered++;
          this.#current = undefined;
          continue;
        }
        this.#lastError = outcome.error;
        if (outcome.kind === 'reject') {
          this.#rejected++;
          this.#dropped++;
          this.#current = undefined;
          this.#options.logger?.warn('audit.webhook.rejected', { seq: item.seq, error: outcome.error });
          continue;
        }
        this.#failedAttempts++;
        if (this.#attempt === 1) this.#options.logger?.warn('audit.webhook.retrying', { seq: item.seq, error: outcome.error });
        await this.#sleep(this.#backoff(outcome.retryAfterMs));
      }
    } catch (err) {
      // #post never rejects; this is a last guard so the queue cannot wedge silently.
      this.#lastError = err instanceof Error ? err.message : String(err);
    } finally {
      this.#pumping = false;
      if (!this.#stopped && (this.#current || this.#queue.length > 0)) {
        this.#pumping = true;
        setImmediate(() => void this.#pump());
      } else {
        this.#notifyIdle();
      }
    }
  }

  #backoff(retryAfterMs: number | undefined): number {
    const exp = Math.min(this.#options.retryMaxMs, this.#options.retryBaseMs * 2 ** Math.min(30, this.#attempt - 1));
    const jittered = exp * (0.5 + Math.random() * 0.5);
    return retryAfterMs === undefined ? jittered : Math.max(jittered, Math.min(retryAfterMs, this.#options.retryMaxMs));
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wakeRetry = resolve;
      this.#retryTimer = setTimeout(resolve, ms);
      // Waiting to retry must not keep an otherwise finished process alive; close() holds it.
      this.#retryTimer.unref();
    });
  }

  #post(item: Item): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let settled = false;
      const settle = (o: Outcome): void => {
        if (settled) return;
        settled = true;
        this.#request = undefined;
        resolve(o);
      };
      const mod = this.#url.protocol === 'https:' ? https : http;
      let req: http.ClientRequest;
      try {
        req = mod.request(this.#url, {
          method: 'POST',
          agent: this.#agent,
          headers: {
            ...this.#options.headers,
            'content-type': 'application/json',
            'content-length': item.bytes,
            'x-latch-audit-seq': String(item.seq),
          },
        });
      } catch (err) {
        settle({ kind: 'retry', error: err instanceof Error ? err.message : String(err) });
        return;
      }
      this.#request = req;
      req.setTimeout(this.#options.requestTimeoutMs, () => {
        req.destroy(new Error(`no answer within ${this.#options.requestTimeoutMs} ms`));
      });
      req.on('socket', (socket) => {
        socket.setNoDelay(true);
      });
      req.on('error', (err) => {
        settle({ kind: 'retry', error: (err as NodeJS.ErrnoException).code ?? err.message });
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        // Read and discard the body so the keep-alive socket is reusable.
        res.resume();
        res.on('error', () => settle({ kind: 'retry', error: 'response aborted' }));
        res.on('end', () => {
          if (status >= 200 && status < 300) {
            settle({ kind: 'ok' });
          } else if (status === 408 || status === 429 || status >= 500) {
            const retryAfter = parseRetryAfter(res.headers['retry-after']);
            settle(retryAfter === undefined ? { kind: 'retry', error: `HTTP ${status}` } : { kind: 'retry', error: `HTTP ${status}`, retryAfterMs: retryAfter });
          } else {
            settle({ kind: 'reject', error: `HTTP ${status}` });
          }
        });
      });
      req.end(item.line);
    });
  }
}

/** Retry-After as delay-seconds (RFC 9110 §10.2.3); an HTTP-date is ignored (clock skew). */
function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,6}$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}
