import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type PathSamples, emptySamples, formatTable, formatTargets, median } from './report.ts';

function path(name: string, bulk: number[], p50: number[], concurrency: number[]): PathSamples {
  const samples = emptySamples();
  samples.bulk.push(...bulk);
  samples.p50.push(...p50);
  samples.p99.push(...p50.map((v) => v * 3));
  samples.concurrency.push(...concurrency);
  return { name, description: name, samples, errors: [], memory: [] };
}

const shape = { reps: 3, bulkBytes: 2 ** 30, roundTrips: 10_000, connections: 500, bytesPerConnection: 65_536 };

test('median of odd and even counts, none for no samples', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), null);
});

test('the table shows medians and Latch ratios to direct and ssh', () => {
  const table = formatTable(
    [path('direct', [1000, 2000, 1500], [30, 31, 29], [300, 310, 290]), path('ssh', [300, 310, 290], [130, 120, 140], [800, 810, 790]), path('latch', [330, 300, 360], [100, 120, 110], [700, 720, 680])],
    shape,
  );
  const bulkRow = table.split('\n').find((l) => l.startsWith('bulk 1 GiB'));
  assert.ok(bulkRow !== undefined, table);
  // medians 1500, 300, 330; latch/direct 0.22×, latch/ssh 1.10×
  assert.match(bulkRow, /1500\s+300\s+330\s+0\.22×\s+1\.10×$/);
  assert.match(table, /ping-pong 64 B ×10000 p50, µs ↓\s+30\s+130\s+110\s+3\.67×\s+0\.85×/);
});

test('targets say met or MISS from the medians; a missing path is "not measured"', () => {
  const met = formatTargets([path('direct', [1000], [30], [300]), path('ssh', [300], [130], [800]), path('latch', [330], [110], [700])]);
  assert.doesNotMatch(met, /MISS/);
  const missed = formatTargets([path('direct', [3000], [30], [300]), path('ssh', [300], [130], [800]), path('latch', [290], [140], [900])]);
  assert.equal(missed.match(/MISS/g)?.length, 4);
  const partial = formatTargets([path('direct', [1000], [30], [300]), path('latch', [330], [110], [700])]);
  assert.match(partial, /Latch bulk ≥ 1\.0× ssh -L: not measured/);
});

test('with the node-tls floor measured: a latch/node-tls column, no 500-connection figure for it, and the latency note', () => {
  const floor = path('node-tls', [400], [150], []);
  const paths = [path('direct', [1000], [30], [300]), path('ssh', [300], [130], [800]), floor, path('latch', [330], [165], [700])];
  const table = formatTable(paths, shape);
  assert.match(table, /latch\/node-tls$/m);
  assert.match(table, /p50, µs ↓\s+30\s+130\s+150\s+165\s+5\.50×\s+1\.27×\s+1\.10×$/m);
  assert.match(table, /500 conns × 64 KiB echo, ms ↓\s+300\s+800\s+—\s+700\s+2\.33×\s+0\.88×\s+—$/m);
  // Relay CPU per round trip: no figure for direct (nothing relays), ratios for the rest.
  const withCpu = paths.map((p) => ({ ...p, samples: { ...p.samples, rttCpu: { direct: [], ssh: [150], 'node-tls': [240], latch: [300] }[p.name] ?? [] } }));
  assert.match(formatTable(withCpu, shape), /relay CPU per round trip, µs ↓\s+—\s+150\s+240\s+300\s+—\s+2\.00×\s+1\.25×$/m);
  const targets = formatTargets(paths);
  assert.match(targets, /note {2}p50 of two plain Node TLS relays .*: 1\.15× ssh -L; Latch: 1\.10× that floor/);
  assert.doesNotMatch(formatTargets(paths.filter((p) => p !== floor)), /note/);
});

test('each target also shows Latch’s ratio in every run, paired by run', () => {
  const targets = formatTargets([path('direct', [1000, 1000], [30, 30], [300, 300]), path('ssh', [300, 200], [100, 200], [800, 400]), path('latch', [330, 300], [110, 180], [700, 500])]);
  assert.match(targets, /Latch bulk ≥ 1\.0× ssh -L: 1\.26× \(each run: 1\.10×, 1\.50×\)/);
  assert.match(targets, /Latch p50 ≤ ssh -L p50: 0\.97× \(each run: 1\.10×, 0\.90×\)/);
  // One run only: nothing to spread.
  assert.doesNotMatch(formatTargets([path('ssh', [300], [100], [800]), path('latch', [330], [110], [700])]), /each run/);
});
