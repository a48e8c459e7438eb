import { parseArgs } from 'node:util';
import { ErrorCode, LatchError } from '../../../common/errors.ts';
import { describeEnd, endsSession } from '../../core/describeEnd.ts';
import { isSessionGone, ProxyClient } from '../../core/ProxyClient.ts';
import { TunnelClient } from '../../core/TunnelClient.ts';
import type { TunnelEnd } from '../../core/TunnelClient.ts';
import type { CliContext } from '../CliContext.ts';
import { line } from '../CliContext.ts';
import { ExitCode, exitCodeForReason } from '../exitCodes.ts';
import { parseResourceSpecs } from '../parseResourceSpecs.ts';

export const CONNECT_USAGE = 'latch connect RESOURCE[:PORT]... [--port N] [--json]';

/**
 * `latch connect`: one 127.0.0.1 listener per resource, every accepted connection carried as a
 * stream over the session's tunnel. Runs until SIGINT/SIGTERM (exit 0) or until the proxy ends
 * the session (the reason in plain words, an exit code per reason, credentials wiped).
 */
export async function connect(argv: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { port: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const specs = parseResourceSpecs(positionals, values.port);
  const json = values.json;
  const client = await ProxyClient.fromProfile({ store: ctx.store, profiles: ctx.profiles, now: ctx.now });
  const { profile, secrets } = await client.signedIn();

  // Unknown ids are refused before anything listens; this also tells us the session is alive.
  let available;
  try {
    available = await client.resources();
  } catch (err) {
    if (isSessionGone(err)) await client.forget(profile);
    throw err;
  }
  const known = new Set(available.map((r) => r.id));
  for (const { resourceId } of specs) {
    if (!known.has(resourceId)) {
      const list = available.length === 0 ? 'none' : available.map((r) => r.id).join(', ');
      throw new LatchError(ErrorCode.UNKNOWN_RESOURCE, `unknown resource "${resourceId}" (available: ${list})`);
    }
  }

  let tunnel: TunnelClient;
  try {
    tunnel = await TunnelClient.connect({ proxyUrl: profile.proxyUrl, caPem: profile.caPem, secrets });
  } catch (err) {
    if (isSessionGone(err)) await client.forget(profile);
    throw err;
  }
  const ended = new Promise<TunnelEnd>((resolve) => tunnel.once('end', resolve));
  tunnel.on('connectionError', (resourceId, err) => {
    if (json) line(ctx.stdout, JSON.stringify({ event: 'connection.error', resource: resourceId, code: err.code, message: err.message }));
    else line(ctx.stderr, `${resourceId}: a connection failed: ${err.code}: ${err.message}`);
  });
  try {
    for (const spec of specs) {
      const info = await tunnel.listen(spec.resourceId, spec.port);
      line(
        ctx.stdout,
        json
          ? JSON.stringify({ event: 'listening', resource: info.resourceId, host: info.host, port: info.port })
          : `${info.resourceId}  ${info.host}:${info.port}`,
      );
    }
  } catch (err) {
    await tunnel.close();
    throw err;
  }
  if (!json) line(ctx.stderr, 'Tunnels are up. Press Ctrl-C to close them.');

  const outcome = await Promise.race([ended.then((end) => ({ end })), ctx.interrupted.then((signal) => ({ signal }))]);
  if ('signal' in outcome) {
    await tunnel.close();
    if (json) line(ctx.stdout, JSON.stringify({ event: 'closed', reason: 'interrupted', signal: outcome.signal }));
    else line(ctx.stderr, 'Tunnels closed.');
    return ExitCode.OK;
  }
  return finish(outcome.end, client, profile, ctx, json);
}

async function finish(
  end: TunnelEnd,
  client: ProxyClient,
  profile: Awaited<ReturnType<ProxyClient['signedIn']>>['profile'],
  ctx: CliContext,
  json: boolean,
): Promise<number> {
  let wiped: number | undefined;
  let wipeError: LatchError | undefined;
  const sessionOver = end.reason !== undefined ? endsSession(end.reason) : isSessionGone(end.error);
  if (sessionOver) {
    try {
      wiped = await client.forget(profile);
    } catch (err) {
      wipeError = err instanceof LatchError ? err : new LatchError(ErrorCode.KEYCHAIN_UNAVAILABLE, String(err));
    }
  }
  const message = end.reason !== undefined ? describeEnd(end.reason, '') : end.message;
  if (json) {
    line(
      ctx.stdout,
      JSON.stringify({
        event: 'ended',
        reason: end.reason ?? null,
        code: end.error?.code ?? null,
        closeCode: end.closeCode,
        message: end.message,
        wiped: wiped ?? null,
      }),
    );
  } else {
    line(ctx.stderr, end.reason !== undefined ? end.message : `latch: ${end.error?.code ?? ErrorCode.CONNECTION_CLOSED}: ${message}`);
    if (wiped !== undefined) line(ctx.stderr, `Credentials of the session wiped from this machine (${wiped} keychain items).`);
  }
  if (wipeError !== undefined) line(ctx.stderr, `latch: ${wipeError.code}: could not wipe the session's credentials: ${wipeError.message}`);
  if (end.reason !== undefined) return exitCodeForReason(end.reason);
  return end.local ? ExitCode.OK : ExitCode.TUNNEL_LOST;
}
