// `ssh -L` through a loopback sshd that the benchmark starts itself: its own sshd_config, host
// key and authorized_keys in a temp dir, a fresh client key, an ephemeral port, the default
// cipher, running as the current user. One ssh process carries both forwards (sink and echo)
// over one SSH connection, as Latch carries both over one WebSocket.
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { type Children, cpuSeconds, descendants, peakRss } from './Children.ts';
import { type BenchPath, type TargetPorts, freePort, waitForPort } from './BenchPath.ts';

const SSHD = '/usr/sbin/sshd';

export async function startSshPath(children: Children, targets: TargetPorts, dir: string): Promise<BenchPath> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // sshd refuses to start without its privilege-separation directory.
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  await children.run('ssh-keygen (host)', 'ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'latch-bench-host', '-f', hostKey]);
  await children.run('ssh-keygen (client)', 'ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'latch-bench-client', '-f', clientKey]);
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, readFileSync(`${clientKey}.pub`), { mode: 0o600 });
  chmodSync(authorizedKeys, 0o600);

  const sshPort = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${sshPort}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PidFile none',
      'UsePAM no',
      // The temp dir's owner and modes are ours; StrictModes would judge the whole path.
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'AllowTcpForwarding local',
      'X11Forwarding no',
      'AllowAgentForwarding no',
      'PrintMotd no',
      'LogLevel INFO',
      '',
    ].join('\n'),
  );

  // sshd re-executes itself and so insists on an absolute path.
  const sshd = children.spawn('sshd', SSHD, ['-D', '-e', '-f', config]);
  await sshd.waitFor(/Server listening on 127\.0\.0\.1 port/, 10_000, 'stderr');

  const user = userInfo().username;
  const common = [
    '-F', '/dev/null',
    '-i', clientKey,
    '-p', String(sshPort),
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'StrictHostKeyChecking=no',
    '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
  ];

  // Which cipher did the default negotiation pick? Ask once, verbosely, on a throwaway session.
  const probe = await children.run('ssh (cipher probe)', 'ssh', [...common, '-v', `${user}@127.0.0.1`, 'true'], { timeoutMs: 15_000 });
  const cipher = /kex: client->server cipher: (\S+)/.exec(probe.stderr)?.[1] ?? 'unknown';

  const sinkPort = await freePort();
  const echoPort = await freePort();
  const ssh = children.spawn('ssh -L', 'ssh', [
    ...common,
    '-N',
    '-T',
    '-o', 'ExitOnForwardFailure=yes',
    '-o', 'LogLevel=ERROR',
    '-L', `127.0.0.1:${sinkPort}:127.0.0.1:${targets.sink}`,
    '-L', `127.0.0.1:${echoPort}:127.0.0.1:${targets.echo}`,
    `${user}@127.0.0.1`,
  ]);
  const sink = { host: '127.0.0.1', port: sinkPort };
  const echo = { host: '127.0.0.1', port: echoPort };
  await waitForPort(echo, 15_000, () => ssh.alive);
  await waitForPort(sink, 5_000, () => ssh.alive);

  return {
    name: 'ssh',
    description: `ssh -L: OpenSSH client → sshd on 127.0.0.1:${sshPort} (cipher ${cipher}, default) → target`,
    sink,
    echo,
    memory: () => {
      // sshd forks a process per connection; report the largest of them.
      const sessions = descendants(sshd.pid).map(peakRss).filter((v): v is number => v !== null);
      return [
        { label: 'ssh client', peakRssBytes: peakRss(ssh.pid) },
        { label: 'sshd (per-connection)', peakRssBytes: sessions.length > 0 ? Math.max(...sessions) : null },
      ];
    },
    relayCpuSeconds: () => [ssh.pid, sshd.pid, ...descendants(sshd.pid)].reduce((sum, pid) => sum + cpuSeconds(pid), 0),
    diagnostics: () => [`ssh: ${ssh.describeExit()}: ${ssh.tail()}`, `sshd: ${sshd.describeExit()}: ${sshd.tail()}`].join('\n'),
    stop: async () => {
      await ssh.stop();
      await sshd.stop();
    },
  };
}
