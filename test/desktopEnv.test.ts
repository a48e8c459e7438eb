// scripts/desktop-env.mjs, the private desktop `npm test`, `npm start` and `npm run bench` run
// in: its gnome-keyring-daemon is our own child, and when it dies (it has a known crash, see
// KEYRING_RESTARTS there) it is restarted on the same bus with the same keyring file, and the
// death is reported with the daemon's last output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startDesktopEnv } from '../scripts/desktop-env.mjs';

const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

void test('a keyring daemon that crashes is reported and restarted with the same secrets; stop() ends the new one', async () => {
  const warnings: string[] = [];
  const d = await startDesktopEnv({ display: false, notifications: false, warn: (line: string) => warnings.push(line) });
  let firstPid = 0;
  let secondPid = 0;
  try {
    const env = d.env;
    await run('sh', ['-c', 'printf s3cret | secret-tool store --label=probe service latch-env-test account a'], { env, timeout: 10_000 });
    firstPid = d.pids.at(-1) ?? 0;
    assert.match((await run('ps', ['-o', 'comm=', '-p', String(firstPid)])).stdout, /gnome-keyring/);

    // What the known crash does: a fatal GLib assertion, SIGTRAP.
    process.kill(firstPid, 'SIGTRAP');
    const deadline = Date.now() + 10_000;
    while (!warnings.some((w) => w.includes('restarted (pid'))) {
      assert.ok(Date.now() < deadline, `no restart within 10 s; warnings: ${warnings.join('\n')}`);
      await sleep(50);
    }
    assert.match(warnings[0] ?? '', new RegExp(`gnome-keyring-daemon \\(pid ${firstPid}\\) ended unexpectedly \\(SIGTRAP\\)`));
    secondPid = d.pids.at(-1) ?? 0;
    assert.notEqual(secondPid, firstPid);
    const { stdout } = await run('secret-tool', ['lookup', 'service', 'latch-env-test', 'account', 'a'], { env, timeout: 10_000 });
    assert.equal(stdout, 's3cret', 'the restarted daemon serves the same login keyring, unlocked');
  } finally {
    await d.stop();
  }
  const alive = (): boolean => {
    try {
      process.kill(secondPid, 0);
      return true;
    } catch {
      return false;
    }
  };
  // Our child: gone once reaped, which happens as soon as this loop yields.
  for (const until = Date.now() + 5_000; alive() && Date.now() < until; ) await sleep(20);
  assert.equal(alive(), false, 'stop() ended the restarted daemon');
  assert.equal(warnings.filter((w) => w.includes('ended unexpectedly')).length, 1, 'stopping is not reported as a crash');
});
