// The "node-tls" reference path: two plain Node TLS relays (bench/tlsRelay.ts) in front of the
// targets, nothing else — no WebSocket, no multiplexing, no sessions. It is the floor under any
// relay written on Node's TLS, Latch's included, measured in the same run as ssh -L so the
// table shows how much of Latch's gap to ssh is Node's TLS and how much is Latch.
//
// It opens one TLS connection per TCP connection (no multiplexing), so its 500-connection
// figure would mostly time 500 TLS handshakes: that measurement is skipped for this path.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// The V8 heap flags Latch's relay processes start with: the same for the floor.
import { RELAY_V8_FLAGS } from '../bin/relayProcess.js';
import { CertificateAuthority, createCa } from '../proxy/CertificateAuthority.ts';
import { type Children, cpuSeconds, peakRss } from './Children.ts';
import type { BenchPath, TargetPorts } from './BenchPath.ts';

const RELAY = join(import.meta.dirname, 'tlsRelay.ts');


export async function startNodeTlsPath(children: Children, targets: TargetPorts, dir: string): Promise<BenchPath> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = createCa('Latch bench node-tls CA');
  const server = new CertificateAuthority(ca).issueServerCertificate(['localhost']);
  const caFile = join(dir, 'ca.pem');
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server.key');
  writeFileSync(caFile, ca.certPem);
  writeFileSync(certFile, server.certPem);
  writeFileSync(keyFile, server.keyPem, { mode: 0o600 });

  const ports = async (child: ReturnType<Children['spawn']>): Promise<number[]> => {
    const match = await child.waitFor(/^(\{"ports":.*\})$/m, 15_000);
    return (JSON.parse(match[1] ?? '{}') as { ports: number[] }).ports;
  };
  const back = children.spawn('node-tls back', process.execPath, [...RELAY_V8_FLAGS, RELAY, 'back', JSON.stringify([targets.sink, targets.echo]), certFile, keyFile]);
  const [backSink, backEcho] = await ports(back);
  const front = children.spawn('node-tls front', process.execPath, [...RELAY_V8_FLAGS, RELAY, 'front', JSON.stringify([backSink, backEcho]), caFile]);
  const [sink, echo] = await ports(front);
  if (sink === undefined || echo === undefined) throw new Error('the node-tls relays did not report their ports');

  return {
    name: 'node-tls',
    description: 'node-tls: reference floor — two plain Node TLS relays (pipe(), TLS 1.3 AES-128-GCM, one TLS connection per TCP connection) → target',
    sink: { host: '127.0.0.1', port: sink },
    echo: { host: '127.0.0.1', port: echo },
    skips: ['concurrency'],
    memory: () => [
      { label: 'front relay', peakRssBytes: peakRss(front.pid) },
      { label: 'back relay', peakRssBytes: peakRss(back.pid) },
    ],
    relayCpuSeconds: () => cpuSeconds(front.pid) + cpuSeconds(back.pid),
    diagnostics: () => [`front: ${front.describeExit()}: ${front.tail()}`, `back: ${back.describeExit()}: ${back.tail()}`].join('\n'),
    stop: async () => {
      await front.stop();
      await back.stop();
    },
  };
}
