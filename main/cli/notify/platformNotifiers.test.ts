import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, isLatchError } from '../../../common/errors.ts';
import type { NotificationRequest } from '../../core/notify/Notifier.ts';
import { DEFAULT_ACTION_HINT } from './actionHint.ts';
import { createNotifier } from './createNotifier.ts';
import { MacNotifier, osascriptArgs } from './MacNotifier.ts';
import { psQuote, removeToastScript, showToastScript, toastXml, WindowsNotifier, xmlEscape } from './WindowsNotifier.ts';

const request: NotificationRequest = {
  id: 'session-warning',
  title: `Latch: "prod" ends in 2:00`,
  body: "Idle for 13 min <it's> & more",
  actions: [{ id: 'renew', label: 'Renew' }],
  urgency: 'critical',
};

// osascript and PowerShell do not exist here: stand-ins record what they were given, so the
// argument passing is real; whether macOS/Windows then show it is not tested on this machine.
function standIn(dir: string, name: string, source: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!${process.execPath}\n${source}\n`);
  chmodSync(file, 0o755);
  return file;
}

void test('macos: texts go to osascript as arguments, with the renew hint; no buttons', async () => {
  assert.deepEqual(osascriptArgs('t', 'b').slice(-3), ['--', 't', 'b']);
  const dir = mkdtempSync(join(tmpdir(), 'latch-notify-'));
  try {
    const out = join(dir, 'argv.json');
    const osascript = standIn(dir, 'osascript', `require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.argv.slice(2)));`);
    const notifier = new MacNotifier({ osascript });
    assert.equal(notifier.supportsActions, false);
    const handle = await notifier.show(request);
    const argv = JSON.parse(readFileSync(out, 'utf8')) as string[];
    assert.deepEqual(argv.slice(-2), [request.title, `${request.body}\n${DEFAULT_ACTION_HINT}`]);
    assert.ok(argv.every((a) => !a.includes('display notification "')), 'no text spliced into the script');
    await notifier.close();
    assert.equal(handle.closed, true);
    await assert.rejects(notifier.show(request), (err) => isLatchError(err, ErrorCode.NOTIFY_FAILED));
    const missing = new MacNotifier({ osascript: join(dir, 'nope') });
    await assert.rejects(missing.show(request), (err) => isLatchError(err, ErrorCode.NOTIFY_UNAVAILABLE));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('windows: toast XML and PowerShell literals are escaped', () => {
  assert.equal(xmlEscape(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  assert.equal(psQuote("it's"), "'it''s'");
  const xml = toastXml(request, 'hint');
  assert.match(xml, /^<toast scenario="reminder"><visual><binding template="ToastGeneric"><text>Latch: &quot;prod&quot; ends in 2:00<\/text>/);
  assert.ok(xml.includes('Idle for 13 min &lt;it&apos;s&gt; &amp; more\nhint'));
  const script = showToastScript(request, 'App', 'hint');
  assert.ok(script.includes(`$xml.LoadXml(${psQuote(xml)})`));
  assert.ok(script.includes("$toast.Tag = 'session-warning'"));
  assert.ok(removeToastScript('session-warning', 'App').includes("History.Remove('session-warning', 'latch', 'App')"));
});

void test('windows: show and close each run one PowerShell with the encoded script', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'latch-notify-'));
  try {
    const log = join(dir, 'scripts.log');
    const powershell = standIn(
      dir,
      'powershell',
      `const a = process.argv.slice(2); const s = Buffer.from(a[a.indexOf('-EncodedCommand') + 1], 'base64').toString('utf16le'); require('node:fs').appendFileSync(${JSON.stringify(log)}, JSON.stringify(s) + '\\n');`,
    );
    const notifier = new WindowsNotifier({ powershell, appId: 'App' });
    const handle = await notifier.show(request);
    await handle.close();
    const scripts = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string);
    assert.deepEqual(scripts, [showToastScript(request, 'App', DEFAULT_ACTION_HINT), removeToastScript(request.id, 'App')]);
    const failing = new WindowsNotifier({ powershell: standIn(dir, 'ps-fail', 'process.exit(1)') });
    await assert.rejects(failing.show(request), (err) => isLatchError(err, ErrorCode.NOTIFY_FAILED));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('createNotifier picks by platform and names a missing session bus', () => {
  assert.equal(createNotifier({ platform: 'darwin', vars: {} }).kind, 'macos');
  assert.equal(createNotifier({ platform: 'win32', vars: {} }).kind, 'windows');
  const linux = createNotifier({ platform: 'linux', vars: { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' } });
  assert.equal(linux.kind, 'freedesktop');
  assert.equal(linux.supportsActions, true);
  assert.throws(() => createNotifier({ platform: 'linux', vars: { XDG_RUNTIME_DIR: '/nonexistent' } }), (err) => isLatchError(err, ErrorCode.NOTIFY_UNAVAILABLE) && /DBUS_SESSION_BUS_ADDRESS/.test(err.message));
});

void test('macos: real notification through osascript', { skip: process.platform === 'darwin' ? false : 'needs macOS: osascript is absent on this machine' }, async () => {
  const notifier = createNotifier();
  const handle = await notifier.show({ ...request, title: 'Latch test' });
  await handle.close();
  await notifier.close();
});

void test('windows: real toast through PowerShell', { skip: process.platform === 'win32' ? false : 'needs Windows: PowerShell and WinRT toasts are absent on this machine' }, async () => {
  const notifier = createNotifier();
  const handle = await notifier.show({ ...request, title: 'Latch test' });
  await handle.close();
  await notifier.close();
});
