#!/usr/bin/env node
// The one entry behind `npm start`, `npm test` and `npm run bench`. It does its own set-up so
// a newcomer types nothing else: npm dependencies (with the pinned Node 24), the Debian
// packages the job needs (installed when running as root, otherwise named), a private desktop
// session (D-Bus, keychain, X display, notification daemon), then the job, then it stops what
// it started. Plain JavaScript: it must run on the machine's Node (20 here) before
// node_modules exists.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDesktopEnv } from './desktop-env.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const NODE = join(ROOT, 'node_modules', '.bin', 'node');

/** Debian packages per job: binary to look for → package that provides it. */
const BASE_PACKAGES = {
  'dbus-daemon': 'dbus',
  'dbus-launch': 'dbus-x11',
  'dbus-send': 'dbus',
  'gnome-keyring-daemon': 'gnome-keyring',
  'secret-tool': 'libsecret-tools',
  Xvfb: 'xvfb',
  xauth: 'xauth',
  xprintidle: 'xprintidle',
  xdotool: 'xdotool',
  dunst: 'dunst',
  dunstctl: 'dunst',
  'notify-send': 'libnotify-bin',
  gdbus: 'libglib2.0-bin',
};
const PACKAGES = {
  start: { ...BASE_PACKAGES },
  test: { ...BASE_PACKAGES, 'redis-server': 'redis-server', 'redis-cli': 'redis-tools', 'redis-benchmark': 'redis-tools', chromium: 'chromium', faketime: 'faketime', 'dbus-monitor': 'dbus' },
  bench: { ...BASE_PACKAGES, sshd: 'openssh-server', ssh: 'openssh-client', 'ssh-keygen': 'openssh-client' },
};

const log = (line) => process.stderr.write(`[latch] ${line}\n`);

function has(binary) {
  return spawnSync('sh', ['-c', `command -v ${binary} || test -x /usr/sbin/${binary}`], { stdio: 'ignore' }).status === 0;
}

function ensureSystemPackages(job) {
  const missing = [...new Set(Object.entries(PACKAGES[job]).filter(([bin]) => !has(bin)).map(([, pkg]) => pkg))];
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !has('apt-get')) {
    throw new Error(`missing system packages: ${missing.join(' ')}\n  install them with: sudo apt-get install -y ${missing.join(' ')}`);
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

function ensureNpmDependencies() {
  const marker = join(ROOT, 'node_modules', '.package-lock.json');
  const lock = join(ROOT, 'package-lock.json');
  const fresh = existsSync(marker) && existsSync(NODE) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
  if (fresh) return;
  log('installing npm dependencies (npm ci)');
  // The Electron binary comes from GitHub, which is out of reach on build machines; its types
  // and JS wrapper are all the type-check needs.
  run('npm', ['ci', '--no-audit', '--no-fund'], { env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1' } });
}

function run(command, args, options = {}) {
  const res = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', ...options });
  if (res.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${res.status ?? res.signal})`);
}

/** Runs a child to completion with the pinned Node's bin directory first on PATH. */
function runJob(command, args, env) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...env, PATH: `${join(ROOT, 'node_modules', '.bin')}:${env.PATH ?? ''}` },
    });
    const forward = (signal) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1));
    });
  });
}

const TEST_STEPS = [
  ['typecheck', ['npm', ['run', '--silent', 'typecheck']]],
  ['lint', ['npm', ['run', '--silent', 'lint']]],
  // Unit tests live next to the code, suites under test/. One runner: node's.
  ['tests', [NODE, ['--test', '--test-timeout=240000', '--test-concurrency=2', 'common/**/*.test.ts', 'tunnel/**/*.test.ts', 'proxy/**/*.test.ts', 'main/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts']]],
];

async function main() {
  const job = process.argv[2];
  if (!job || !(job in PACKAGES)) {
    process.stderr.write('usage: node scripts/run.mjs start|test|bench\n');
    return 2;
  }
  ensureNpmDependencies();
  ensureSystemPackages(job);
  const userDisplay = process.env.DISPLAY;
  const desktop = await startDesktopEnv({ log: job === 'test' ? () => {} : log });
  // The demo's desktop window belongs on the person's own screen, not on the private Xvfb.
  if (job === 'start' && userDisplay) desktop.env.LATCH_USER_DISPLAY = userDisplay;
  const cleanup = () => desktop.stop();
  try {
    if (job === 'test') {
      for (const [name, [command, args]] of TEST_STEPS) {
        log(`${name}…`);
        const code = await runJob(command, args, desktop.env);
        if (code !== 0) {
          log(`${name} failed (exit ${code})`);
          return code;
        }
      }
      return 0;
    }
    if (job === 'bench') return await runJob(NODE, ['bench/run.ts', ...process.argv.slice(3)], desktop.env);
    return await runJob(NODE, ['scripts/demo.ts', ...process.argv.slice(3)], desktop.env);
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
