import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { parseBinary, parse as parsePlist } from 'plist';
import { mergePolicies, validatePolicy } from './ManagedPolicy.ts';
import type { PolicyResult } from './ManagedPolicy.ts';
import { decodeRegFile, parseRegQuery, POLICY_KEY_PATHS, policyValuesFromExport } from './registry.ts';

export const MAC_POLICY_FILE = '/Library/Managed Preferences/com.latch.desktop.plist';
export const LINUX_POLICY_FILE = '/etc/latch/policy.json';

export interface PolicySources {
  platform: NodeJS.Platform;
  /** Reads a file; a missing file (ENOENT) means no policy there. */
  readFile: (path: string) => Promise<Buffer>;
  /** Runs `reg query <key>`; rejects when the key does not exist. */
  regQuery: (key: string) => Promise<string>;
}

const REG_TIMEOUT_MS = 5_000;
const execFileAsync = promisify(execFile);

export function defaultPolicySources(): PolicySources {
  return {
    platform: process.platform,
    readFile: (path) => readFile(path),
    regQuery: async (key) => (await execFileAsync('reg.exe', ['query', key], { timeout: REG_TIMEOUT_MS, windowsHide: true, encoding: 'utf8' })).stdout,
  };
}

/**
 * A managed-preferences plist (what an MDM's configuration profile becomes): macOS writes them
 * binary (bplist00); an XML one (plutil -convert xml1, or hand-made) reads the same.
 */
export function parsePlistPolicy(data: string | Uint8Array, source: string): PolicyResult {
  let raw: unknown;
  try {
    if (typeof data !== 'string' && Buffer.from(data.subarray(0, 8)).toString('latin1') === 'bplist00') raw = parseBinary(data);
    else raw = parsePlist(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
  } catch (err) {
    return { policy: {}, problems: [{ source, message: `unreadable plist: ${err instanceof Error ? err.message : String(err)}` }] };
  }
  return validatePolicy(raw, source);
}

/**
 * A `.reg` export (regedit's UTF-16LE with BOM, or UTF-8): the same precedence as the live
 * registry, HKLM before HKCU. IT can preview what a .reg they are about to push will do.
 */
export function parseRegPolicy(bytes: Uint8Array, source: string): PolicyResult {
  let values;
  try {
    values = policyValuesFromExport(decodeRegFile(bytes));
  } catch (err) {
    return { policy: {}, problems: [{ source, message: err instanceof Error ? err.message : String(err) }] };
  }
  return mergePolicies(values.map((v, i) => validatePolicy(v, `${source} ${POLICY_KEY_PATHS[i] ?? ''}`)));
}

export function parseJsonPolicy(text: string, source: string): PolicyResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { policy: {}, problems: [{ source, message: `unreadable JSON: ${err instanceof Error ? err.message : String(err)}` }] };
  }
  return validatePolicy(raw, source);
}

async function readOptional(sources: PolicySources, path: string): Promise<Buffer | null | PolicyResult> {
  // A PolicyResult here is the problem report of an unreadable file.
  try {
    return await sources.readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { policy: {}, problems: [{ source: path, message: `cannot read: ${err instanceof Error ? err.message : String(err)}` }] };
  }
}

/**
 * The managed policy of this machine, from the platform's place. Never throws: whatever is
 * broken comes back in `problems` and the rest applies.
 */
export async function readManagedPolicy(sources: PolicySources = defaultPolicySources()): Promise<PolicyResult> {
  if (sources.platform === 'win32') {
    const results: PolicyResult[] = [];
    for (const key of POLICY_KEY_PATHS) {
      let stdout: string;
      try {
        stdout = await sources.regQuery(key);
      } catch {
        continue; // no such key: nothing set there
      }
      results.push(validatePolicy(parseRegQuery(stdout), key));
    }
    return mergePolicies(results);
  }
  const path = sources.platform === 'darwin' ? MAC_POLICY_FILE : LINUX_POLICY_FILE;
  const data = await readOptional(sources, path);
  if (data === null) return { policy: {}, problems: [] };
  if (!Buffer.isBuffer(data)) return data;
  return sources.platform === 'darwin' ? parsePlistPolicy(data, path) : parseJsonPolicy(data.toString('utf8'), path);
}
