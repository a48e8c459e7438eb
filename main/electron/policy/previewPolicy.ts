// What a policy file will do before it is pushed to a fleet:
//   node main/electron/policy/previewPolicy.ts latch-policy.reg | com.latch.desktop.plist | policy.json
// prints the effective policy and every problem, as Latch itself would read it. Exit status 1
// when something was reported.
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { parse as parsePlist } from 'plist';
import { validatePolicy } from './ManagedPolicy.ts';
import type { PolicyResult } from './ManagedPolicy.ts';
import { parseJsonPolicy, parsePlistPolicy, parseRegPolicy } from './readManagedPolicy.ts';

export const PAYLOAD_TYPE = 'com.latch.desktop';

/**
 * A configuration profile (unsigned XML): the payload of type com.latch.desktop is what the MDM
 * writes to the managed-preferences plist.
 */
function previewProfile(text: string, source: string): PolicyResult {
  let profile: unknown;
  try {
    profile = parsePlist(text);
  } catch (err) {
    return { policy: {}, problems: [{ source, message: `unreadable profile (a signed one must be previewed before signing): ${err instanceof Error ? err.message : String(err)}` }] };
  }
  const content = (profile as { PayloadContent?: unknown } | null)?.PayloadContent;
  const payload = Array.isArray(content) ? (content as unknown[]).find((p) => (p as { PayloadType?: unknown } | null)?.PayloadType === PAYLOAD_TYPE) : undefined;
  if (payload === undefined) return { policy: {}, problems: [{ source, message: `no payload of type ${PAYLOAD_TYPE}` }] };
  return validatePolicy(payload, source);
}

export async function previewPolicyFile(path: string): Promise<PolicyResult> {
  const data = await readFile(path);
  const source = basename(path);
  switch (extname(path).toLowerCase()) {
    case '.reg':
      return parseRegPolicy(data, source);
    case '.plist':
      return parsePlistPolicy(data, source);
    case '.mobileconfig':
      return previewProfile(data.toString('utf8'), source);
    default:
      return parseJsonPolicy(data.toString('utf8'), source);
  }
}

if (import.meta.main) {
  const path = process.argv[2];
  if (path === undefined) {
    process.stderr.write('usage: node main/electron/policy/previewPolicy.ts <file.reg|file.plist|policy.json>\n');
    process.exitCode = 2;
  } else {
    const result = await previewPolicyFile(path);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.exitCode = result.problems.length === 0 ? 0 : 1;
  }
}
