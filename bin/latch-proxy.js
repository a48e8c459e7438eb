#!/usr/bin/env node
// Entry for `npx latch-proxy`. The proxy is TypeScript run by Node's type stripping (Node >= 22.18
// / 24), so refuse older runtimes with a clear message instead of a syntax error.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(`latch-proxy: LATCH_ERR_USAGE: Node ${process.versions.node} is too old; run it with the pinned Node 24 (npx latch-proxy from the repository root)\n`);
  process.exit(1);
}
// `serve` relays traffic: restart once in place with the relay heap settings (relayProcess.js).
const { restartAsRelay } = await import('./relayProcess.js');
restartAsRelay(import.meta.filename, ['serve']);
// Cache compiled code between runs: type-stripping and compiling the sources cost about a third
// of start-up CPU and ~28 MiB of RSS on every start otherwise (measured).
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
const { main } = await import('../proxy/cli.ts');
process.exitCode = await main(process.argv.slice(2));
