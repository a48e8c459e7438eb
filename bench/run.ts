// `npm run bench`: direct loopback TCP, `ssh -L`, two plain Node TLS relays (node-tls, the floor
// under any relay built on Node's TLS; bench/nodeTlsPath.ts) and Latch side by side in one run, on
// 127.0.0.1 only. For each path: 1 GiB bulk into a counting sink, 64-byte ping-pong latency
// (p50/p99 over 10,000 round trips after a warm-up), and 500 concurrent connections each echoing
// 64 KiB with every byte verified; the relay processes' CPU time per GiB of bulk and per round
// trip. Each measurement runs --reps times, interleaved across the paths so drift hits all of
// them alike; the table shows medians. Targets are reported, not asserted: a benchmark is not a
// test.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Children } from './Children.ts';
import { type BenchPath, type TargetPorts, directPath } from './BenchPath.ts';
import { startSshPath } from './sshPath.ts';
import { startNodeTlsPath } from './nodeTlsPath.ts';
import { startLatchPath } from './latchPath.ts';
import { measureBulk, measureConcurrency, measureLatency } from './loadgen.ts';
import { type PathSamples, Metric, emptySamples, formatMemory, formatTable, formatTargets } from './report.ts';
import { summarizeProfiles } from './profileSummary.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(HERE);
const PATH_NAMES = ['direct', 'ssh', 'node-tls', 'latch'] as const;
type PathName = (typeof PATH_NAMES)[number];

const USAGE = `usage: npm run bench -- [--reps N] [--bulk-mib N] [--round-trips N] [--connections N]
                            [--paths direct,ssh,latch] [--profile DIR] [--json FILE]
  --profile DIR  run the Latch client and proxy with --cpu-prof into DIR and print where the time went`;

interface Settings {
  reps: number;
  bulkBytes: number;
  roundTrips: number;
  warmup: number;
  connections: number;
  bytesPerConnection: number;
  paths: PathName[];
  profileDir: string | null;
  jsonFile: string | null;
  /** Past this, remaining measurements are skipped so the run stays under 6 minutes. */
  budgetMs: number;
}

function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      reps: { type: 'string', default: '3' },
      'bulk-mib': { type: 'string', default: '1024' },
      'round-trips': { type: 'string', default: '10000' },
      connections: { type: 'string', default: '500' },
      paths: { type: 'string', default: PATH_NAMES.join(',') },
      profile: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in ${min}..${max}`);
    return n;
  };
  const paths = values.paths.split(',').map((p) => p.trim());
  for (const p of paths) if (!(PATH_NAMES as readonly string[]).includes(p)) throw new UsageError(`unknown path ${p} (use ${PATH_NAMES.join(',')})`);
  return {
    reps: int('reps', values.reps, 1, 9),
    bulkBytes: int('bulk-mib', values['bulk-mib'], 1, 8192) * 1024 * 1024,
    roundTrips: int('round-trips', values['round-trips'], 100, 1_000_000),
    warmup: 1_000,
    connections: int('connections', values.connections, 1, 2_000),
    bytesPerConnection: 64 * 1024,
    paths: paths as PathName[],
    profileDir: values.profile ?? null,
    jsonFile: values.json ?? null,
    budgetMs: 320_000,
  };
}

class UsageError extends Error {}

async function startTargets(children: Children): Promise<TargetPorts> {
  const targets = children.spawn('targets', process.execPath, [join(HERE, 'targets.ts')]);
  const match = await targets.waitFor(/^(\{.*\})$/m, 10_000);
  const parsed = JSON.parse(match[1] ?? '') as TargetPorts;
  return { sink: parsed.sink, echo: parsed.echo };
}

type Measure = (path: BenchPath, timeoutMs: number) => Promise<Partial<Record<Metric, number>>>;

async function main(): Promise<number> {
  let settings: Settings;
  try {
    // `node scripts/run.mjs bench -- --reps 1` passes the separator through; npm eats it.
    const argv = process.argv.slice(2);
    settings = parseSettings(argv[0] === '--' ? argv.slice(1) : argv);
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 2;
  }
  const began = performance.now();
  const children = new Children();
  const work = mkdtempSync(join(tmpdir(), 'latch-bench-'));
  const stopOnSignal = (): void => {
    void children.stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  // Other work on the machine skews absolute figures (ratios less so: the paths are interleaved).
  const loadAtStart = loadavg()[0] ?? 0;
  console.log(`bench: ${revision()}, Node ${process.versions.node}, ${cpus().length} cores, load average ${loadAtStart.toFixed(2)} at start`);

  const results: PathSamples[] = [];
  const paths: BenchPath[] = [];
  let failures = 0;
  try {
    const targets = await startTargets(children);
    console.log(`bench: targets (own process) sink 127.0.0.1:${targets.sink}, echo 127.0.0.1:${targets.echo}`);
    for (const name of settings.paths) {
      try {
        const path =
          name === 'direct'
            ? directPath(targets)
            : name === 'ssh'
              ? await startSshPath(children, targets, join(work, 'ssh'))
              : name === 'node-tls'
                ? await startNodeTlsPath(children, targets, join(work, 'node-tls'))
                : await startLatchPath(children, targets, { root: ROOT, dir: join(work, 'latch'), profileDir: settings.profileDir });
        paths.push(path);
        results.push({ name: path.name, description: path.description, samples: emptySamples(), errors: [], memory: [] });
        console.log(`bench: ${path.description}`);
      } catch (err) {
        failures += 1;
        console.error(`bench: could not start the ${name} path: ${err instanceof Error ? err.message : String(err)}`);
      }
    }

    const measures: Array<[string, Measure]> = [
      [
        'bulk',
        async (p, timeoutMs) => {
          const cpuBefore = p.relayCpuSeconds();
          const r = await measureBulk(p.sink, settings.bulkBytes, { timeoutMs: Math.min(timeoutMs, 90_000) });
          const cpu = p.relayCpuSeconds() - cpuBefore;
          // The direct path has no relay: nothing to attribute.
          return p.name === 'direct' ? { [Metric.BULK]: r.mbPerSec } : { [Metric.BULK]: r.mbPerSec, [Metric.BULK_CPU]: cpu / (r.bytes / 2 ** 30) };
        },
      ],
      [
        'latency',
        async (p, timeoutMs) => {
          const cpuBefore = p.relayCpuSeconds();
          const r = await measureLatency(p.echo, { roundTrips: settings.roundTrips, warmup: settings.warmup, timeoutMs: Math.min(timeoutMs, 60_000) });
          // Per round trip, warm-up included (the CPU clock runs through it too). On a machine
          // whose idle CPUs sleep, p50 follows this figure: each hop's read, crypto and write.
          const cpuUs = ((p.relayCpuSeconds() - cpuBefore) * 1e6) / (settings.roundTrips + settings.warmup);
          return p.name === 'direct' ? { [Metric.P50]: r.p50Us, [Metric.P99]: r.p99Us } : { [Metric.P50]: r.p50Us, [Metric.P99]: r.p99Us, [Metric.RTT_CPU]: cpuUs };
        },
      ],
      [
        'concurrency',
        async (p, timeoutMs) => ({
          [Metric.CONCURRENCY]: (await measureConcurrency(p.echo, { connections: settings.connections, bytesPer: settings.bytesPerConnection, timeoutMs: Math.min(timeoutMs, 60_000) })).ms,
        }),
      ],
    ];

    for (const [label, measure] of measures) {
      for (let rep = 1; rep <= settings.reps; rep++) {
        for (const [i, path] of paths.entries()) {
          const record = results[i] as PathSamples;
          if (path.skips?.includes(label) === true) continue;
          const remaining = settings.budgetMs - (performance.now() - began);
          if (remaining < 5_000) {
            record.errors.push(`${label} #${rep}: skipped, time budget spent`);
            failures += 1;
            continue;
          }
          try {
            const values = await measure(path, remaining);
            for (const [metric, value] of Object.entries(values) as Array<[Metric, number]>) record.samples[metric].push(value);
            console.log(`bench: ${label.padEnd(11)} #${rep} ${path.name.padEnd(6)} ${describe(values)}`);
          } catch (err) {
            failures += 1;
            const message = err instanceof Error ? err.message : String(err);
            record.errors.push(`${label} #${rep}: ${message}`);
            console.error(`bench: ${label} #${rep} ${path.name} FAILED: ${message}`);
            const diagnostics = path.diagnostics();
            if (diagnostics !== '') console.error(diagnostics.replace(/^/gm, '    '));
          }
        }
      }
    }

    // Peak memory is read while the processes are still alive.
    for (const [i, path] of paths.entries()) (results[i] as PathSamples).memory = path.memory();
  } finally {
    for (const path of paths) await path.stop().catch(() => {});
    await children.stopAll();
    rmSync(work, { recursive: true, force: true });
  }

  const seconds = ((performance.now() - began) / 1000).toFixed(0);
  console.log('');
  for (const r of results) console.log(`  ${r.description}`);
  console.log('');
  console.log(formatTable(results, settings));
  console.log('');
  console.log('targets (issue 2; reported, not asserted):');
  console.log(formatTargets(results));
  const memory = formatMemory(results);
  if (memory !== '') {
    console.log('');
    console.log('peak RSS (VmHWM at the end of the run):');
    console.log(memory);
  }
  for (const r of results) for (const e of r.errors) console.log(`  error ${r.name}: ${e}`);
  if (settings.profileDir !== null) {
    console.log('');
    console.log(summarizeProfiles(settings.profileDir));
  }
  const loadAtEnd = loadavg()[0] ?? 0;
  console.log(`\nbench: finished in ${seconds} s; load average ${loadAtStart.toFixed(2)} at start, ${loadAtEnd.toFixed(2)} at end`);
  if (Math.max(loadAtStart, loadAtEnd) > cpus().length + 1) console.log('bench: the machine was busy with other work: absolute figures are low, compare the ratios');
  if (settings.jsonFile !== null) writeFileSync(settings.jsonFile, `${JSON.stringify({ settings, results }, null, 2)}\n`);
  return failures === 0 ? 0 : 1;
}

/** Which code was measured: the commit, and whether the working tree differed from it. */
function revision(): string {
  try {
    return `latch ${execFileSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8', timeout: 5_000 }).trim()}`;
  } catch {
    return 'latch (no git revision)';
  }
}

function describe(values: Partial<Record<Metric, number>>): string {
  const parts: string[] = [];
  if (values.bulk !== undefined) parts.push(`${values.bulk.toFixed(0)} MB/s`);
  if (values.bulkCpu !== undefined) parts.push(`relay CPU ${values.bulkCpu.toFixed(2)} s/GiB`);
  if (values.p50 !== undefined) parts.push(`p50 ${values.p50.toFixed(0)} µs`);
  if (values.p99 !== undefined) parts.push(`p99 ${values.p99.toFixed(0)} µs`);
  if (values.rttCpu !== undefined) parts.push(`relay CPU ${values.rttCpu.toFixed(0)} µs/round trip`);
  if (values.concurrency !== undefined) parts.push(`${values.concurrency.toFixed(0)} ms`);
  return parts.join(', ');
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
