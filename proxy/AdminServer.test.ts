import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ErrorCode, LatchError } from '../common/errors.ts';
import { AdminServer, adminRequest, parseAdminRequest } from './AdminServer.ts';
import type { AdminRequest } from './AdminServer.ts';
import { silentLogger } from './logger.ts';

const dir = mkdtempSync(join(tmpdir(), 'latch-admin-'));
after(() => rmSync(dir, { recursive: true, force: true }));

void describe('AdminServer', () => {
  void it('answers one request per connection on a 0600 socket; handler errors come back as LatchErrors', async () => {
    const path = join(dir, 'a.sock');
    const seen: AdminRequest[] = [];
    const server = await AdminServer.listen(
      path,
      (request) => {
        seen.push(request);
        if (request.op === 'end') throw new LatchError(ErrorCode.NOT_FOUND, 'no live session "x"');
        return { ok: true, ended: ['s1', 's2'] };
      },
      silentLogger,
    );
    try {
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.deepEqual(await adminRequest(path, { op: 'revoke', user: 'bob' }), { ok: true, ended: ['s1', 's2'] });
      await assert.rejects(adminRequest(path, { op: 'end', session: 'x', reason: 'revoked' }), (err: unknown) => err instanceof LatchError && err.code === ErrorCode.NOT_FOUND);
      assert.deepEqual(seen, [{ op: 'revoke', user: 'bob' }, { op: 'end', session: 'x', reason: 'revoked' }]);
      // A second serve on the same data directory is refused.
      await assert.rejects(AdminServer.listen(path, () => ({ ok: true, ended: [] }), silentLogger), (err: unknown) => err instanceof LatchError && err.code === ErrorCode.CONFIG);
    } finally {
      await server.close();
    }
    assert.equal(await adminRequest(path, { op: 'sessions' }), undefined, 'no serve: the caller falls back to the store');
  });

  void it('replaces a socket file left by a dead process; no socket at all means no serve', async () => {
    const path = join(dir, 'stale.sock');
    // A socket file nobody listens on (what SIGKILL leaves behind).
    const ghost = createServer();
    await new Promise<void>((resolve) => ghost.listen(path, resolve));
    await new Promise<void>((resolve) => {
      // close() unlinks; recreate the file as a leftover.
      ghost.close(() => resolve());
    });
    writeFileSync(path, '');
    assert.equal(await adminRequest(path, { op: 'sessions' }), undefined);
    const server = await AdminServer.listen(path, () => ({ ok: true, sessions: [] }), silentLogger);
    assert.deepEqual(await adminRequest(path, { op: 'sessions' }), { ok: true, sessions: [] });
    await server.close();
    assert.equal(await adminRequest(join(dir, 'none.sock'), { op: 'sessions' }), undefined);
  });

  void it('parses only well-formed requests', () => {
    assert.deepEqual(parseAdminRequest({ op: 'end', session: 'abc', reason: 'error' }), { op: 'end', session: 'abc', reason: 'error' });
    for (const bad of [null, 'sessions', { op: 'end', session: 'abc', reason: 'bored' }, { op: 'end', session: '', reason: 'revoked' }, { op: 'revoke' }, { op: 'drop' }]) {
      assert.equal(parseAdminRequest(bad), undefined, JSON.stringify(bad));
    }
  });
});
