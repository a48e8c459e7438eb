import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, isLatchError } from '../../common/errors.ts';
import { parseResourceSpecs } from './parseResourceSpecs.ts';

const usage = (err: unknown): boolean => isLatchError(err, ErrorCode.USAGE);

test('ids get ephemeral ports unless --port or id:port says otherwise', () => {
  assert.deepEqual(parseResourceSpecs(['redis', 'web']), [
    { resourceId: 'redis', port: 0 },
    { resourceId: 'web', port: 0 },
  ]);
  assert.deepEqual(parseResourceSpecs(['redis', 'web', 'db'], '6380'), [
    { resourceId: 'redis', port: 6380 },
    { resourceId: 'web', port: 6381 },
    { resourceId: 'db', port: 6382 },
  ]);
  assert.deepEqual(parseResourceSpecs(['redis:7000', 'web'], '6380'), [
    { resourceId: 'redis', port: 7000 },
    { resourceId: 'web', port: 6381 },
  ]);
});

test('bad resources and ports are usage errors', () => {
  assert.throws(() => parseResourceSpecs([]), usage);
  assert.throws(() => parseResourceSpecs(['re dis']), usage);
  assert.throws(() => parseResourceSpecs(['redis:0']), usage);
  assert.throws(() => parseResourceSpecs(['redis:65536']), usage);
  assert.throws(() => parseResourceSpecs(['redis:abc']), usage);
  assert.throws(() => parseResourceSpecs(['a', 'b'], '65535'), usage);
  assert.throws(() => parseResourceSpecs(['a:7000', 'b:7000']), usage);
  assert.throws(() => parseResourceSpecs(['a'], '-1'), usage);
});
