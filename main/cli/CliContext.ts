import type { Readable, Writable } from 'node:stream';
import type { CredentialStore } from '../core/CredentialStore.ts';
import type { ProfileStore } from '../core/Profile.ts';

/** What a command needs from its host process; tests and other hosts pass their own. */
export interface CliContext {
  env: NodeJS.ProcessEnv;
  stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  stdout: Writable;
  stderr: Writable;
  store: CredentialStore;
  profiles: ProfileStore;
  now: () => number;
  /** Resolves with the signal when the user asks to stop (SIGINT, SIGTERM). */
  interrupted: Promise<string>;
}

export function line(stream: Writable, text: string): void {
  stream.write(`${text}\n`);
}

/** A wall-clock time for display: local time, to the minute, with the zone offset. */
export function formatClock(epochMs: number): string {
  const d = new Date(epochMs);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
}
