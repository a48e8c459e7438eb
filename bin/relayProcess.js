// V8 heap settings for the two long-running processes that relay tunnel traffic: `latch connect`
// and `latch-proxy serve`. V8 starts with a small old generation and runs a full mark-compact
// each time it grows; a relay allocates a steady stream of short-lived buffers (socket reads, TLS
// records, frames), so with the default start it spends a large share of its CPU collecting.
// Starting with a 96 MiB old generation measured, for the client and the proxy together
// (`npm run bench` paths side by side, 2-core machine): CPU per GiB relayed 4.4 → 3.5 s, 500
// concurrent 64 KiB echoes 580 → 370 ms of CPU, for ~+30 MiB peak RSS per process.
//
// Heap sizes can only be given when V8 starts, so the process restarts itself once, in place:
// process.execve keeps the PID, the open stdio and the environment, so whoever started it
// (a shell, systemd, a test) still holds the right process. Where execve is missing (Windows,
// Node < 22.15) or LATCH_GC_TUNING=0 is set, the process just runs with V8's defaults.

/** V8 flags a relay process starts with. */
export const RELAY_V8_FLAGS = ['--initial-heap-size=96'];

/** Set in the restarted process, so it never restarts twice. */
const MARK = 'LATCH_RELAY_PROCESS';

/**
 * Restarts the current process with RELAY_V8_FLAGS when `command` is a relay command; returns
 * (doing nothing) otherwise, and when the restart is not possible or not wanted.
 * @param {string} script absolute path of the bin script being run
 * @param {readonly string[]} relayCommands commands that relay traffic (argv[0] of the CLI)
 */
export function restartAsRelay(script, relayCommands) {
  const command = process.argv[2];
  if (command === undefined || !relayCommands.includes(command)) return;
  if (process.env[MARK] === '1' || process.env.LATCH_GC_TUNING === '0') return;
  if (typeof process.execve !== 'function') return;
  if (process.execArgv.some((arg) => arg.startsWith('--initial-heap-size'))) return;
  const args = [process.execPath, ...RELAY_V8_FLAGS, ...process.execArgv, script, ...process.argv.slice(2)];
  try {
    process.execve(process.execPath, args, { ...process.env, [MARK]: '1' });
  } catch {
    // execve failed before replacing anything (e.g. refused by a sandbox): run with V8's defaults.
  }
}
