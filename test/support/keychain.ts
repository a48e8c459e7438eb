import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/**
 * The Secret Service as secret-tool (not our binding) sees it, on the bus in `env`
 * (DBUS_SESSION_BUS_ADDRESS): the run's keyring by default, or a test's private desktop.
 */

/** Fails a keychain test at once, saying why, when no private Secret Service is running. */
export function requireSecretService(): void {
  assert.ok(
    process.env['DBUS_SESSION_BUS_ADDRESS'],
    'DBUS_SESSION_BUS_ADDRESS is not set: these tests need a private Secret Service (run them through `npm test`, which starts dbus + gnome-keyring)',
  );
}

/** Accounts (`username` attribute) of every item of SERVICE. */
export async function keychainAccounts(service = 'latch', env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { stdout, stderr } = await execFileP('secret-tool', ['search', '--all', 'service', service], { timeout: 10_000, env });
      return [...`${stdout}\n${stderr}`.matchAll(/^attribute\.username = (.*)$/gm)].map((m) => m[1] ?? '').sort();
    } catch (err) {
      // An item deleted between secret-tool's search and its read of that item (a wipe in
      // progress elsewhere) fails the whole search: look again.
      if (attempt >= 5 || !/No such secret item/.test(String((err as { stderr?: unknown }).stderr))) throw err;
    }
  }
}

/** The items of one session (accounts are `SESSION:kind`). */
export async function sessionItems(sessionId: string, service = 'latch', env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  return (await keychainAccounts(service, env)).filter((a) => a.startsWith(`${sessionId}:`));
}

/** One item's secret. */
export async function keychainSecret(account: string, service = 'latch', env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { stdout } = await execFileP('secret-tool', ['lookup', 'service', service, 'username', account], { timeout: 10_000, env });
  return stdout;
}

/** A session's key, certificate and token as the client stored them. */
export async function sessionSecrets(sessionId: string, service = 'latch', env: NodeJS.ProcessEnv = process.env): Promise<{ key: string; cert: string; token: string }> {
  const [key, cert, token] = await Promise.all(['key', 'cert', 'token'].map((k) => keychainSecret(`${sessionId}:${k}`, service, env)));
  return { key: key ?? '', cert: cert ?? '', token: token ?? '' };
}
