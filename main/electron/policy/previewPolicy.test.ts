import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { previewPolicyFile } from './previewPolicy.ts';
import { parseJsonPolicy, parseRegPolicy } from './readManagedPolicy.ts';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'policy');

test('each fixture format is previewed by its extension', async () => {
  assert.equal((await previewPolicyFile(join(FIXTURES, 'latch-policy.reg'))).policy.updateChannel, 'latest');
  assert.equal((await previewPolicyFile(join(FIXTURES, 'com.latch.desktop.plist'))).policy.startAtLogin, true);
  assert.equal((await previewPolicyFile(join(FIXTURES, 'policy.json'))).policy.updateChannel, 'beta');
  // The example profile of docs/IT.md.
  assert.deepEqual(await previewPolicyFile(join(FIXTURES, 'latch.mobileconfig')), {
    policy: {
      proxyUrl: 'https://proxy.corp.example:8443',
      caFingerprint: 'sha256:3f2a9c1104b76ed5880a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60',
      lockProxy: true,
      warnLeadMinMs: 60_000,
      warnLeadMaxMs: 300_000,
      startAtLogin: true,
      autoUpdate: true,
      updateChannel: 'latest',
    },
    problems: [],
  });
});

test('run as a command it prints the result and exits 1 when something was reported', async () => {
  const script = join(import.meta.dirname, 'previewPolicy.ts');
  await assert.rejects(promisify(execFile)(process.execPath, [script, join(FIXTURES, 'policy.json')], { timeout: 20_000 }), (err: { code?: number; stdout?: string }) => {
    assert.equal(err.code, 1);
    const printed = JSON.parse(err.stdout ?? '') as { problems: Array<{ key: string }> };
    assert.deepEqual(printed.problems.map((p) => p.key).sort(), ['colour', 'warnLeadMax']);
    return true;
  });
});

test('the policy.json and .reg examples of docs/IT.md apply without a problem', async () => {
  const doc = await readFile(join(import.meta.dirname, '..', '..', '..', 'docs', 'IT.md'), 'utf8');
  const block = (lang: string): string => {
    const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(doc);
    assert.ok(m?.[1], `docs/IT.md has a ${lang} example`);
    return m[1];
  };
  const json = parseJsonPolicy(block('json'), 'IT.md');
  assert.deepEqual(json.problems, []);
  const reg = parseRegPolicy(Buffer.from(block('reg').replace(/\n/g, '\r\n'), 'utf8'), 'IT.md');
  assert.deepEqual(reg.problems, []);
  assert.deepEqual(reg.policy, json.policy);
});
