// A private desktop session for tests, the demo and the benchmark: its own HOME, a session
// D-Bus, gnome-keyring's Secret Service, an Xvfb display and the dunst notification daemon.
// Nothing touches the user's real session; everything started here is stopped by PID.
// Plain JavaScript on purpose: it runs on whatever Node launched `npm test` (even 20).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, chmodSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DUNSTRC, privateBusConfig, privateHomeEnv } from './desktopConfig.mjs';

const KEYRING_PASSWORD = 'latch-test-keyring';
/**
 * gnome-keyring-daemon has a known crash (GNOME/gnome-keyring#196, #199: a Secret Service request
 * whose client record is already gone ends in a fatal GLib assertion). Seen here about once in
 * ten test runs, with many short-lived clients on one daemon. It is restarted on the same bus, at
 * most this many times, so one crash does not take the keychain away from the rest of the run.
 */
const KEYRING_RESTARTS = 3;
/** Lines of the daemon's own output shown when it ends unexpectedly. */
const KEYRING_LOG_LINES = 20;

/**
 * @param {{ keyring?: boolean, display?: boolean, notifications?: boolean, log?: (line: string) => void, warn?: (line: string) => void }} options
 * @returns {Promise<{ env: Record<string, string>, root: string, pids: number[], stop: () => Promise<void> }>}
 */
export async function startDesktopEnv(options = {}) {
  const { keyring = true, display = true, notifications = display } = options;
  const log = options.log ?? (() => {});
  // Always shown, even where progress lines are not: a daemon that died under the tests.
  const warn = options.warn ?? ((line) => process.stderr.write(`[latch] ${line}\n`));
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

  let stopping = false;
  const stop = async () => {
    stopping = true;
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
      const logFile = join(root, 'gnome-keyring.log');
      const entry = { pid: 0, name: 'gnome-keyring-daemon' };
      let restarts = 0;
      /** @param {import('node:child_process').ChildProcess} child */
      const watch = (child) => {
        child.once('exit', (code, signal) => {
          if (stopping) return;
          warn(`gnome-keyring-daemon (pid ${child.pid}) ended unexpectedly (${signal ?? `exit code ${code}`}); its last output:\n${tail(logFile, KEYRING_LOG_LINES)}`);
          if (restarts >= KEYRING_RESTARTS) {
            warn(`gnome-keyring-daemon restarted ${restarts} times already: not again`);
            return;
          }
          restarts += 1;
          startKeyring(env, logFile).then(
            (next) => {
              if (stopping) {
                next.kill('SIGTERM');
                return;
              }
              entry.pid = /** @type {number} */ (next.pid);
              watch(next);
              warn(`gnome-keyring-daemon restarted (pid ${next.pid}); the login keyring is the same file, unlocked again`);
            },
            (err) => warn(`gnome-keyring-daemon could not be restarted: ${err instanceof Error ? err.message : String(err)}`),
          );
        });
      };
      const child = await startKeyring(env, logFile);
      entry.pid = /** @type {number} */ (child.pid);
      started.push(entry);
      watch(child);
      log(`gnome-keyring-daemon pid ${child.pid}`);
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
  return {
    env: /** @type {Record<string, string>} */ (env),
    root,
    // A getter: a restarted keyring has a new PID.
    get pids() {
      return started.map((s) => s.pid);
    },
    stop,
  };
}

/**
 * gnome-keyring's Secret Service, unlocked with KEYRING_PASSWORD, as our own child (so its PID is
 * known at once and its end is seen) in a session of its own: a Ctrl-C at the terminal must not
 * stop the keychain before the demo has signed out and wiped. Its output goes to LOGFILE.
 * @param {NodeJS.ProcessEnv} env @param {string} logFile
 * @returns {Promise<import('node:child_process').ChildProcess>}
 */
async function startKeyring(env, logFile) {
  const out = openSync(logFile, 'a');
  let child;
  try {
    // cwd: the private root, where a core dump of a crash would land (never the checkout).
    child = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], { env, cwd: dirname(logFile), stdio: ['pipe', out, out], detached: true });
  } finally {
    closeSync(out);
  }
  child.stdin?.end(KEYRING_PASSWORD);
  const exited = new Promise((_, reject) => child.once('exit', (code, signal) => reject(new Error(`gnome-keyring-daemon exited at start (${signal ?? `exit code ${code}`}): ${tail(logFile, KEYRING_LOG_LINES)}`))));
  exited.catch(() => {});
  try {
    // After a crash the bus may still name the dead daemon for a moment: wait for ours.
    await Promise.race([waitForBusName(env, 'org.freedesktop.secrets', 5_000, child.pid), exited]);
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
  return child;
}

/** The last LINES lines of FILE, indented; a note when it cannot be read. @param {string} file @param {number} lines */
function tail(file, lines) {
  try {
    const text = readFileSync(file, 'utf8').trimEnd();
    return text === '' ? '    (no output)' : text.split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
  } catch (err) {
    return `    (cannot read ${file}: ${err instanceof Error ? err.message : String(err)})`;
  }
}

/** @param {NodeJS.ProcessEnv} env */
async function startXvfb(env) {
  // -displayfd lets the server pick a free display and tell us which (no races on numbers).
  // -noreset: without it the server resets whenever its last client leaves (before dunst
  // connects, or while dunst restarts), and a client arriving then is refused.
  const child = spawn('Xvfb', ['-displayfd', '3', '-noreset', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], { env, stdio: ['ignore', 'ignore', 'ignore', 'pipe'], detached: true });
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
 * Polls the session bus until NAME has an owner (the process PID, when given); returns the
 * owner's PID.
 * @param {NodeJS.ProcessEnv} env @param {string} name @param {number} timeoutMs @param {number} [pid]
 */
export async function waitForBusName(env, name, timeoutMs, pid) {
  const deadline = Date.now() + timeoutMs;
  let owner;
  for (let attempt = 0; attempt < 500 && Date.now() < deadline; attempt++) {
    const res = spawnSync('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.GetConnectionUnixProcessID', `string:${name}`], { env, encoding: 'utf8', timeout: 2_000 });
    const match = /uint32 (\d+)/.exec(res.stdout ?? '');
    if (res.status === 0 && match) {
      owner = Number(match[1]);
      if (pid === undefined || owner === pid) return owner;
    }
    await sleep(20);
  }
  throw new Error(owner === undefined ? `${name} did not appear on the session bus within ${timeoutMs} ms` : `${name} is owned by PID ${owner}, not ${pid} (waited ${timeoutMs} ms)`);
}
