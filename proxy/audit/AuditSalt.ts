/**
 * The per-proxy secret salt for session id hashes in the audit trail. It must stay the same
 * across restarts (so one session's lines correlate) and stay secret (so a reader of the audit
 * file cannot test a known session id against it). Stored as 64 hex characters, mode 0600.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ErrorCode, LatchError } from '../../common/errors.ts';

const SALT_BYTES = 32;
const HEX = /^[0-9a-f]{64}$/;

/** Reads the salt at `path`, creating it (random, 256 bits) on first use. */
export function loadOrCreateAuditSalt(path: string): Buffer {
  try {
    return parseSalt(readFileSync(path, 'utf8'), path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const salt = randomBytes(SALT_BYTES);
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return parseSalt(readFileSync(path, 'utf8'), path);
    throw err;
  }
  try {
    writeSync(fd, `${salt.toString('hex')}\n`);
  } finally {
    closeSync(fd);
  }
  return salt;
}

function parseSalt(text: string, path: string): Buffer {
  const hex = text.trim();
  if (!HEX.test(hex)) throw new LatchError(ErrorCode.CONFIG, `audit salt file ${path} must hold ${SALT_BYTES * 2} lowercase hex characters`);
  return Buffer.from(hex, 'hex');
}
