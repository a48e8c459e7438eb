import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand } from '../../main/cli/idle/runCommand.ts';
import { privateBusConfig } from '../../scripts/desktopConfig.mjs';
import { stopper } from './startXvfb.ts';

export interface DbusHandle {
  /** For DBUS_SESSION_BUS_ADDRESS. */
  address: string;
  /** PID of the daemon this call started; undefined when an existing bus was reused. */
  pid: number | undefined;
  /** Stops the daemon if this call started it (by its PID); a reused bus is left alone. */
  stop(): Promise<void>;
}

/**
 * A session bus for a test. By default reuses the one in DBUS_SESSION_BUS_ADDRESS (the test run's
 * scripts/desktop-env.mjs starts one with the keyring on it); `{ reuse: false }` always starts a
 * private dbus-daemon, for tests that need a bus nobody else uses (their own notification daemon).
 */
export async function startDbus(options: { reuse?: boolean; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<DbusHandle> {
  const env = options.env ?? process.env;
  const existing = env.DBUS_SESSION_BUS_ADDRESS;
  if ((options.reuse ?? true) && existing) return { address: existing, pid: undefined, stop: () => Promise.resolve() };
  const timeoutMs = options.timeoutMs ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'latch-dbus-'));
  const config = join(dir, 'bus.conf');
  // Nothing is D-Bus-activated on it; the socket lives in our own directory, removed on stop.
  writeFileSync(config, privateBusConfig(`unix:dir=${dir}`));
  // --nofork keeps the daemon our child, so its PID is ours to stop.
  const child = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--nosyslog', '--print-address=1'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  const stopChild = stopper(child);
  const stop = async () => {
    await stopChild();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dbus-daemon printed no address within ${timeoutMs} ms`)), timeoutMs);
      createInterface({ input: child.stdout }).once('line', (line) => {
        clearTimeout(timer);
        resolve(line.trim());
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`dbus-daemon exited with ${code ?? signal}`));
      });
    });
    return { address, pid: child.pid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Polls the bus at ADDRESS until NAME has an owner; returns the owner's PID. */
export async function waitForBusName(address: string, name: string, timeoutMs = 5_000): Promise<number> {
  const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: address };
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 1_000 && Date.now() < deadline; attempt++) {
    const res = await runCommand(
      'dbus-send',
      ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.GetConnectionUnixProcessID', `string:${name}`],
      { env, timeoutMs: 2_000 },
    );
    const pid = res.ok ? /uint32 (\d+)/.exec(res.stdout)?.[1] : undefined;
    if (pid) return Number(pid);
    await sleep(20);
  }
  throw new Error(`${name} did not appear on the bus ${address} within ${timeoutMs} ms`);
}
