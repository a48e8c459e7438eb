// The Latch path, built from the real parts exactly as a user runs them: `latch-proxy init`,
// `user add` and `serve` (WSS with mutual TLS on an ephemeral loopback port) as processes, then
// `latch login` and `latch connect sink echo` (the terminal client, its key and certificate in
// the Secret Service) as processes. Both resources point at the bench's target servers.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { type Children, cpuSeconds, currentRss, peakRss } from './Children.ts';
import type { BenchPath, TargetPorts } from './BenchPath.ts';
import type { Endpoint } from './loadgen.ts';

export interface LatchPathOptions {
  /** Repository root (bin/latch.js and bin/latch-proxy.js live under it). */
  root: string;
  /** Scratch directory for the proxy's data and the client's profile. */
  dir: string;
  /** When set, the proxy and the client run with --cpu-prof and write their profiles here. */
  profileDir: string | null;
}

const USER = 'bench';
const PASSWORD = 'bench-password-not-secret';

export async function startLatchPath(children: Children, targets: TargetPorts, options: LatchPathOptions): Promise<BenchPath> {
  if (process.env.DBUS_SESSION_BUS_ADDRESS === undefined) {
    throw new Error('the Latch client keeps its credentials in a Secret Service and there is no session D-Bus: run the benchmark with `npm run bench`, which starts a private one');
  }
  const node = process.execPath;
  const proxyBin = join(options.root, 'bin', 'latch-proxy.js');
  const clientBin = join(options.root, 'bin', 'latch.js');
  const proxyDir = join(options.dir, 'proxy');
  const clientDir = join(options.dir, 'client');
  mkdirSync(clientDir, { recursive: true, mode: 0o700 });
  const profileFlags = (name: string): string[] =>
    options.profileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=${name}.${Date.now()}.cpuprofile`];

  const init = await children.run('latch-proxy init', node, [proxyBin, 'init', proxyDir, '--listen', '127.0.0.1:0'], { timeoutMs: 60_000 });
  const fingerprint = /CA fingerprint: (sha256:[0-9a-f]{64})/.exec(init.stdout)?.[1];
  if (fingerprint === undefined) throw new Error(`latch-proxy init printed no CA fingerprint: ${init.tail()}`);

  const configFile = join(proxyDir, 'latch-proxy.yaml');
  const config = parseDocument(readFileSync(configFile, 'utf8'));
  config.set('resources', [
    { id: 'sink', target: `127.0.0.1:${targets.sink}`, group: 'default' },
    { id: 'echo', target: `127.0.0.1:${targets.echo}`, group: 'default' },
  ]);
  writeFileSync(configFile, config.toString(), { mode: 0o600 });

  await children.run('latch-proxy user add', node, [proxyBin, 'user', 'add', USER, '--config', configFile], { input: `${PASSWORD}\n`, timeoutMs: 30_000 });
  const proxy = children.spawn('latch-proxy serve', node, [...profileFlags('proxy'), proxyBin, 'serve', '--config', configFile]);
  const url = (await proxy.waitFor(/listening on (https:\/\/\S+)/, 20_000))[1] ?? '';

  const env = { ...process.env, LATCH_CONFIG_DIR: clientDir };
  await children.run('latch login', node, [clientBin, 'login', '--proxy', url, '--ca-fingerprint', fingerprint, '--user', USER], {
    env,
    input: `${PASSWORD}\n`,
    timeoutMs: 60_000,
  });
  const client = children.spawn('latch connect', node, [...profileFlags('client'), clientBin, 'connect', 'sink', 'echo', '--json'], { env });
  const listening = async (resource: string): Promise<Endpoint> => {
    const pattern = new RegExp(`^\\{"event":"listening","resource":"${resource}","host":"([0-9.]+)","port":(\\d+)\\}$`, 'm');
    const match = await client.waitFor(pattern, 30_000);
    return { host: match[1] ?? '', port: Number(match[2]) };
  };
  const sink = await listening('sink');
  const echo = await listening('echo');
  const clientStartRss = currentRss(client.pid);
  const proxyStartRss = currentRss(proxy.pid);

  return {
    name: 'latch',
    description: `latch: latch connect (client process) → WSS + mTLS → latch-proxy serve at ${url} → target`,
    sink,
    echo,
    memory: () => [
      { label: 'latch connect (client)', peakRssBytes: peakRss(client.pid), startRssBytes: clientStartRss },
      { label: 'latch-proxy serve', peakRssBytes: peakRss(proxy.pid), startRssBytes: proxyStartRss },
    ],
    relayCpuSeconds: () => cpuSeconds(client.pid) + cpuSeconds(proxy.pid),
    diagnostics: () => [`latch connect: ${client.describeExit()}: ${client.tail()}`, `latch-proxy serve: ${proxy.describeExit()}: ${proxy.tail()}`].join('\n'),
    stop: async () => {
      // SIGTERM lets both exit normally, which is also when --cpu-prof writes its file.
      await client.stop(10_000);
      await children.run('latch logout', node, [clientBin, 'logout'], { env, timeoutMs: 30_000 }).catch(() => {});
      await proxy.stop(10_000);
    },
  };
}
