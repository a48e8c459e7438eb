import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandLoop, LoopedCommands } from './CommandLoop.ts';

const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
// The command prints its parent's PID: the loop's shell, the same one while the loop lives.
const parentPid = (loop: CommandLoop, timeoutMs = 5_000) => loop.run(timeoutMs);

void test('one long-lived shell answers every run: output, exit status, in order', async () => {
  const loop = new CommandLoop('sh', ['-c', 'echo "ppid $PPID"; echo "to stderr" >&2; exit ${CODE:-0}'], env);
  try {
    const first = await parentPid(loop);
    const second = await parentPid(loop);
    assert.ok(first.ok && second.ok, JSON.stringify([first, second]));
    assert.match(first.stdout, /^ppid \d+\nto stderr\n$/);
    assert.equal(first.stdout, second.stdout, 'the same shell ran both');
    const many = await Promise.all(Array.from({ length: 5 }, () => loop.run(5_000)));
    assert.ok(many.every((r) => r.ok && r.stdout === first.stdout));
  } finally {
    loop.close();
  }
  const failing = new CommandLoop('sh', ['-c', 'echo "no luck"; exit 3'], env);
  try {
    const res = await failing.run(5_000);
    assert.equal(res.ok, false);
    assert.ok(!res.ok && res.failure === 'exit' && /exited with 3: no luck/.test(res.detail), JSON.stringify(res));
  } finally {
    failing.close();
  }
});

void test('a helper that hangs is cut off at the timeout with its shell, and the next run gets a new shell', async () => {
  const flag = `/tmp/latch-command-loop-${process.pid}`;
  const loop = new CommandLoop('sh', ['-c', `if [ -e ${flag} ]; then exec sleep 30; fi; echo "ppid $PPID"`], env);
  try {
    const before = await loop.run(5_000);
    assert.ok(before.ok);
    spawnSync('touch', [flag]);
    const started = Date.now();
    const hung = await loop.run(300);
    assert.ok(!hung.ok && hung.failure === 'timeout' && /within 300 ms/.test(hung.detail), JSON.stringify(hung));
    assert.ok(Date.now() - started < 3_000);
    spawnSync('rm', ['-f', flag]);
    const after = await loop.run(5_000);
    assert.ok(after.ok, JSON.stringify(after));
    assert.notEqual(after.stdout, before.stdout, 'a new shell');
    // The hung helper went with its shell's process group.
    const shellPid = Number(/ppid (\d+)/.exec(before.stdout)?.[1]);
    await waitGone(shellPid);
  } finally {
    loop.close();
    spawnSync('rm', ['-f', flag]);
  }
});

void test('closed: runs fail, the shell is gone', async () => {
  const loop = new CommandLoop('sh', ['-c', 'echo "ppid $PPID"'], env);
  const res = await loop.run(5_000);
  const shellPid = Number(/ppid (\d+)/.exec(res.ok ? res.stdout : '')?.[1]);
  loop.close();
  await waitGone(shellPid);
  const after = await loop.run(1_000);
  assert.ok(!after.ok && /closed/.test(after.detail));
});

void test('the loop neither keeps its process alive nor outlives it', () => {
  const script = `const { CommandLoop } = await import(${JSON.stringify(new URL('./CommandLoop.ts', import.meta.url).href)});
const loop = new CommandLoop('sh', ['-c', 'echo $PPID'], { PATH: process.env.PATH });
const res = await loop.run(5000);
process.stdout.write(res.stdout);`;
  const started = Date.now();
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.ok(Date.now() - started < 15_000, 'exited on its own, without close()');
  const shellPid = Number(child.stdout.trim());
  assert.ok(shellPid > 0, child.stdout);
  return waitGone(shellPid);
});

void test('LoopedCommands keeps one loop per command line, and spawns beyond its bound', async () => {
  const commands = new LoopedCommands(1);
  try {
    const a1 = await commands.run('sh', ['-c', 'echo $PPID'], { env, timeoutMs: 5_000 });
    const a2 = await commands.run('sh', ['-c', 'echo $PPID'], { env, timeoutMs: 5_000 });
    assert.ok(a1.ok && a2.ok && a1.stdout === a2.stdout);
    const b1 = await commands.run('sh', ['-c', 'echo $PPID; true'], { env, timeoutMs: 5_000 });
    const b2 = await commands.run('sh', ['-c', 'echo $PPID; true'], { env, timeoutMs: 5_000 });
    assert.ok(b1.ok && b2.ok && b1.stdout.trim() === String(process.pid) && b2.stdout.trim() === String(process.pid), 'spawned from this process each time');
  } finally {
    commands.close();
  }
});

async function waitGone(pid: number): Promise<void> {
  assert.ok(Number.isInteger(pid) && pid > 0, `pid ${pid}`);
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) {
    // A zombie until its parent reaps it counts as gone.
    if (/^State:\s+Z/m.test(readStatus(pid))) return;
    await sleep(50);
  }
  assert.ok(!existsSync(`/proc/${pid}`) || /^State:\s+Z/m.test(readStatus(pid)), `process ${pid} still runs`);
}

function readStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}
