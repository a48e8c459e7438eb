// The relay processes (`latch connect`, `latch-proxy serve`) restart themselves once, in place,
// with a larger initial V8 heap (bin/relayProcess.js): same PID, same arguments and stdio, and
// only for the relay commands. Checked on a fixture script and on a real `latch-proxy serve`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RELAY_V8_FLAGS } from '../bin/relayProcess.js';
import { startProxy } from './support/startProxy.ts';

const HELPER = pathToFileURL(join(import.meta.dirname, '..', 'bin', 'relayProcess.js')).href;
const work = mkdtempSync(join(tmpdir(), 'latch-relay-process-'));
const script = join(work, 'probe.mjs');
writeFileSync(
  script,
  `import { restartAsRelay } from ${JSON.stringify(HELPER)};
restartAsRelay(import.meta.filename, ['connect']);
process.stdout.write(JSON.stringify({ pid: process.pid, execArgv: process.execArgv, argv: process.argv.slice(2), marked: process.env.LATCH_RELAY_PROCESS ?? null }));`,
);

interface Probe {
  pid: number;
  execArgv: string[];
  argv: string[];
  marked: string | null;
}

/** Runs the probe; `pid` is the PID the parent started (to compare with the one that answered). */
function probe(args: string[], env: NodeJS.ProcessEnv = {}): Probe & { startedPid: number } {
  const res = spawnSync(process.execPath, ['--no-warnings', script, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, LATCH_GC_TUNING: '', LATCH_RELAY_PROCESS: '', ...env } });
  assert.equal(res.status, 0, res.stderr);
  return { ...(JSON.parse(res.stdout) as Probe), startedPid: res.pid ?? -1 };
}

test.after(() => rmSync(work, { recursive: true, force: true }));

void test('a relay command restarts in place with the heap flags, keeping PID, arguments and flags given', () => {
  const p = probe(['connect', 'redis', '--port', '6400']);
  assert.equal(p.pid, p.startedPid, 'same PID after the restart');
  for (const flag of RELAY_V8_FLAGS) assert.ok(p.execArgv.includes(flag), `${flag} in ${p.execArgv.join(' ')}`);
  assert.ok(p.execArgv.includes('--no-warnings'), 'the flags it was started with are kept');
  assert.deepEqual(p.argv, ['connect', 'redis', '--port', '6400']);
  assert.equal(p.marked, '1');
});

void test('other commands, and LATCH_GC_TUNING=0, run as started', () => {
  for (const p of [probe(['status']), probe([]), probe(['connect'], { LATCH_GC_TUNING: '0' })]) {
    assert.equal(p.pid, p.startedPid);
    assert.deepEqual(p.execArgv, ['--no-warnings']);
    assert.equal(p.marked, '');
  }
});

// startProxy waits for the "listening on" line: the restarted process is the one serving.
void test('latch-proxy serve runs with the relay heap flags under the PID that was started', async () => {
  const proxy = await startProxy({ resources: [] });
  try {
    const cmdline = readFileSync(`/proc/${proxy.child.pid}/cmdline`, 'utf8').split('\0');
    for (const flag of RELAY_V8_FLAGS) assert.ok(cmdline.includes(flag), cmdline.join(' '));
    assert.ok(cmdline.includes('serve'), cmdline.join(' '));
  } finally {
    await proxy.stop();
  }
});
