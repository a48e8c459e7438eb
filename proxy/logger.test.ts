import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from './logger.ts';

void describe('logger', () => {
  void it('writes one JSON object per line with the event and its fields, at or above the level', () => {
    const lines: string[] = [];
    const log = createLogger('proxy', (line) => lines.push(line), 'info');
    log.debug('hidden');
    log.info('session.started', { session: 's1', user: 'alice', skipped: undefined });
    log.error('boom', { code: 'LATCH_ERR_INTERNAL' });
    assert.equal(lines.length, 2);
    assert.ok(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')));
    const first = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.equal(first.event, 'session.started');
    assert.equal(first.level, 'info');
    assert.equal(first.component, 'proxy');
    assert.equal(first.user, 'alice');
    assert.equal('skipped' in first, false);
    assert.match(String(first.ts), /^\d{4}-\d\d-\d\dT.*Z$/);
  });
});
