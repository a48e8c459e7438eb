/**
 * Checks an audit file's hash chain (AuditChain.ts) in one streaming pass, memory bounded by the
 * longest line. The first break is reported with its 1-based line number and a code:
 *
 *   AUDIT_BAD_JSON   a line is not JSON or lacks `seq` / `prev_hash`
 *   AUDIT_TRUNCATED  the file ends in the middle of a line
 *   AUDIT_CHANGED    a line's bytes differ from its line_hash or from what the chain recorded
 *   AUDIT_REMOVED    the chain jumps over missing lines
 *   AUDIT_REORDERED  lines are out of order (or one is repeated)
 *
 * A line whose line_hash does not match is the changed line. Otherwise (an edit that recomputed
 * line_hash), a break is attributed as follows: if line n does not chain to line n−1 but line n+1 chains to line n,
 * line n is intact and line n−1 was changed. If line n chains to n−1 but its `seq` is wrong,
 * line n itself was edited. If neither chain nor `seq` hold, lines went missing (the expected
 * `seq` is nowhere later) or were moved (it is). No chain can show that whole lines were cut from
 * the very end, or that the last line was rewritten with a recomputed line_hash: compare the last
 * `seq` with the copy the webhook sink delivered to the collector.
 */
import { open } from 'node:fs/promises';
import type { ErrorCode } from '../../common/errors.ts';
import { ErrorCode as Codes } from '../../common/errors.ts';
import { GENESIS_HASH, MAX_LINE_BYTES, lineHash, lineHashMatches, parseChainFields } from './AuditChain.ts';
import type { ChainFields } from './AuditChain.ts';

export type AuditVerifyResult =
  | { ok: true; lines: number }
  | { ok: false; line: number; code: ErrorCode; message: string };

interface RawLine {
  bytes: Buffer;
  /** False for a final line with no newline. */
  terminated: boolean;
  /** The line exceeded MAX_LINE_BYTES; `bytes` is empty. */
  tooLong: boolean;
}

/** Yields the file's lines as exact bytes (no decoding: the chain hashes bytes). */
async function* readLines(path: string): AsyncGenerator<RawLine, void, undefined> {
  const fh = await open(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(64 * 1024);
    let parts: Buffer[] = [];
    let partsLen = 0;
    let skipping = false;
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      const data = chunk.subarray(0, bytesRead);
      let start = 0;
      for (;;) {
        const nl = data.indexOf(0x0a, start);
        if (nl === -1) break;
        if (skipping) {
          skipping = false;
          yield { bytes: Buffer.alloc(0), terminated: true, tooLong: true };
        } else {
          parts.push(data.subarray(start, nl));
          yield { bytes: Buffer.concat(parts), terminated: true, tooLong: false };
        }
        parts = [];
        partsLen = 0;
        start = nl + 1;
      }
      if (start < data.length && !skipping) {
        // Copy: `chunk` is reused by the next read.
        parts.push(Buffer.from(data.subarray(start)));
        partsLen += data.length - start;
        if (partsLen > MAX_LINE_BYTES) {
          skipping = true;
          parts = [];
          partsLen = 0;
        }
      }
    }
    if (skipping) yield { bytes: Buffer.alloc(0), terminated: false, tooLong: true };
    else if (partsLen > 0) yield { bytes: Buffer.concat(parts), terminated: false, tooLong: false };
  } finally {
    await fh.close();
  }
}

async function pull(lines: AsyncGenerator<RawLine, void, undefined>): Promise<RawLine | undefined> {
  const r = await lines.next();
  return r.done ? undefined : r.value;
}

function fail(line: number, code: ErrorCode, message: string): AuditVerifyResult {
  return { ok: false, line, code, message };
}

/**
 * Verifies the chain of the audit file at `path`. Resolves to the verdict; rejects only when the
 * file cannot be read (ENOENT, EACCES …).
 */
export async function verifyAuditFile(path: string): Promise<AuditVerifyResult> {
  const lines = readLines(path);
  try {
    let prevHash = GENESIS_HASH;
    let lineNo = 0;
    let cur = await pull(lines);
    while (cur) {
      lineNo++;
      const next = await pull(lines);
      if (!cur.terminated) return fail(lineNo, Codes.AUDIT_TRUNCATED, `line ${lineNo} is incomplete: the file was cut off`);
      if (cur.tooLong) return fail(lineNo, Codes.AUDIT_BAD_JSON, `line ${lineNo} is longer than ${MAX_LINE_BYTES} bytes`);
      const fields = parseChainFields(cur.bytes);
      if (!fields) return fail(lineNo, Codes.AUDIT_BAD_JSON, `line ${lineNo} is not an audit record (bad JSON or no seq/prev_hash)`);
      if (!lineHashMatches(cur.bytes)) return fail(lineNo, Codes.AUDIT_CHANGED, `line ${lineNo} was changed: its line_hash does not match its content`);
      const linked = fields.prev_hash === prevHash;
      const inSeq = fields.seq === lineNo;
      if (linked && inSeq) {
        prevHash = lineHash(cur.bytes);
        cur = next;
        continue;
      }
      if (linked) {
        return fail(lineNo, Codes.AUDIT_CHANGED, `line ${lineNo} was changed: it carries seq ${fields.seq} but follows line ${lineNo - 1} in the chain`);
      }
      if (inSeq) return attributeBrokenLink(lineNo, cur, next);
      if (fields.seq > lineNo) {
        const later = await findSeq(lines, next, lineNo, lineNo);
        return later === undefined
          ? fail(lineNo, Codes.AUDIT_REMOVED, `line ${lineNo} carries seq ${fields.seq}: ${fields.seq - lineNo === 1 ? `seq ${lineNo} was` : `seq ${lineNo}–${fields.seq - 1} were`} removed before it`)
          : fail(lineNo, Codes.AUDIT_REORDERED, `line ${lineNo} carries seq ${fields.seq}, but seq ${lineNo} appears later, at line ${later}: lines were reordered`);
      }
      return fail(lineNo, Codes.AUDIT_REORDERED, `line ${lineNo} carries seq ${fields.seq}, which belongs earlier: lines were reordered or repeated`);
    }
    return { ok: true, lines: lineNo };
  } finally {
    await lines.return(undefined);
  }
}

/** Line n has the right seq but does not chain to n−1: was n−1 or n edited? */
function attributeBrokenLink(lineNo: number, cur: RawLine, next: RawLine | undefined): AuditVerifyResult {
  const nextFields: ChainFields | undefined = next && next.terminated && !next.tooLong ? parseChainFields(next.bytes) : undefined;
  const curIntact = nextFields !== undefined && nextFields.prev_hash === lineHash(cur.bytes);
  // Without a following line there is no evidence either way; an edit of the earlier line's
  // content is the likelier one (line n's own prev_hash is not something one edits by accident).
  if (lineNo > 1 && (curIntact || next === undefined)) {
    return fail(lineNo - 1, Codes.AUDIT_CHANGED, `line ${lineNo - 1} was changed: line ${lineNo} no longer chains to it`);
  }
  return fail(lineNo, Codes.AUDIT_CHANGED, `line ${lineNo} was changed: it does not chain to ${lineNo === 1 ? 'the start of the file' : `line ${lineNo - 1}`}`);
}

/** Scans the rest of the file for a line carrying `seq`; returns its line number. */
async function findSeq(lines: AsyncGenerator<RawLine, void, undefined>, next: RawLine | undefined, seq: number, atLine: number): Promise<number | undefined> {
  let lineNo = atLine;
  let cur = next;
  while (cur) {
    lineNo++;
    if (!cur.tooLong && parseChainFields(cur.bytes)?.seq === seq) return lineNo;
    cur = await pull(lines);
  }
  return undefined;
}

/** Reads every record of an audit file (for tests and tools; it holds the file in memory). */
export async function readAuditRecords(path: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const line of readLines(path)) {
    if (!line.terminated || line.tooLong) break;
    out.push(JSON.parse(line.bytes.toString('utf8')) as Record<string, unknown>);
  }
  return out;
}
