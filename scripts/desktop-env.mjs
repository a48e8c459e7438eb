// A private desktop session for tests, the demo and the benchmark: its own HOME, a session
// D-Bus, gnome-keyring's Secret Service, an Xvfb display and the dunst notification daemon.
// Nothing touches the user's real session; everything started here is stopped by PID.
// Plain JavaScript on purpose: it runs on whatever Node launched `npm test` (even 20).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DUNSTRC, privateBusConfig, privateHomeEnv } from './desktopConfig.mjs';

const KEYRING_PASSWORD = 'latch-test-keyring';

/**
 * @param {{ keyring?: boolean, display?: boolean, notifications?: boolean, log?: (line: string) => void }} options
 * @returns {Promise<{ env: Record<string, string>, root: string, pids: number[], stop: () => Promise<void> }>}
 */
export async function startDesktopEnv(options = {}) {
  const { keyring = true, display = true, notifications = display } = options;
  const log = options.log ?? (() => {});
  const root = mkdtempSync(join(tmpdir(), 'latch-env-'));
  const home = join(root, 'home');
  const runtime = join(root, 'run');
  mkdirSync(home, { recursive: true });
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  chmodSync(runtime, 0o700);

  /** @type {Array<{ pid: number, name: string }>} */
  const started = [];
  /** @type {import('node:child_process').ChildProcess[]} */
  const children = [];
  const env = { ...process.env, ...privateHomeEnv(home, runtime) };
  delete env.DBUS_SESSION_BUS_ADDRESS;
  delete env.DISPLAY;

  const stop = async () => {
    for (const { pid, name } of started.reverse()) {
      try {
        process.kill(pid, 'SIGTERM');
        log(`stopped ${name} (pid ${pid})`);
      } catch {
        // already gone
      }
    }
    // Give them a moment, then make sure; only the PIDs recorded above.
    await sleep(100);
    for (const { pid } of started) {
      try {
        process.kill(pid, 0);
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    started.length = 0;
    rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  };

  try {
    if (keyring || notifications) {
      // Our own bus config with no service directories: nothing is auto-started behind our
      // back, so every process on this bus is one we started and stop by PID.
      const busConfig = join(root, 'bus.conf');
      writeFileSync(busConfig, privateBusConfig('unix:tmpdir=/tmp'));
      const out = execFileSync('dbus-daemon', [`--config-file=${busConfig}`, '--fork', '--print-address=1', '--print-pid=1', '--nosyslog'], { env, encoding: 'utf8', timeout: 10_000 });
      const [address, pidText] = out.trim().split('\n');
      if (!address || !pidText) throw new Error(`dbus-daemon printed no address: ${out}`);
      started.push({ pid: Number(pidText), name: 'dbus-daemon' });
      env.DBUS_SESSION_BUS_ADDRESS = address;
      log(`dbus-daemon ${address}`);
    }
    if (display) {
      const xvfb = await startXvfb(env);
      children.push(xvfb.child);
      started.push({ pid: /** @type {number} */ (xvfb.child.pid), name: 'Xvfb' });
      env.DISPLAY = xvfb.display;
      log(`Xvfb on ${xvfb.display}`);
    }
    if (keyring) {
      // setsid: the daemon must not share our process group, or a Ctrl-C at the terminal would
      // stop the keychain before the demo has signed out and wiped.
      const res = spawnSync('setsid', ['gnome-keyring-daemon', '--unlock', '--components=secrets'], { env, input: KEYRING_PASSWORD, encoding: 'utf8', timeout: 10_000 });
      if (res.status !== 0) throw new Error(`gnome-keyring-daemon failed: ${res.stderr}`);
      // The daemon forks before it owns the name: poll for it, then record its PID from the bus.
      const pid = await waitForBusName(env, 'org.freedesktop.secrets', 5_000);
      started.push({ pid, name: 'gnome-keyring-daemon' });
      log(`gnome-keyring-daemon pid ${pid}`);
    }
    if (notifications) {
      const rc = join(root, 'dunstrc');
      writeFileSync(rc, DUNSTRC);
      const dunst = spawn('dunst', ['-config', rc], { env, stdio: 'ignore', detached: true });
      children.push(dunst);
      started.push({ pid: /** @type {number} */ (dunst.pid), name: 'dunst' });
      await waitForBusName(env, 'org.freedesktop.Notifications', 5_000);
      log('dunst owns org.freedesktop.Notifications');
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { env: /** @type {Record<string, string>} */ (env), root, pids: started.map((s) => s.pid), stop };
}

/** @param {NodeJS.ProcessEnv} env */
async function startXvfb(env) {
  // -displayfd lets the server pick a free display and tell us which (no races on numbers).
  const child = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], { env, stdio: ['ignore', 'ignore', 'ignore', 'pipe'], detached: true });
  const fd = /** @type {import('node:stream').Readable} */ (child.stdio[3]);
  const display = await new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('Xvfb did not report a display within 10 s')), 10_000);
    fd.on('data', (chunk) => {
      text += chunk.toString();
      if (text.includes('\n')) {
        clearTimeout(timer);
        resolve(`:${text.trim()}`);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Xvfb exited with ${code}`));
    });
  });
  return { child, display: /** @type {string} */ (display) };
}

/**
 * Polls the session bus until NAME has an owner; returns the owner's PID.
 * @param {NodeJS.ProcessEnv} env @param {string} name @param {number} timeoutMs
 */
export async function waitForBusName(env, name, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 500 && Date.now() < deadline; attempt++) {
    const res = spawnSync('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.GetConnectionUnixProcessID', `string:${name}`], { env, encoding: 'utf8', timeout: 2_000 });
    const match = /uint32 (\d+)/.exec(res.stdout ?? '');
    if (res.status === 0 && match) return Number(match[1]);
    await sleep(20);
  }
  throw new Error(`${name} did not appear on the session bus within ${timeoutMs} ms`);
}
