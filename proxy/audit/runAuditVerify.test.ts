import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from './AuditLog.ts';
import { runAuditVerify } from './runAuditVerify.ts';

function capture(): { io: { stdout: { write(s: string): boolean }; stderr: { write(s: string): boolean } }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (s: string) => ((out += s), true) },
      stderr: { write: (s: string) => ((err += s), true) },
    },
    out: () => out,
    err: () => err,
  };
}

void test('audit verify: exit 0 on an intact file, 1 with line and reason after one byte changed, 2 on bad usage', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'latch-verify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'audit.jsonl');
  const log = AuditLog.open({ salt: Buffer.alloc(32, 5), file });
  for (let i = 0; i < 4; i++) log.append({ type: 'session.started', user: `user${i}`, sessionId: `s${i}` });
  await log.close();

  const ok = capture();
  assert.equal(await runAuditVerify([file], ok.io), 0);
  assert.match(ok.out(), /ok, 4 lines, hash chain intact/);

  const json = capture();
  assert.equal(await runAuditVerify(['--json', file], json.io), 0);
  assert.deepEqual(JSON.parse(json.out()), { file, ok: true, lines: 4 });

  writeFileSync(file, readFileSync(file, 'utf8').replace('user1', 'user7'));
  const bad = capture();
  assert.equal(await runAuditVerify([file], bad.io), 1);
  assert.match(bad.err(), /^latch-proxy: LATCH_ERR_AUDIT_CHANGED: .*: line 2: line 2 was changed/);

  const badJson = capture();
  assert.equal(await runAuditVerify([file, '--json'], badJson.io), 1);
  assert.deepEqual(JSON.parse(badJson.out()), { file, ok: false, line: 2, code: 'LATCH_ERR_AUDIT_CHANGED', message: 'line 2 was changed: its line_hash does not match its content' });

  const missing = capture();
  assert.equal(await runAuditVerify([join(dir, 'nope.jsonl')], missing.io), 1);
  assert.match(missing.err(), /ENOENT/);

  for (const argv of [[], [file, file], ['--bogus']]) {
    const usage = capture();
    assert.equal(await runAuditVerify(argv, usage.io), 2);
    assert.match(usage.err(), /^usage: latch-proxy audit verify/);
  }
});
