/**
 * The hash chain shared by the writer (AuditLog) and the verifier (verifyAuditFile).
 *
 * Line n (1-based) of an audit file is one JSON object followed by "\n", whose first two keys are
 * `seq` (= n) and `prev_hash`: the lowercase hex SHA-256 of line n−1's exact bytes without its
 * newline, or GENESIS_HASH for line 1. Editing, removing or moving any line breaks the chain at
 * the next line.
 */
import { createHash } from 'node:crypto';

/** prev_hash of the first line: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/** Longest line either side accepts; records are ~1 KiB, so this only bounds memory. */
export const MAX_LINE_BYTES = 1024 * 1024;

export function lineHash(line: Uint8Array): string {
  return createHash('sha256').update(line).digest('hex');
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
