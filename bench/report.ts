// Turns the raw samples into the printed table: medians per path and metric, the Latch ratios,
// how the figures compare with the issue's targets (reported, never asserted) and peak memory.
import type { ProcessMemory } from './BenchPath.ts';

export const Metric = {
  BULK: 'bulk',
  BULK_CPU: 'bulkCpu',
  P50: 'p50',
  P99: 'p99',
  /** Relay CPU (user + system, every relay process of the path) per ping-pong round trip. */
  RTT_CPU: 'rttCpu',
  CONCURRENCY: 'concurrency',
} as const;
export type Metric = (typeof Metric)[keyof typeof Metric];

export interface PathSamples {
  name: string;
  description: string;
  samples: Record<Metric, number[]>;
  errors: string[];
  memory: ProcessMemory[];
}

export interface TableShape {
  reps: number;
  bulkBytes: number;
  roundTrips: number;
  connections: number;
  bytesPerConnection: number;
}

function size(bytes: number): string {
  if (bytes % (1024 * 1024 * 1024) === 0) return `${bytes / (1024 * 1024 * 1024)} GiB`;
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

function rowSpecs(shape: TableShape): Array<{ metric: Metric; label: string }> {
  return [
    { metric: Metric.BULK, label: `bulk ${size(shape.bulkBytes)}, MB/s ↑` },
    { metric: Metric.BULK_CPU, label: 'relay CPU per GiB of bulk, s ↓' },
    { metric: Metric.P50, label: `ping-pong 64 B ×${shape.roundTrips} p50, µs ↓` },
    { metric: Metric.P99, label: `ping-pong 64 B ×${shape.roundTrips} p99, µs ↓` },
    { metric: Metric.RTT_CPU, label: 'relay CPU per round trip, µs ↓' },
    { metric: Metric.CONCURRENCY, label: `${shape.connections} conns × ${size(shape.bytesPerConnection)} echo, ms ↓` },
  ];
}

export function emptySamples(): Record<Metric, number[]> {
  return { bulk: [], bulkCpu: [], p50: [], p99: [], rttCpu: [], concurrency: [] };
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] as number;
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] as number) + hi) / 2;
}

function fmt(value: number | null, digits: number): string {
  return value === null || !Number.isFinite(value) ? '—' : value.toFixed(digits);
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
}

export function medianOf(paths: readonly PathSamples[], name: string, metric: Metric): number | null {
  const path = paths.find((p) => p.name === name);
  return path === undefined ? null : median(path.samples[metric]);
}

export function formatTable(paths: readonly PathSamples[], shape: TableShape): string {
  const hasLatch = paths.some((p) => p.name === 'latch');
  const hasFloor = hasLatch && paths.some((p) => p.name === 'node-tls');
  const header = [`median of ${shape.reps} runs`, ...paths.map((p) => p.name)];
  if (hasLatch) header.push('latch/direct', 'latch/ssh');
  if (hasFloor) header.push('latch/node-tls');
  const rows: string[][] = [header];
  for (const row of rowSpecs(shape)) {
    const cells = [row.label, ...paths.map((p) => fmt(median(p.samples[row.metric]), row.metric === Metric.BULK_CPU ? 2 : 0))];
    if (hasLatch) {
      const latch = medianOf(paths, 'latch', row.metric);
      const direct = ratio(latch, medianOf(paths, 'direct', row.metric));
      const ssh = ratio(latch, medianOf(paths, 'ssh', row.metric));
      cells.push(direct === null ? '—' : `${direct.toFixed(2)}×`, ssh === null ? '—' : `${ssh.toFixed(2)}×`);
    }
    if (hasFloor) {
      const floor = ratio(medianOf(paths, 'latch', row.metric), medianOf(paths, 'node-tls', row.metric));
      cells.push(floor === null ? '—' : `${floor.toFixed(2)}×`);
    }
    rows.push(cells);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const lines = rows.map((r) => pad(r, widths));
  lines.splice(1, 0, widths.map((w) => '─'.repeat(w)).join('  '));
  return lines.join('\n');
}

/** The issue's targets, each with the measured figure and whether it is met. */
export function formatTargets(paths: readonly PathSamples[]): string {
  const latch = (m: Metric): number | null => medianOf(paths, 'latch', m);
  const ssh = (m: Metric): number | null => medianOf(paths, 'ssh', m);
  const direct = (m: Metric): number | null => medianOf(paths, 'direct', m);
  const checks: Array<[string, number | null, number | null, (a: number, b: number) => boolean, Metric, string]> = [
    ['Latch bulk ≥ 1.0× ssh -L', latch(Metric.BULK), ssh(Metric.BULK), (a, b) => a >= b, Metric.BULK, 'ssh'],
    ['Latch bulk ≥ 0.15× direct', latch(Metric.BULK), direct(Metric.BULK), (a, b) => a >= 0.15 * b, Metric.BULK, 'direct'],
    ['Latch p50 ≤ ssh -L p50', latch(Metric.P50), ssh(Metric.P50), (a, b) => a <= b, Metric.P50, 'ssh'],
    ['Latch 500 conns ≤ ssh -L time', latch(Metric.CONCURRENCY), ssh(Metric.CONCURRENCY), (a, b) => a <= b, Metric.CONCURRENCY, 'ssh'],
  ];
  const lines = checks.map(([label, a, b, ok, metric, other]) => {
    if (a === null || b === null) return `  ?  ${label}: not measured`;
    const reps = perRep(paths, metric, other);
    return `  ${ok(a, b) ? 'met ' : 'MISS'}  ${label}: ${(a / b).toFixed(2)}×${reps === '' ? '' : ` (each run: ${reps})`}`;
  });
  // Where the latency gap comes from: Node's own TLS relays against ssh, and Latch against them.
  const floor = medianOf(paths, 'node-tls', Metric.P50);
  const sshP50 = ssh(Metric.P50);
  const latchP50 = latch(Metric.P50);
  if (floor !== null && sshP50 !== null && latchP50 !== null) {
    lines.push(`  note  p50 of two plain Node TLS relays (node-tls, the floor of any Node TLS relay): ${(floor / sshP50).toFixed(2)}× ssh -L; Latch: ${(latchP50 / floor).toFixed(2)}× that floor`);
  }
  return lines.join('\n');
}

/**
 * Latch's ratio to `other` in each run separately (run i of both paths was measured in the same
 * interleaved round), so the spread behind a median is visible. Empty when counts differ.
 */
function perRep(paths: readonly PathSamples[], metric: Metric, other: string): string {
  const a = paths.find((p) => p.name === 'latch')?.samples[metric] ?? [];
  const b = paths.find((p) => p.name === other)?.samples[metric] ?? [];
  if (a.length < 2 || a.length !== b.length) return '';
  return a.map((v, i) => `${(v / (b[i] as number)).toFixed(2)}×`).join(', ');
}

export function formatMemory(paths: readonly PathSamples[]): string {
  const lines: string[] = [];
  for (const p of paths) {
    for (const m of p.memory) {
      const mib = (bytes: number | null): string => (bytes === null ? '—' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);
      const start = m.startRssBytes === undefined ? '' : `  (${mib(m.startRssBytes)} after start-up)`;
      lines.push(`  ${p.name.padEnd(7)} ${m.label.padEnd(24)} ${mib(m.peakRssBytes).padStart(10)}${start}`);
    }
  }
  return lines.join('\n');
}
