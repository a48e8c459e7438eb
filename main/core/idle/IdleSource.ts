/**
 * How long the person at this machine has been away, as the OS sees it. The session engine polls
 * an IdleSource about once a second and reports `idleMs` to the proxy (DESIGN.md, "Session
 * semantics"). Implementations live in the hosts (main/cli/idle, main/electron); `none` lives here.
 */
export interface IdleSample {
  /** Milliseconds since the last keyboard or pointer input (or explicit renew, for `none`). */
  idleMs: number;
  /**
   * The screen is locked. A locked screen counts as not present: the engine treats it as idle
   * (policy `onLock: idle`) or ends the session (`onLock: end`). False also means "unknown" on
   * hosts that cannot tell; their idle time still grows while locked, as no input arrives.
   */
  locked: boolean;
}

export interface IdleSource {
  /** Which implementation this is, for `latch status` and logs: 'x11', 'mutter', 'macos', 'windows', 'none'. */
  readonly kind: string;
  /**
   * One reading. Rejects with LatchError IDLE_SAMPLE_FAILED when the OS could not be asked (helper
   * missing, timed out, unparsable output) — never resolves a made-up "0 idle", which would keep a
   * session alive for nobody. Rejects with IDLE_SAMPLE_FAILED after close().
   */
  sample(): Promise<IdleSample>;
  /** Releases helpers (child processes, bus connections). Idempotent. */
  close(): void;
}

export const IdleSourceKind = {
  AUTO: 'auto',
  X11: 'x11',
  MUTTER: 'mutter',
  MACOS: 'macos',
  WINDOWS: 'windows',
  NONE: 'none',
} as const;

export type IdleSourceKind = (typeof IdleSourceKind)[keyof typeof IdleSourceKind];

const kinds: ReadonlySet<string> = new Set(Object.values(IdleSourceKind));

export function isIdleSourceKind(value: unknown): value is IdleSourceKind {
  return typeof value === 'string' && kinds.has(value);
}
