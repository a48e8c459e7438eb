// A separate process that keeps a KeyringCredentialStore busy: the binding talks to the session bus
// of its own process environment, so a test that needs a private Secret Service runs the store here.
// Usage: node keychainCalls.ts SERVICE DURATION_MS CONCURRENCY
// Prints "ready" once its first item is stored, then one JSON line: { ok, failures }.
import { KeyringCredentialStore } from '../../main/core/KeyringCredentialStore.ts';

const [service = '', durationArg = '', concurrencyArg = ''] = process.argv.slice(2);
const durationMs = Number(durationArg);
const concurrency = Number(concurrencyArg);
if (service === '' || !(durationMs > 0 && durationMs <= 60_000) || !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 16)) {
  process.stderr.write('usage: keychainCalls.ts SERVICE DURATION_MS(1..60000) CONCURRENCY(1..16)\n');
  process.exit(2);
}

const store = new KeyringCredentialStore({ service, timeoutMs: 10_000 });
await store.set('fixed', 'value-0');
process.stdout.write('ready\n');

let ok = 0;
const failures: string[] = [];
const until = Date.now() + durationMs;
async function worker(n: number): Promise<void> {
  // Bounded in count as well as in time.
  for (let i = 0; i < 100_000 && Date.now() < until; i++) {
    try {
      if (i % 4 === 0) {
        await store.set(`w${n}`, `value-${i}`);
      } else {
        const got = await store.get('fixed');
        if (got !== 'value-0') throw new Error(`read ${JSON.stringify(got)}`);
      }
      ok++;
    } catch (err) {
      failures.push(err instanceof Error ? err.message : String(err));
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, (_, n) => worker(n)));
for (let n = 0; n < concurrency; n++) await store.delete(`w${n}`).catch(() => false);
await store.delete('fixed').catch(() => false);
process.stdout.write(`${JSON.stringify({ ok, failures })}\n`);
