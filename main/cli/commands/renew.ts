import { parseArgs } from 'node:util';
import { formatDuration } from '../../../common/durations.ts';
import { isSessionGone, ProxyClient } from '../../core/ProxyClient.ts';
import type { CliContext } from '../CliContext.ts';
import { line } from '../CliContext.ts';
import { ExitCode } from '../exitCodes.ts';

export const RENEW_USAGE = 'latch renew [--json]';

/**
 * `latch renew`: resets the session's idle deadline at the proxy (POST /v1/renew), from any
 * terminal; a running `latch connect` gets the moved deadline over its tunnel. Past the policy's
 * maxRenewals it fails with LATCH_ERR_RENEWAL_LIMIT. It never moves the absolute deadline
 * (`latch login` does, in place).
 */
export async function renew(argv: string[], ctx: CliContext): Promise<number> {
  const { values } = parseArgs({ args: argv, allowPositionals: false, strict: true, options: { json: { type: 'boolean', default: false } } });
  const client = await ProxyClient.fromProfile({ store: ctx.store, profiles: ctx.profiles, now: ctx.now });
  const { profile, secrets } = await client.signedIn();
  let state;
  try {
    state = await client.renew(secrets);
  } catch (err) {
    // The proxy says the session is over: fail closed here too.
    if (isSessionGone(err)) await client.forget(profile).catch(() => 0);
    throw err;
  }
  await client.confirmPendingWipes();
  if (values.json) {
    line(ctx.stdout, JSON.stringify({ event: 'renewed', sessionId: state.sessionId, idleRemainingMs: state.idleRemainingMs, absoluteRemainingMs: state.absoluteRemainingMs, renewalsLeft: state.renewalsLeft }));
    return ExitCode.OK;
  }
  line(
    ctx.stdout,
    `Renewed: idle deadline in ${formatDuration(state.idleRemainingMs)}, session ends in ${formatDuration(state.absoluteRemainingMs)}; ${state.renewalsLeft} renewal${state.renewalsLeft === 1 ? '' : 's'} left.`,
  );
  return ExitCode.OK;
}
