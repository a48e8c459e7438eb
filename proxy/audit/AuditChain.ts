/**
 * The hash chain shared by the writer (AuditLog) and the verifier (verifyAuditFile).
 *
 * Line n (1-based) of an audit file is one JSON object followed by "\n", whose first two keys are
 * `seq` (= n) and `prev_hash`: the lowercase hex SHA-256 of line n−1's exact bytes without its
 * newline, or GENESIS_HASH for line 1. Editing, removing or moving any line breaks the chain at
 * the next line.
 *
 * The last key is `line_hash`: the SHA-256 of the line's bytes before `,"line_hash":…`. It pins
 * an edit to its own line, including the last line, which no later prev_hash covers. Whoever
 * edits deliberately can recompute it; the chain and the webhook copy are the defence there.
 */
import { hash } from 'node:crypto';

/** prev_hash of the first line: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/** Longest line either side accepts; records are ~1 KiB, so this only bounds memory. */
export const MAX_LINE_BYTES = 1024 * 1024;

/** SHA-256 of a whole line, lowercase hex (crypto.hash: one-shot, cheaper than createHash per line). */
export function lineHash(line: Uint8Array): string {
  return hash('sha256', line, 'hex');
}

const LINE_HASH_KEY = ',"line_hash":"';
/** `,"line_hash":"` + 64 hex + `"}` */
const SUFFIX_BYTES = LINE_HASH_KEY.length + 64 + 2;

/** Closes a record's JSON (which must end in `}`) with its `line_hash`. */
export function sealLine(json: string): string {
  const body = json.slice(0, -1);
  return `${body}${LINE_HASH_KEY}${hash('sha256', body, 'hex')}"}`;
}

/** True when the line ends with a `line_hash` that matches the bytes before it. */
export function lineHashMatches(line: Uint8Array): boolean {
  if (line.length < SUFFIX_BYTES + 2) return false;
  const buf = Buffer.from(line.buffer, line.byteOffset, line.byteLength);
  const cut = buf.length - SUFFIX_BYTES;
  if (buf.toString('latin1', cut, cut + LINE_HASH_KEY.length) !== LINE_HASH_KEY) return false;
  if (buf.toString('latin1', buf.length - 2) !== '"}') return false;
  const claimed = buf.toString('latin1', cut + LINE_HASH_KEY.length, buf.length - 2);
  return claimed === hash('sha256', buf.subarray(0, cut), 'hex');
}

export interface ChainFields {
  seq: number;
  prev_hash: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Parses one line's bytes; undefined when it is not JSON or lacks valid chain fields. */
export function parseChainFields(line: Uint8Array): ChainFields | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(line.buffer, line.byteOffset, line.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { seq, prev_hash: prevHash } = value as Record<string, unknown>;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  if (typeof prevHash !== 'string' || !HEX64.test(prevHash)) return undefined;
  return { seq, prev_hash: prevHash };
}
