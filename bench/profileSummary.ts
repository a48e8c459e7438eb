// Reads the .cpuprofile files that `--cpu-prof` wrote and says where the time went: per profile,
// the busy share, the functions with the most self time and the files (our modules, ws, Node's
// internals) they live in. Also runs on its own: `node bench/profileSummary.ts DIR`.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

const OWN = /\/(tunnel|proxy|main|common)\/[^/]+/;
const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

function shortUrl(url: string): string {
  if (url === '') return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  for (const layer of ['/tunnel/', '/proxy/', '/main/', '/common/', '/bench/']) {
    const at = url.lastIndexOf(layer);
    if (at >= 0) return url.slice(at + 1);
  }
  return url.replace(/^file:\/\//, '');
}

function top(map: Map<string, number>, n: number): Array<[string, number]> {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

export function summarizeProfile(profile: CpuProfile, topN = 15): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Total (inclusive) time of the project's own functions: what each costs with its callees.
  const totalByOwnFunction = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const selfByFunction = new Map<string, number>();
  const selfByFile = new Map<string, number>();
  let idle = 0;
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    // A sample's duration is the gap to the next sample (the last one gets the mean).
    const us = deltas[i + 1] ?? (profile.endTime - profile.startTime) / Math.max(1, samples.length);
    const node = byId.get(samples[i] as number);
    if (node === undefined) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const file = SPECIAL.has(functionName) ? functionName : shortUrl(url) || '(native)';
    const key = SPECIAL.has(functionName) ? functionName : `${functionName || '(anonymous)'}  ${file}:${lineNumber + 1}`;
    selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + us);
    selfByFile.set(file, (selfByFile.get(file) ?? 0) + us);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id, depth = 0; id !== undefined && depth < 500; id = parent.get(id), depth++) {
      const frame = byId.get(id)?.callFrame;
      if (frame === undefined || frame.url.includes('/node_modules/') || !OWN.test(frame.url)) continue;
      const own = `${frame.functionName || '(anonymous)'}  ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
      if (seen.has(own)) continue;
      seen.add(own);
      totalByOwnFunction.set(own, (totalByOwnFunction.get(own) ?? 0) + us);
    }
  }
  const busy = total - idle;
  const pct = (us: number): string => `${((100 * us) / Math.max(1, busy)).toFixed(1).padStart(5)}%`;
  const lines = [`  busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s sampled (${((100 * busy) / Math.max(1, total)).toFixed(0)}% of one core)`];
  lines.push('  self time by function (share of busy time):');
  for (const [key, us] of top(selfByFunction, topN)) lines.push(`    ${pct(us)}  ${key}`);
  lines.push('  self time by file:');
  for (const [key, us] of top(selfByFile, 8)) lines.push(`    ${pct(us)}  ${key}`);
  lines.push('  total time (with callees) of Latch functions:');
  for (const [key, us] of top(totalByOwnFunction, topN)) lines.push(`    ${pct(us)}  ${key}`);
  return lines.join('\n');
}

export function summarizeProfiles(dir: string): string {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  } catch {
    return `no CPU profiles in ${dir}`;
  }
  if (files.length === 0) return `no CPU profiles in ${dir} (a process killed by a signal writes none)`;
  const parts = [`CPU profiles in ${dir}:`];
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    parts.push(`${basename(file)}:`, summarizeProfile(profile));
  }
  return parts.join('\n');
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const dir = process.argv[2];
  if (dir === undefined) {
    console.error('usage: node bench/profileSummary.ts DIR');
    process.exit(2);
  }
  console.log(summarizeProfiles(dir));
}
