// `npm start`: a local demo of the whole path on this machine. It creates a proxy with embedded
// defaults in .latch-demo/, two demo resources on 127.0.0.1 (a small web page and an echo
// service), a demo user, signs the terminal client in with a one-time enrollment link and opens
// the tunnels. Ctrl-C signs out (wiping the keychain items) and stops everything it started.
// scripts/run.mjs runs this inside a private desktop session (its own D-Bus and keychain).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseDocument } from 'yaml';
import { launchDesktopApp } from '../main/electron/launchDesktopApp.ts';

const ROOT = join(import.meta.dirname, '..');
const DEMO = join(ROOT, '.latch-demo');
const PROXY_DIR = join(DEMO, 'proxy');
const CONFIG = join(PROXY_DIR, 'latch-proxy.yaml');
const PROXY_BIN = join(ROOT, 'bin', 'latch-proxy.js');
const CLIENT_BIN = join(ROOT, 'bin', 'latch.js');

const say = (text: string): void => void process.stdout.write(`${text}\n`);

function runTool(bin: string, args: string[], input?: string): string {
  const res = spawnSync(process.execPath, [bin, ...args], { input: input ?? '', encoding: 'utf8', timeout: 60_000, env: clientEnv() });
  if (res.status !== 0) throw new Error(`${args.join(' ')} failed:\n${res.stderr || res.stdout}`);
  return res.stdout;
}

function clientEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LATCH_CONFIG_DIR: join(DEMO, 'client') };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Resolves with the first stdout line of CHILD that matches PATTERN (bounded by a deadline). */
function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    if (!child.stdout) return reject(new Error('child has no stdout'));
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms`)), timeoutMs);
    lines.on('line', (text) => {
      const match = pattern.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before printing ${pattern}`));
    });
  });
}

const started: ChildProcess[] = [];
const servers: Server[] = [];

/** On a failure part-way, stop what this demo started (by its own child handles only). */
function stopAll(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  for (const server of servers) server.close();
}

async function main(): Promise<void> {

  // Demo resources: what a tunnel leads to.
  const web = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('Hello from behind Latch: this page came through the tunnel.\n');
  });
  const echo = createTcpServer((socket) => {
    socket.setNoDelay(true);
    socket.pipe(socket);
  });
  servers.push(web, echo);
  const webPort = await listen(web);
  const echoPort = await listen(echo);

  // A fresh proxy with embedded defaults, listening on an ephemeral loopback port.
  rmSync(DEMO, { recursive: true, force: true });
  runTool(PROXY_BIN, ['init', PROXY_DIR, '--listen', '127.0.0.1:0']);
  const doc = parseDocument(readFileSync(CONFIG, 'utf8'));
  // Short enough to watch the session engine at work: a warning after ~4 minutes without
  // input, renewable from the notification or with `r`.
  doc.set('groups', { staging: { idleTimeout: '5m', maxDuration: '8h', warnBefore: '1m' } });
  doc.set('resources', [
    { id: 'demo-web', target: `127.0.0.1:${webPort}`, group: 'staging' },
    { id: 'demo-echo', target: `127.0.0.1:${echoPort}`, group: 'staging' },
  ]);
  writeFileSync(CONFIG, doc.toString());
  runTool(PROXY_BIN, ['user', 'add', 'demo', '--config', CONFIG], `${randomBytes(12).toString('base64url')}\n`);

  // Own process groups: Ctrl-C reaches only this script, which then signs out in order.
  const proxy = spawn(process.execPath, [PROXY_BIN, 'serve', '--config', CONFIG], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env, detached: true });
  started.push(proxy);
  const [, proxyUrl] = await waitForLine(proxy, /listening on (https:\/\/\S+)/, 20_000);
  say(`proxy      ${proxyUrl ?? ''}`);

  // Enrollment links carry the address clients reach; the port was only known once serving.
  const withUrl = parseDocument(readFileSync(CONFIG, 'utf8'));
  withUrl.set('publicUrl', proxyUrl);
  writeFileSync(CONFIG, withUrl.toString());
  const enrollOut = runTool(PROXY_BIN, ['enroll', 'demo', '--config', CONFIG, '--ttl', '10m']);
  const link = /latch:\/\/enroll\?\S+/.exec(enrollOut)?.[0];
  if (!link) throw new Error(`enroll printed no link:\n${enrollOut}`);

  // The desktop app where Electron can run: it opens with the link filled in; else the terminal client.
  const desktop = launchDesktopApp({ root: ROOT, link, env: clientEnv() });
  if ('child' in desktop) {
    started.push(desktop.child);
    say('desktop app started: press Sign in in its window (the enrollment link is filled in). Ctrl-C stops the demo.');
    await new Promise<void>((resolve) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
      desktop.child.once('exit', () => resolve());
    });
    stopAll();
    return;
  }
  say(`desktop app not started: ${desktop.why}. Using the terminal client.`);
  process.stdout.write(runTool(CLIENT_BIN, ['login', link]));

  const client = spawn(process.execPath, [CLIENT_BIN, 'connect', 'demo-web', 'demo-echo'], { stdio: ['ignore', 'pipe', 'inherit'], env: clientEnv(), detached: true });
  started.push(client);
  // Show the client's own lines (listeners, warnings, the end reason) as they come.
  if (client.stdout) createInterface({ input: client.stdout }).on('line', say);
  const [, webAddress] = await waitForLine(client, /^demo-web\s+(\S+)/, 20_000);
  say(`\nTry it:   curl http://${webAddress ?? ''}/`);
  say('          (demo-echo echoes whatever you send: nc 127.0.0.1 PORT)');
  say('Press Ctrl-C to sign out and stop the demo.\n');

  const stop = async (): Promise<void> => {
    say('\nsigning out…');
    client.kill('SIGINT');
    await new Promise((resolve) => client.once('exit', resolve));
    spawnSync(process.execPath, [CLIENT_BIN, 'logout'], { stdio: 'inherit', env: clientEnv(), timeout: 30_000 });
    proxy.kill('SIGTERM');
    await new Promise((resolve) => proxy.once('exit', resolve));
    for (const server of servers) server.close();
  };
  // Ctrl-C may arrive more than once (the terminal and the npm wrapper both deliver it); keep
  // handling it so a repeat does not kill this script half-way through signing out.
  let stopping = false;
  await new Promise<void>((resolve) => {
    const onSignal = (): void => {
      if (!stopping) resolve();
      stopping = true;
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    client.once('exit', resolve);
  });
  stopping = true;
  await stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
  stopAll();
});
