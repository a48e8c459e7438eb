#!/usr/bin/env node
// `latch`: the terminal client. The TypeScript sources run directly on Node ≥ 22.18 (type
// stripping); on an older Node, re-run this file with the project's pinned Node.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

if (!process.features.typescript) {
  const pinned = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.bin', 'node');
  if (!existsSync(pinned) || process.env.LATCH_REEXEC === '1') {
    process.stderr.write(`latch: Node ${process.versions.node} cannot run TypeScript; run npm install in the project, or use Node 24\n`);
    process.exit(1);
  }
  const res = spawnSync(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, LATCH_REEXEC: '1' },
  });
  process.exit(res.status ?? 1);
}

// `connect` relays traffic: restart once in place with the relay heap settings (relayProcess.js).
const { restartAsRelay } = await import('./relayProcess.js');
restartAsRelay(fileURLToPath(import.meta.url), ['connect']);
// Cache compiled code between runs: type-stripping and compiling the sources cost about a third
// of start-up CPU and ~28 MiB of RSS on every start otherwise (measured).
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
const { run } = await import('../main/cli/cli.ts');
await run();
