import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RotatingLog } from './RotatingLog.ts';

test('lines carry UTC time and level; files rotate by size and old ones are dropped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latch-log-'));
  const log = new RotatingLog({ dir, maxBytes: 1024, keep: 2, now: () => new Date(Date.UTC(2025, 0, 2, 3, 4, 5)) });
  log.write('info', 'started');
  assert.equal(readFileSync(log.file, 'utf8'), '2025-01-02T03:04:05.000Z info started\n');
  assert.equal(statSync(log.file).mode & 0o777, 0o600);
  for (let i = 0; i < 100; i++) log.write('warn', `line ${i} ${'x'.repeat(40)}`);
  assert.ok(statSync(log.file).size <= 1024);
  assert.ok(existsSync(join(dir, 'latch.1.log')) && existsSync(join(dir, 'latch.2.log')));
  assert.ok(!existsSync(join(dir, 'latch.3.log')));
  assert.match(readFileSync(log.file, 'utf8'), /line 99/);
  log.write('error', 'two\nlines');
  assert.match(readFileSync(log.file, 'utf8'), /error two\n {4}lines\n$/);
  rmSync(dir, { recursive: true, force: true });
});
