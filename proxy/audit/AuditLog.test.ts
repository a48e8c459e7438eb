import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ErrorCode, isLatchError } from '../../common/errors.ts';
import type { AuditEvent } from './AuditEvent.ts';
import { AuditLog } from './AuditLog.ts';
import { GENESIS_HASH, lineHash, lineHashMatches, sealLine } from './AuditChain.ts';
import { readAuditRecords, verifyAuditFile } from './verifyAuditFile.ts';

const salt = Buffer.alloc(32, 1);
const SID = 'session-id-in-clear-0123456789';

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'latch-audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const lifecycle: AuditEvent[] = [
  { type: 'session.started', user: 'alice', sessionId: SID, src: { ip: '127.0.0.1', port: 40000 } },
  { type: 'connection.opened', user: 'alice', sessionId: SID, resourceId: 'redis' },
  { type: 'session.warning', user: 'alice', sessionId: SID, deadline: 'idle', remainingMs: 2000 },
  { type: 'session.renewed', user: 'alice', sessionId: SID, renewals: 1 },
  { type: 'connection.closed', user: 'alice', sessionId: SID, resourceId: 'redis' },
  { type: 'session.ended', user: 'alice', sessionId: SID, reason: 'idle' },
  { type: 'credentials.wiped', user: 'alice', sessionId: SID, items: 2 },
  { type: 'auth.failed', user: 'bob', code: ErrorCode.AUTH_REJECTED },
  { type: 'session.started', user: 'bob', sessionId: `${SID}-2` },
  { type: 'session.ended', user: 'bob', sessionId: `${SID}-2`, reason: 'logout' },
];

async function writeLog(file: string, events: AuditEvent[] = lifecycle): Promise<string[]> {
  const log = AuditLog.open({ salt, file });
  for (const e of events) log.append(e);
  await log.close();
  return readFileSync(file, 'utf8').split('\n').slice(0, -1);
}

function rewrite(file: string, lines: string[]): void {
  writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
}

void test('lines carry seq 1.. and prev_hash chained over the exact bytes; the chain verifies', async (t) => {
  const file = join(tmp(t), 'audit.jsonl');
  const lines = await writeLog(file);
  assert.equal(lines.length, lifecycle.length);
  let prev = GENESIS_HASH;
  lines.forEach((line, i) => {
    const rec = JSON.parse(line) as { seq: number; prev_hash: string };
    assert.equal(rec.seq, i + 1);
    assert.equal(rec.prev_hash, prev);
    assert.ok(line.startsWith(`{"seq":${i + 1},"prev_hash":"`));
    assert.match(line, /,"line_hash":"[0-9a-f]{64}"\}$/);
    assert.ok(lineHashMatches(Buffer.from(line)));
    prev = lineHash(Buffer.from(line));
  });
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: lifecycle.length });
  const records = await readAuditRecords(file);
  assert.deepEqual(records.map((r) => (r.unmapped as { latch_event: string }).latch_event), lifecycle.map((e) => e.type));
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(existsSync(`${file}.lock`), false, 'close releases the lock');
});

void test('the session id never appears in the file; two salts give two different hashes', async (t) => {
  const dir = tmp(t);
  const a = join(dir, 'a.jsonl');
  const b = join(dir, 'b.jsonl');
  await writeLog(a);
  const log = AuditLog.open({ salt: Buffer.alloc(32, 2), file: b });
  log.append(lifecycle[0] as AuditEvent);
  await log.close();
  const textA = readFileSync(a, 'utf8');
  assert.ok(!textA.includes(SID));
  assert.ok(!readFileSync(b, 'utf8').includes(SID));
  const [ra] = await readAuditRecords(a);
  const [rb] = await readAuditRecords(b);
  const ha = (ra?.session as { uid_hash: string }).uid_hash;
  const hb = (rb?.session as { uid_hash: string }).uid_hash;
  assert.match(ha, /^[0-9a-f]{64}$/);
  assert.notEqual(ha, hb);
});

void test('reopening continues the chain', async (t) => {
  const file = join(tmp(t), 'audit.jsonl');
  await writeLog(file, lifecycle.slice(0, 3));
  const log = AuditLog.open({ salt, file });
  assert.equal(log.seq, 3);
  assert.equal(log.append(lifecycle[3] as AuditEvent).seq, 4);
  await log.close();
  await writeLog(file, lifecycle.slice(4));
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: lifecycle.length });
});

void test('a proxy killed with SIGKILL keeps every appended line; the next one takes over the lock and continues', async (t) => {
  const file = join(tmp(t), 'audit.jsonl');
  const mod = fileURLToPath(new URL('./AuditLog.ts', import.meta.url));
  const script = `
    const { AuditLog } = await import(${JSON.stringify(mod)});
    const log = AuditLog.open({ salt: Buffer.alloc(32, 1), file: ${JSON.stringify(file)} });
    for (let i = 0; i < 5; i++) log.append({ type: 'session.started', user: 'u' + i, sessionId: 's' + i });
    process.kill(process.pid, 'SIGKILL');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
  const signal = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('child did not exit in 10 s'));
    }, 10_000);
    child.on('exit', (_code, sig) => {
      clearTimeout(timer);
      resolve(sig);
    });
  });
  assert.equal(signal, 'SIGKILL');
  assert.ok(existsSync(`${file}.lock`), 'the killed process left its lock behind');
  const log = AuditLog.open({ salt, file });
  assert.equal(log.seq, 5);
  log.append(lifecycle[0] as AuditEvent);
  await log.close();
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 6 });
});

void test('a second writer is refused: in this process, and while another live process holds the lock', async (t) => {
  const file = join(tmp(t), 'audit.jsonl');
  const log = AuditLog.open({ salt, file });
  assert.throws(() => AuditLog.open({ salt, file }), (err) => isLatchError(err, ErrorCode.AUDIT_LOCKED));
  await log.close();

  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  t.after(() => holder.kill('SIGKILL'));
  writeFileSync(`${file}.lock`, `${holder.pid}\n`);
  assert.throws(() => AuditLog.open({ salt, file }), (err) => isLatchError(err, ErrorCode.AUDIT_LOCKED));
});

void test('a file whose last line is cut off or not a record is refused, not extended', async (t) => {
  const dir = tmp(t);
  const file = join(dir, 'audit.jsonl');
  const lines = await writeLog(file);
  writeFileSync(file, `${lines.join('\n')}`); // no final newline
  assert.throws(() => AuditLog.open({ salt, file }), (err) => isLatchError(err, ErrorCode.AUDIT_TRUNCATED));
  rewrite(file, [...lines, 'garbage']);
  assert.throws(() => AuditLog.open({ salt, file }), (err) => isLatchError(err, ErrorCode.AUDIT_BAD_JSON));
  assert.equal(existsSync(`${file}.lock`), false, 'a refused open leaves no lock');
});

void test('a write failure (disk full) makes append throw AUDIT_WRITE_FAILED, then and afterwards', async (t) => {
  const file = join(tmp(t), 'audit.jsonl');
  symlinkSync('/dev/full', file);
  const log = AuditLog.open({ salt, file });
  assert.throws(() => log.append(lifecycle[0] as AuditEvent), (err) => isLatchError(err, ErrorCode.AUDIT_WRITE_FAILED));
  assert.throws(() => log.append(lifecycle[1] as AuditEvent), (err) => isLatchError(err, ErrorCode.AUDIT_WRITE_FAILED));
  assert.equal(log.seq, 0);
  await log.close();
});

void test('fsync "always" and the stdout sink: the sink gets the same bytes as the file', async (t) => {
  const file = join(tmp(t), 'audit.jsonl');
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const log = AuditLog.open({ salt, file, fsync: 'always', stdout: out });
  for (const e of lifecycle) log.append(e);
  await log.close();
  assert.equal(Buffer.concat(chunks).toString('utf8'), readFileSync(file, 'utf8'));
  assert.deepEqual(log.stats().sinks.stdout, { queued: 0, delivered: lifecycle.length, dropped: 0 });
});

void test('append after close is refused', async (t) => {
  const log = AuditLog.open({ salt, file: join(tmp(t), 'a.jsonl') });
  await log.close();
  assert.throws(() => log.append(lifecycle[0] as AuditEvent), (err) => isLatchError(err, ErrorCode.AUDIT_CLOSED));
});

void test('an options object without any sink is a config error', () => {
  assert.throws(() => AuditLog.open({ salt }), (err) => isLatchError(err, ErrorCode.CONFIG));
  assert.throws(() => AuditLog.open({ salt: Buffer.alloc(4), file: '/nonexistent/x' }), (err) => isLatchError(err, ErrorCode.CONFIG));
});

void test('a bad webhook option fails the open without leaving the file locked', async (t) => {
  const file = join(tmp(t), 'audit.jsonl');
  assert.throws(() => AuditLog.open({ salt, file, webhook: { url: 'ftp://127.0.0.1/' } }), (err) => isLatchError(err, ErrorCode.CONFIG));
  assert.equal(existsSync(`${file}.lock`), false);
  const log = AuditLog.open({ salt, file });
  await log.close();
});

// ---- tamper detection -------------------------------------------------------------------------

async function tampered(t: { after(fn: () => void): void }, edit: (lines: string[]) => string[] | string): Promise<Awaited<ReturnType<typeof verifyAuditFile>>> {
  const file = join(tmp(t), 'audit.jsonl');
  const lines = await writeLog(file);
  const out = edit([...lines]);
  if (typeof out === 'string') writeFileSync(file, out);
  else rewrite(file, out);
  return verifyAuditFile(file);
}

function changeByte(line: string, from: string, to: string): string {
  const i = line.indexOf(from);
  assert.ok(i >= 0);
  return line.slice(0, i) + to + line.slice(i + from.length);
}

void test('one byte changed in a line is detected at that line', async (t) => {
  const r = await tampered(t, (l) => {
    l[3] = changeByte(l[3] ?? '', 'alice', 'alicf');
    return l;
  });
  assert.deepEqual({ ok: r.ok, line: !r.ok && r.line, code: !r.ok && r.code }, { ok: false, line: 4, code: ErrorCode.AUDIT_CHANGED });
});

void test('a changed last line is detected, and a log whose last line was changed is not extended', async (t) => {
  const file = join(tmp(t), 'audit.jsonl');
  const lines = await writeLog(file);
  lines[9] = changeByte(lines[9] ?? '', 'logout', 'logour');
  rewrite(file, lines);
  const r = await verifyAuditFile(file);
  assert.ok(!r.ok && r.line === 10 && r.code === ErrorCode.AUDIT_CHANGED, JSON.stringify(r));
  assert.throws(() => AuditLog.open({ salt, file }), (err) => isLatchError(err, ErrorCode.AUDIT_CHANGED));
});

/** A deliberate edit: change the record and recompute its line_hash, so only the chain can tell. */
function reseal(line: string, edit: (body: string) => string): string {
  return sealLine(`${edit(line.slice(0, line.lastIndexOf(',"line_hash":"')))}}`);
}

void test('edits with a recomputed line_hash are caught by the chain and pinned to their line', async (t) => {
  const content = await tampered(t, (l) => {
    l[3] = reseal(l[3] ?? '', (b) => b.replace('alice', 'alicf'));
    return l;
  });
  assert.ok(!content.ok && content.line === 4 && content.code === ErrorCode.AUDIT_CHANGED, JSON.stringify(content));
  const lastButOne = await tampered(t, (l) => {
    l[8] = reseal(l[8] ?? '', (b) => b.replace('"bob"', '"bov"'));
    return l;
  });
  assert.ok(!lastButOne.ok && lastButOne.line === 9 && lastButOne.code === ErrorCode.AUDIT_CHANGED, JSON.stringify(lastButOne));
  const prevHash = await tampered(t, (l) => {
    l[4] = reseal(l[4] ?? '', (b) => {
      const at = b.indexOf('"prev_hash":"') + 13;
      return b.slice(0, at) + (b[at] === 'a' ? 'b' : 'a') + b.slice(at + 1);
    });
    return l;
  });
  assert.ok(!prevHash.ok && prevHash.line === 5 && prevHash.code === ErrorCode.AUDIT_CHANGED, JSON.stringify(prevHash));
  const seq = await tampered(t, (l) => {
    l[3] = reseal(l[3] ?? '', (b) => b.replace('"seq":4', '"seq":7'));
    return l;
  });
  assert.ok(!seq.ok && seq.line === 4 && seq.code === ErrorCode.AUDIT_CHANGED, JSON.stringify(seq));
  const plainSeq = await tampered(t, (l) => {
    l[3] = changeByte(l[3] ?? '', '"seq":4', '"seq":7');
    return l;
  });
  assert.ok(!plainSeq.ok && plainSeq.line === 4 && plainSeq.code === ErrorCode.AUDIT_CHANGED, JSON.stringify(plainSeq));
});

void test('a removed line is detected where it was', async (t) => {
  const r = await tampered(t, (l) => {
    l.splice(3, 1);
    return l;
  });
  assert.ok(!r.ok && r.line === 4 && r.code === ErrorCode.AUDIT_REMOVED, JSON.stringify(r));
  const first = await tampered(t, (l) => l.slice(1));
  assert.ok(!first.ok && first.line === 1 && first.code === ErrorCode.AUDIT_REMOVED, JSON.stringify(first));
  const several = await tampered(t, (l) => {
    l.splice(2, 3);
    return l;
  });
  assert.ok(!several.ok && several.line === 3 && several.code === ErrorCode.AUDIT_REMOVED, JSON.stringify(several));
});

void test('two swapped lines, a moved line and a repeated line are reported as reordered', async (t) => {
  const swapped = await tampered(t, (l) => {
    [l[3], l[4]] = [l[4] ?? '', l[3] ?? ''];
    return l;
  });
  assert.ok(!swapped.ok && swapped.line === 4 && swapped.code === ErrorCode.AUDIT_REORDERED, JSON.stringify(swapped));
  const moved = await tampered(t, (l) => {
    const [x] = l.splice(1, 1);
    l.push(x ?? '');
    return l;
  });
  assert.ok(!moved.ok && moved.line === 2 && moved.code === ErrorCode.AUDIT_REORDERED, JSON.stringify(moved));
  const repeated = await tampered(t, (l) => {
    l.splice(5, 0, l[4] ?? '');
    return l;
  });
  assert.ok(!repeated.ok && repeated.line === 6 && repeated.code === ErrorCode.AUDIT_REORDERED, JSON.stringify(repeated));
});

void test('a file cut in the middle of a line is truncated; a broken line is bad JSON', async (t) => {
  const cut = await tampered(t, (l) => l.map((x) => `${x}\n`).join('').slice(0, -20));
  assert.ok(!cut.ok && cut.line === 10 && cut.code === ErrorCode.AUDIT_TRUNCATED, JSON.stringify(cut));
  const bad = await tampered(t, (l) => {
    l[6] = (l[6] ?? '').replace('{', '[');
    return l;
  });
  assert.ok(!bad.ok && bad.line === 7 && bad.code === ErrorCode.AUDIT_BAD_JSON, JSON.stringify(bad));
  const blank = await tampered(t, (l) => {
    l.splice(2, 0, '');
    return l;
  });
  assert.ok(!blank.ok && blank.line === 3 && blank.code === ErrorCode.AUDIT_BAD_JSON, JSON.stringify(blank));
});

void test('every single-byte change anywhere in the file is found, at the changed line', async (t) => {
  const file = join(tmp(t), 'audit.jsonl');
  const lines = await writeLog(file, lifecycle.slice(0, 3));
  const original = Buffer.from(lines.map((l) => `${l}\n`).join(''));
  const lineOf = (pos: number): number => original.subarray(0, pos).filter((b) => b === 0x0a).length + 1;
  for (let pos = 0; pos < original.length; pos++) {
    const copy = Buffer.from(original);
    copy[pos] = (copy[pos] ?? 0) ^ 0x01;
    writeFileSync(file, copy);
    const r = await verifyAuditFile(file);
    assert.ok(!r.ok, `flip at byte ${pos} went unnoticed`);
    assert.equal(r.line, lineOf(pos), `flip at byte ${pos}: ${JSON.stringify(r)}`);
  }
});

void test('an empty file verifies with zero lines; a missing file rejects', async (t) => {
  const file = join(tmp(t), 'empty.jsonl');
  writeFileSync(file, '');
  assert.deepEqual(await verifyAuditFile(file), { ok: true, lines: 0 });
  await assert.rejects(verifyAuditFile(join(tmp(t), 'missing.jsonl')), { code: 'ENOENT' });
});
