/**
 * Garbage-collector setting for processes that relay tunnel traffic.
 *
 * Every 64 KiB frame a relay moves allocates short-lived ArrayBuffers it cannot avoid: the
 * socket read, the TLS records, the WebSocket message ws reassembles. V8 by default starts a
 * full mark-compact each time such external memory has grown by 64 MiB since the last one, so
 * 1 GiB through the client and the proxy cost about 33 full collections in each process (counted
 * with PerformanceObserver 'gc' on the build machine), although every one of those buffers dies
 * young. Counting external memory in V8's global heap limit instead lets the cheap
 * young-generation scavenges free them: full collections per GiB went from 33 to 6-8, relay CPU
 * per GiB down by about 15 %, at the price of a higher peak RSS during bulk transfer (about
 * +50 MiB per process, measured).
 */
import v8 from 'node:v8';

const FLAG = '--external-memory-accounted-in-global-limit';

/** V8 versions known to have the flag (an unknown flag makes V8 print an error line). */
function v8HasFlag(version: string): boolean {
  const major = Number(version.split('.')[0]);
  return major === 13;
}

let applied: boolean | undefined;

/**
 * Applies the setting once per process; returns whether it was applied. LATCH_GC_TUNING=0 in the
 * environment leaves V8's default (lower peak memory, more CPU per byte relayed).
 */
export function tuneGcForRelay(): boolean {
  if (applied !== undefined) return applied;
  applied = process.env['LATCH_GC_TUNING'] !== '0' && v8HasFlag(process.versions.v8);
  if (applied) v8.setFlagsFromString(FLAG);
  return applied;
}
