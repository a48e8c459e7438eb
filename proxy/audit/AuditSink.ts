/**
 * Where audit lines go besides the chained file. A sink's write() is on the proxy's event path:
 * it must return at once, never throw for a delivery problem and never hold unbounded memory
 * (queue, drop the oldest, count the drops).
 */
export interface AuditSink {
  readonly name: string;
  /** `line` is the exact JSON of the file line (no newline); `seq` its chain position. */
  write(line: string, seq: number): void;
  /** Delivers what it still holds, giving up at the deadline; never rejects. */
  close(deadlineMs: number): Promise<void>;
  stats(): AuditSinkStats;
}

export interface AuditSinkStats {
  /** Lines accepted and not yet delivered. */
  queued: number;
  delivered: number;
  /** Lines lost: queue overflow, refused by the receiver, or undelivered at shutdown. */
  dropped: number;
}

/** The structural subset of proxy/logger.ts's Logger that sinks use for delivery problems. */
export interface SinkLogger {
  warn(event: string, fields?: Record<string, string | number | boolean | null | undefined>): void;
}
