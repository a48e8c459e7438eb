import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Accounts (`username` attribute) of every Secret Service item of SERVICE, as secret-tool sees them. */
export async function keychainAccounts(service = 'latch'): Promise<string[]> {
  const { stdout, stderr } = await execFileP('secret-tool', ['search', '--all', 'service', service], { timeout: 10_000 });
  return [...`${stdout}\n${stderr}`.matchAll(/^attribute\.username = (.*)$/gm)].map((m) => m[1] ?? '').sort();
}

/** The items of one session (accounts are `SESSION:kind`). */
export async function sessionItems(sessionId: string, service = 'latch'): Promise<string[]> {
  return (await keychainAccounts(service)).filter((a) => a.startsWith(`${sessionId}:`));
}

/** One item's secret, via secret-tool. */
export async function keychainSecret(account: string, service = 'latch'): Promise<string> {
  const { stdout } = await execFileP('secret-tool', ['lookup', 'service', service, 'username', account], { timeout: 10_000 });
  return stdout;
}

/** A session's key, certificate and token as the client stored them (read with secret-tool). */
export async function sessionSecrets(sessionId: string, service = 'latch'): Promise<{ key: string; cert: string; token: string }> {
  const [key, cert, token] = await Promise.all(['key', 'cert', 'token'].map((k) => keychainSecret(`${sessionId}:${k}`, service)));
  return { key: key ?? '', cert: cert ?? '', token: token ?? '' };
}
