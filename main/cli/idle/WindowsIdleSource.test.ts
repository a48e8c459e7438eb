import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isLatchError } from '../../../common/errors.ts';
import { createIdleSource } from './createIdleSource.ts';
import { encodePowerShellCommand, parseWindowsSample, powershellArgs, WINDOWS_IDLE_SCRIPT, WindowsIdleSource } from './WindowsIdleSource.ts';

void test('windows: helper answer lines are parsed, anything else is an error', () => {
  assert.deepEqual(parseWindowsSample('idle 1234 locked 0\r'), { idleMs: 1_234, locked: false });
  assert.deepEqual(parseWindowsSample('idle 0 locked 1'), { idleMs: 0, locked: true });
  assert.match((parseWindowsSample('error 5') as { error: string }).error, /Win32 error 5/);
  assert.ok('error' in parseWindowsSample('Add-Type : Cannot add type.'));
  assert.ok('error' in parseWindowsSample('idle -1 locked 0'));
});

void test('windows: the script travels as -EncodedCommand (UTF-16LE base64), unquoted', () => {
  const args = powershellArgs();
  assert.deepEqual(args.slice(0, 6), ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand']);
  assert.equal(Buffer.from(args[6] ?? '', 'base64').toString('utf16le'), WINDOWS_IDLE_SCRIPT);
  assert.equal(encodePowerShellCommand('a'), 'YQA=');
  assert.match(WINDOWS_IDLE_SCRIPT, /GetLastInputInfo/);
});

// PowerShell and user32 do not exist here. The process plumbing (one long-lived child, one line
// per sample, time bounds, restart after a failure) is exercised with Node standing in for
// PowerShell and speaking the same line protocol.
const NODE = process.execPath;
const standIn = (body: string) => ['-e', `const rl = require('node:readline').createInterface({ input: process.stdin }); let n = 0; rl.on('line', (line) => { n++; ${body} });`];

void test('windows plumbing (stand-in for PowerShell): one helper answers every sample in turn', async () => {
  const source = new WindowsIdleSource({ powershell: NODE, args: standIn("process.stdout.write('idle ' + (n * 100) + ' locked ' + (n === 3 ? 1 : 0) + '\\r\\n');") });
  try {
    const samples = await Promise.all([source.sample(), source.sample(), source.sample()]);
    assert.deepEqual(samples, [{ idleMs: 100, locked: false }, { idleMs: 200, locked: false }, { idleMs: 300, locked: true }]);
    const pid = source.helperPid;
    assert.ok(pid);
    await source.sample();
    assert.equal(source.helperPid, pid, 'the same helper process serves later samples');
  } finally {
    source.close();
  }
  assert.equal(source.helperPid, undefined);
  await assert.rejects(source.sample(), (err) => isLatchError(err, ErrorCode.IDLE_SAMPLE_FAILED));
});

void test('windows plumbing (stand-in): a stalled helper is killed at the timeout and replaced', async () => {
  // Answers the first request, stalls on the second, so the source must restart it.
  const source = new WindowsIdleSource({ powershell: NODE, args: standIn("if (n !== 2) process.stdout.write('idle ' + n + ' locked 0\\n');"), timeoutMs: 300, startTimeoutMs: 5_000 });
  try {
    assert.deepEqual(await source.sample(), { idleMs: 1, locked: false });
    const first = source.helperPid;
    const started = performance.now();
    await assert.rejects(source.sample(), (err) => isLatchError(err, ErrorCode.IDLE_SAMPLE_FAILED) && /within 300 ms/.test(err.message));
    assert.ok(performance.now() - started < 2_000);
    assert.deepEqual(await source.sample(), { idleMs: 1, locked: false }, 'a fresh helper answers');
    assert.notEqual(source.helperPid, first);
  } finally {
    source.close();
  }
});

void test('windows plumbing (stand-in): a helper that dies or cannot start fails the sample by name', async () => {
  const dying = new WindowsIdleSource({ powershell: NODE, args: ['-e', "process.stderr.write('Add-Type failed'); process.exit(3)"] });
  await assert.rejects(dying.sample(), (err) => isLatchError(err, ErrorCode.IDLE_SAMPLE_FAILED) && /exited with 3: Add-Type failed/.test(err.message));
  dying.close();
  const missing = new WindowsIdleSource({ powershell: '/nonexistent/powershell.exe' });
  await assert.rejects(missing.sample(), (err) => isLatchError(err, ErrorCode.IDLE_SAMPLE_FAILED) && /ENOENT/.test(err.message));
  missing.close();
  await assert.rejects(createIdleSource('windows', { platform: 'linux', vars: {} }), (err) => isLatchError(err, ErrorCode.IDLE_UNAVAILABLE) && /Windows/.test(err.message));
});

void test('windows: real GetLastInputInfo through PowerShell', { skip: process.platform === 'win32' ? false : 'needs Windows: PowerShell and user32.dll are absent on this machine' }, async () => {
  const source = await createIdleSource('auto');
  assert.equal(source.kind, 'windows');
  const sample = await source.sample();
  assert.ok(sample.idleMs >= 0);
  source.close();
});

void test('windows plumbing (stand-in): close() ends a sample in flight at once', async () => {
  const source = new WindowsIdleSource({ powershell: NODE, args: standIn(''), timeoutMs: 10_000, startTimeoutMs: 10_000 });
  const pending = source.sample();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const started = performance.now();
  source.close();
  await assert.rejects(pending, (err) => isLatchError(err, ErrorCode.IDLE_SAMPLE_FAILED) && /closed/.test(err.message));
  assert.ok(performance.now() - started < 1_000);
});
