import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isLatchError } from '../../../common/errors.ts';
import { createIdleSource } from './createIdleSource.ts';
import { MacIdleSource, parseHidIdleTime, parseMacScreenLocked } from './MacIdleSource.ts';

// `ioreg -c IOHIDSystem -r -d 1` in the shape macOS prints it (trimmed). The HIDIdleTime inside
// HIDParameters is planted to prove that only the property line of its own is read.
const IOREG_HID = `+-o IOHIDSystem  <class IOHIDSystem, id 0x100000545, registered, matched, active, busy 0 (0 ms), retain 29>
    {
      "IOClass" = "IOHIDSystem"
      "CFBundleIdentifier" = "com.apple.iokit.IOHIDFamily"
      "IOProviderClass" = "IOResources"
      "HIDParameters" = {"HIDClickTime"=500000000,"HIDKeyRepeat"=83333333,"HIDIdleTime"=999}
      "HIDIdleTime" = 1553083916
      "IOGeneralInterest" = "IOCommand is not serializable"
    }
`;

// `ioreg -n Root -d 1`: the console user's session, locked, and a second (switched-out) session.
const IOREG_ROOT_LOCKED = `+-o Root  <class IORegistryEntry, id 0x100000100, retain 30>
    {
      "IOKitBuildVersion" = "Darwin Kernel Version 23.4.0: Fri Mar 15 00:10:42 PDT 2024; root:xnu-10063.101.17~1/RELEASE_ARM64_T6000"
      "IOConsoleLocks" = ({"kCGSSessionOnConsoleKey"=Yes})
      "IOConsoleUsers" = ({"kCGSSessionOnConsoleKey"=Yes,"kSCSecuritySessionID"=100016,"kCGSSessionGroupIDKey"=20,"kCGSessionLoginDoneKey"=Yes,"kCGSSessionUserNameKey"="alice","CGSSessionScreenIsLocked"=Yes,"kCGSSessionIDKey"=257,"kCGSSessionUserIDKey"=501},{"kCGSSessionOnConsoleKey"=No,"kCGSSessionUserNameKey"="bob","kCGSSessionIDKey"=258,"kCGSSessionUserIDKey"=502})
      "IORegistryPlanes" = {"IODeviceTree"="IODeviceTree","IOService"="IOService"}
    }
`;

const IOREG_ROOT_UNLOCKED = IOREG_ROOT_LOCKED.replace('"CGSSessionScreenIsLocked"=Yes,', '');
const IOREG_ROOT_OTHER_LOCKED = IOREG_ROOT_UNLOCKED.replace('"kCGSSessionUserNameKey"="bob",', '"kCGSSessionUserNameKey"="bob","CGSSessionScreenIsLocked"=Yes,');

void test('macos: HIDIdleTime nanoseconds become milliseconds, the top-level key wins', () => {
  assert.equal(parseHidIdleTime(IOREG_HID), 1_553);
  assert.equal(parseHidIdleTime('    | |   "HIDIdleTime" = 0\n'), 0);
  assert.equal(parseHidIdleTime('"HIDIdleTime" = 18446744073709551615'), 18_446_744_073_709);
  assert.equal(parseHidIdleTime('+-o IOHIDSystem\n    {\n    }\n'), undefined);
});

void test('macos: lock is read from the console session only', () => {
  assert.equal(parseMacScreenLocked(IOREG_ROOT_LOCKED), true);
  assert.equal(parseMacScreenLocked(IOREG_ROOT_UNLOCKED), false);
  assert.equal(parseMacScreenLocked(IOREG_ROOT_OTHER_LOCKED), false);
  assert.equal(parseMacScreenLocked('+-o Root\n    {\n    }\n'), false);
});

void test('macos: a source whose ioreg is missing fails its sample by name', async () => {
  const source = new MacIdleSource({ ioreg: '/nonexistent/ioreg' });
  await assert.rejects(source.sample(), (err) => isLatchError(err, ErrorCode.IDLE_SAMPLE_FAILED) && /ioreg/.test(err.message));
  await assert.rejects(createIdleSource('macos', { platform: 'linux', vars: {} }), (err) => isLatchError(err, ErrorCode.IDLE_UNAVAILABLE) && /macOS/.test(err.message));
});

void test('macos: real ioreg', { skip: process.platform === 'darwin' ? false : 'needs macOS: ioreg and IOKit are absent on this machine' }, async () => {
  const source = await createIdleSource('auto');
  assert.equal(source.kind, 'macos');
  const sample = await source.sample();
  assert.ok(sample.idleMs >= 0);
  source.close();
});
