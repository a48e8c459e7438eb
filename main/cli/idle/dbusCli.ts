import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findExecutable } from './findExecutable.ts';
import { runCommand, type RunCommandResult } from './runCommand.ts';
import type { CommandRunner } from './CommandLoop.ts';

/**
 * Session-bus method calls through a command-line client: `gdbus` (Debian libglib2.0-bin) or
 * `dbus-send` (Debian dbus), whichever is installed. Used for the few polled queries of the idle
 * sources (Mutter's idle time, screensaver lock); the notifier, which needs signals, keeps a
 * connection of its own.
 */
export const DbusTool = { GDBUS: 'gdbus', DBUS_SEND: 'dbus-send' } as const;
export type DbusTool = (typeof DbusTool)[keyof typeof DbusTool];

export interface DbusMethodCall {
  dest: string;
  path: string;
  /** interface.Member, e.g. 'org.gnome.Mutter.IdleMonitor.GetIdletime'. */
  method: string;
  /** String arguments only: all our queries need. */
  args?: readonly string[];
}

/** gdbus first (its replies are easier to read), else dbus-send, else undefined. */
export function findDbusTool(env: NodeJS.ProcessEnv): DbusTool | undefined {
  if (findExecutable('gdbus', env)) return DbusTool.GDBUS;
  if (findExecutable('dbus-send', env)) return DbusTool.DBUS_SEND;
  return undefined;
}

/**
 * Whether a session bus can be found the way libdbus and GLib look for one: the variable, or the
 * systemd user bus socket under XDG_RUNTIME_DIR.
 */
export function hasSessionBus(env: NodeJS.ProcessEnv): boolean {
  if (env.DBUS_SESSION_BUS_ADDRESS) return true;
  return env.XDG_RUNTIME_DIR !== undefined && env.XDG_RUNTIME_DIR !== '' && existsSync(join(env.XDG_RUNTIME_DIR, 'bus'));
}

export function dbusCallArgs(tool: DbusTool, call: DbusMethodCall): string[] {
  const args = call.args ?? [];
  if (tool === DbusTool.GDBUS) {
    // GVariant text: a quoted string is a string whatever its content.
    return ['call', '--session', '--dest', call.dest, '--object-path', call.path, '--method', call.method, ...args.map(gvariantString)];
  }
  return ['--session', '--print-reply', `--dest=${call.dest}`, call.path, call.method, ...args.map((a) => `string:${a}`)];
}

export function dbusCall(tool: DbusTool, call: DbusMethodCall, env: NodeJS.ProcessEnv, timeoutMs: number, run: CommandRunner = runCommand): Promise<RunCommandResult> {
  return run(tool, dbusCallArgs(tool, call), { env, timeoutMs });
}

/** The D-Bus error name a failed call printed (both tools print it), e.g. 'org.freedesktop.DBus.Error.ServiceUnknown'. */
export function dbusErrorName(stderr: string): string | undefined {
  return /\b(org\.freedesktop\.DBus\.Error\.[A-Za-z]+)/.exec(stderr)?.[1];
}

/** First unsigned integer of a reply: gdbus `(uint64 1234,)`, dbus-send `   uint64 1234`. */
export function parseDbusUint(stdout: string): number | undefined {
  const match = /\b(?:uint64|uint32)\s+(\d+)\b/.exec(stdout);
  if (!match?.[1]) return undefined;
  const value = Number(match[1]);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** First boolean of a reply: gdbus `(true,)`, dbus-send `   boolean true`. */
export function parseDbusBool(stdout: string): boolean | undefined {
  const match = /^\((true|false),\)\s*$/m.exec(stdout) ?? /^\s*boolean (true|false)\s*$/m.exec(stdout);
  if (!match) return undefined;
  return match[1] === 'true';
}

export function gvariantString(value: string): string {
  let out = "'";
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === "'" || ch === '\\') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}'`;
}
