// A real latch-proxy process for the desktop tiers: init, an admin's config edit (one policy
// group with short timeouts, resources on loopback), a user, serve; stopped by its own PID.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const PROXY_BIN = join(ROOT, 'bin', 'latch-proxy.js');

export interface ProxyFixture {
  url: string;
  fingerprint: string;
  /** A fresh one-time `latch://enroll?…` link for `user`. */
  enroll(user: string): string;
  stop(): Promise<void>;
}

export interface ProxyFixtureOptions {
  resources: Array<{ id: string; target: string }>;
  /** The policy of the one group every resource belongs to, e.g. { idleTimeout: '12s', warnBefore: '4s' }. */
  policy: Record<string, string | number>;
  user: { name: string; password: string };
}

function cli(args: string[], input = ''): string {
  const res = spawnSync(process.execPath, [PROXY_BIN, ...args], { cwd: ROOT, input, encoding: 'utf8', timeout: 30_000 });
  if (res.status !== 0) throw new Error(`latch-proxy ${args[0] ?? ''} failed (${res.status ?? res.signal}): ${res.stderr}`);
  return res.stdout;
}

export async function startProxyFixture(options: ProxyFixtureOptions): Promise<ProxyFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'latch-desktop-proxy-'));
  const config = join(dir, 'latch-proxy.yaml');
  cli(['init', dir, '--listen', '127.0.0.1:0', '--force']);
  const doc = parseDocument(readFileSync(config, 'utf8'));
  // The default group too: a session is bound by it until it opens a resource.
  doc.set('groups', { default: { ...options.policy }, desktop: { ...options.policy } });
  doc.set('resources', options.resources.map((r) => ({ ...r, group: 'desktop' })));
  writeFileSync(config, doc.toString());
  cli(['user', 'add', options.user.name, '--config', config], `${options.user.password}\n`);

  const child: ChildProcess = spawn(process.execPath, [PROXY_BIN, 'serve', '--config', config], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const { url, fingerprint } = await new Promise<{ url: string; fingerprint: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`latch-proxy serve did not start within 20 s: ${out}${err}`)), 20_000);
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const u = /listening on (https:\/\/\S+)/.exec(out)?.[1];
      const f = /CA fingerprint: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
      if (u !== undefined && f !== undefined) {
        clearTimeout(timer);
        resolve({ url: u, fingerprint: f });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`latch-proxy serve exited (${code}): ${err}`));
    });
  });
  // Enrollment links carry the address clients reach, known only once serving.
  const withUrl = parseDocument(readFileSync(config, 'utf8'));
  withUrl.set('publicUrl', url);
  writeFileSync(config, withUrl.toString());

  return {
    url,
    fingerprint,
    enroll(user) {
      const link = /latch:\/\/enroll\?\S+/.exec(cli(['enroll', user, '--config', config, '--ttl', '10m']))?.[0];
      if (link === undefined) throw new Error('latch-proxy enroll printed no link');
      return link;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
