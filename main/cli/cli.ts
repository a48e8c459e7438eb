/**
 * `latch`, the terminal client: a host of main/core. `bin/latch.js` calls run().
 *
 *   latch login (LINK | --proxy URL --ca-fingerprint FP (--code CODE | --user NAME)) [--json]
 *   latch connect RESOURCE[:PORT]... [--port N] [--idle KIND] [--json]
 *   latch renew [--json]
 *   latch status [--json]
 *   latch logout
 *
 * Errors go to stderr as `latch: <CODE>: <message>`; exit codes are in exitCodes.ts.
 */
import { ErrorCode, isLatchError, LatchError } from '../../common/errors.ts';
import { KeyringCredentialStore } from '../core/KeyringCredentialStore.ts';
import { configDir, ProfileStore } from '../core/Profile.ts';
import type { CliContext } from './CliContext.ts';
import { connect, CONNECT_USAGE } from './commands/connect.ts';
import { login, LOGIN_USAGE } from './commands/login.ts';
import { logout, LOGOUT_USAGE } from './commands/logout.ts';
import { renew, RENEW_USAGE } from './commands/renew.ts';
import { status, STATUS_USAGE } from './commands/status.ts';
import { ExitCode } from './exitCodes.ts';

interface Command {
  run: (argv: string[], ctx: CliContext) => Promise<number>;
  usage: string;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  login: { run: login, usage: LOGIN_USAGE },
  connect: { run: connect, usage: CONNECT_USAGE },
  renew: { run: renew, usage: RENEW_USAGE },
  status: { run: status, usage: STATUS_USAGE },
  logout: { run: logout, usage: LOGOUT_USAGE },
};

export const USAGE = `usage:
  ${LOGIN_USAGE}
  ${CONNECT_USAGE}
  ${RENEW_USAGE}
  ${STATUS_USAGE}
  ${LOGOUT_USAGE}

  login while signed in (same user, same proxy) re-authenticates in place: same session,
  fresh maximum duration, tunnels of a running connect stay up.
  connect reports OS idle time (--idle auto|x11|mutter|macos|windows|none; none counts only
  renewals), shows a countdown, warns before the session ends (terminal and desktop
  notification with Renew); press r or run \`latch renew\` from another terminal to renew.
  The password for --user is the first line of stdin (not echoed on a terminal).
  Secrets live only in the OS keychain (service "latch", or $LATCH_KEYCHAIN_SERVICE);
  the profile is in $LATCH_CONFIG_DIR, $XDG_CONFIG_HOME/latch or ~/.config/latch.

exit codes:
  0 ok (connect: closed with Ctrl-C, the session stays signed in)   1 error   2 usage
  connect, when the session ends:
    10 idle timeout   11 maximum duration   12 revoked by an administrator
    13 logged out     14 replaced (session.ended replaced, or a newer connect of this
                         session took over: nothing wiped then)
    15 ended by a proxy error
    16 tunnel lost and not recoverable (the proxy no longer matches the pinned CA)`;

/** Runs one command and resolves with its exit code; never throws. */
export async function main(argv: string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? ctx.stderr : ctx.stdout).write(`${USAGE}\n`);
    return name === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    ctx.stderr.write(`latch: ${ErrorCode.USAGE}: unknown command "${name}"\n${USAGE}\n`);
    return ExitCode.USAGE;
  }
  try {
    return await command.run(rest, ctx);
  } catch (err) {
    const e = toLatchError(err);
    ctx.stderr.write(`latch: ${e.code}: ${e.message}\n`);
    if (e.code === ErrorCode.USAGE) {
      ctx.stderr.write(`usage: ${command.usage}   (latch help for more)\n`);
      return ExitCode.USAGE;
    }
    return ExitCode.ERROR;
  }
}

function toLatchError(err: unknown): LatchError {
  if (isLatchError(err)) return err;
  // node:util parseArgs reports bad flags with these codes.
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
    return new LatchError(ErrorCode.USAGE, err instanceof Error ? err.message : String(err));
  }
  return new LatchError(ErrorCode.INTERNAL, err instanceof Error ? (err.stack ?? err.message) : String(err));
}

/** `latch` unless LATCH_KEYCHAIN_SERVICE names another service (two independent profiles, tests). */
function keychainService(env: NodeJS.ProcessEnv): string {
  const name = env['LATCH_KEYCHAIN_SERVICE'];
  return name === undefined || name === '' ? 'latch' : name;
}

/** The process host: real stdio, the OS keychain, the profile directory, signals. */
export async function run(argv: string[] = process.argv.slice(2)): Promise<never> {
  const interrupted = new Promise<string>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => resolve(signal);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  const ctx: CliContext = {
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    store: new KeyringCredentialStore({ env: process.env, service: keychainService(process.env) }),
    profiles: new ProfileStore(configDir(process.env)),
    now: Date.now,
    interrupted,
  };
  const code = await main(argv, ctx);
  // Let stdout drain (pipes to a test harness) before leaving.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}
