import { parseArgs } from 'node:util';
import { ProxyClient } from '../../core/ProxyClient.ts';
import type { CliContext } from '../CliContext.ts';
import { line } from '../CliContext.ts';
import { ExitCode } from '../exitCodes.ts';

export const LOGOUT_USAGE = 'latch logout';

/**
 * `latch logout`: ends the session at the proxy, then wipes every keychain item of the session,
 * whether or not the proxy could be told.
 */
export async function logout(argv: string[], ctx: CliContext): Promise<number> {
  parseArgs({ args: argv, allowPositionals: false, strict: true, options: {} });
  const client = await ProxyClient.fromProfile({ store: ctx.store, profiles: ctx.profiles, now: ctx.now }).catch(() => null);
  const result = client === null ? null : await client.logout();
  if (result === null) {
    line(ctx.stdout, 'Not signed in; nothing to do.');
    return ExitCode.OK;
  }
  const items = `${result.wiped} keychain item${result.wiped === 1 ? '' : 's'}`;
  if (result.proxyError === undefined) {
    line(ctx.stdout, `Signed out: session ${result.sessionId} ended at the proxy; ${items} wiped from this machine.`);
  } else {
    line(ctx.stdout, `Signed out locally: ${items} of session ${result.sessionId} wiped from this machine.`);
    line(
      ctx.stderr,
      `latch: warning: the proxy was not told (${result.proxyError.code}: ${result.proxyError.message}); ` +
        'without the wiped key the session cannot be used, and the proxy ends it at its deadline.',
    );
  }
  return ExitCode.OK;
}
