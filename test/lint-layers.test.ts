// Proves the layering in eslint.config.js fails the build: each case writes a file that breaks
// one rule into the layer it names, runs the real lint on it, and expects the named rule to
// fire. A clean counterpart must pass, so the check cannot succeed by rejecting everything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';

const ROOT = join(import.meta.dirname, '..');

const violations: Array<{ layer: string; source: string }> = [
  { layer: 'common', source: "import { readFileSync } from 'node:fs';\nexport const probe: unknown = readFileSync;\n" },
  { layer: 'common', source: "import { Multiplexer } from '../tunnel/Multiplexer.ts';\nexport const probe: unknown = Multiplexer;\n" },
  { layer: 'tunnel', source: "import { Store } from '../proxy/Store.ts';\nexport const probe: unknown = Store;\n" },
  { layer: 'proxy', source: "import { Profile } from '../main/core/Profile.ts';\nexport const probe: unknown = Profile;\n" },
  { layer: 'main/core', source: "import { app } from 'electron';\nexport const probe: unknown = app;\n" },
  { layer: 'main/core', source: "import { Store } from '../../proxy/Store.ts';\nexport const probe: unknown = Store;\n" },
  { layer: 'main/cli', source: "import { Store } from '../../proxy/Store.ts';\nexport const probe: unknown = Store;\n" },
  // The renderer is a web page: only common/ and React.
  { layer: 'renderer', source: "import { readFileSync } from 'node:fs';\nexport const probe: unknown = readFileSync;\n" },
  { layer: 'renderer', source: "import { ipcRenderer } from 'electron';\nexport const probe: unknown = ipcRenderer;\n" },
  { layer: 'renderer', source: "import { WebSocket } from 'ws';\nexport const probe: unknown = WebSocket;\n" },
  { layer: 'renderer', source: "import { ProfileStore } from '../main/core/Profile.ts';\nexport const probe: unknown = ProfileStore;\n" },
  { layer: 'renderer', source: "import { createIpcHandlers } from '../main/electron/IpcHandlers.ts';\nexport const probe: unknown = createIpcHandlers;\n" },
];

async function lintProbe(layer: string, source: string): Promise<string[]> {
  const file = join(ROOT, layer, '__lint_probe__.ts');
  writeFileSync(file, source);
  try {
    const eslint = new ESLint({ cwd: ROOT });
    const [result] = await eslint.lintFiles([file]);
    return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
  } finally {
    rmSync(file, { force: true });
  }
}

for (const { layer, source } of violations) {
  const imported = /from '([^']+)'/.exec(source)?.[1] ?? '';
  test(`lint rejects ${layer}/ importing ${imported}`, async () => {
    const messages = await lintProbe(layer, source);
    assert.ok(
      messages.some((m) => m.startsWith('no-restricted-imports:')),
      `expected a layering error, got: ${messages.join('; ') || 'none'}`,
    );
  });
}

test('lint accepts an allowed import (tunnel/ → common/)', async () => {
  const messages = await lintProbe('tunnel', "import { ErrorCode } from '../common/errors.ts';\nexport const probe: string = ErrorCode.PROTOCOL;\n");
  assert.deepEqual(messages, []);
});

test('lint accepts the renderer importing common/ and React', async () => {
  const messages = await lintProbe('renderer', "import { useState } from 'react';\nimport { INVOKE_CHANNELS } from '../common/ipc.ts';\nexport const probe: unknown = [useState, INVOKE_CHANNELS];\n");
  assert.deepEqual(messages, []);
});
